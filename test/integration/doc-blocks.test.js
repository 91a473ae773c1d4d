'use strict';
// The documents' code: every ```js block of README.md and docs/api.md runs
// as written on this Node (the declared minimum, 20, in CI), against a real
// server at the socket path the documents use (/var/shared/sidecar.sock),
// which exists in a mount namespace of the test's own (namespace.js), so
// that nothing is written outside it.
//
// The convention, kept out of the rendered text: an HTML comment on the
// line before a block says how it runs.
//   <!-- runs: server -->  the block is a server: started first and left
//                          running while the document's other blocks run.
//   (nothing)              the block runs to its end, with the document's
//                          server block listening (or, for a document
//                          without one, a server the test starts), and
//                          must exit 0 with nothing on stderr.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { runCommand, tempDir, canUnshare, namespaceWithDirs, fixture } = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const SOCKET = '/var/shared/sidecar.sock';
const DOCUMENTS = ['README.md', path.join('docs', 'api.md')];

/** The ```js blocks of a Markdown text: { line, code, server }. */
function jsBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```js') continue;
    const end = lines.indexOf('```', i + 1);
    if (end === -1) throw new Error(`an unclosed block at line ${i + 1}`);
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const marker = /^<!-- runs: (\w+) -->$/.exec(before >= 0 ? lines[before].trim() : '');
    if (marker && marker[1] !== 'server') throw new Error(`line ${before + 1}: unknown marker "${marker[1]}"`);
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), server: marker !== null });
    i = end;
  }
  return blocks;
}

describe('the documents\' js code blocks run as written', function () {
  this.timeout(90000);

  before(function () {
    if (!canUnshare()) this.skip(); // needs root: the socket's directory is made in a mount namespace
  });

  it('finds the blocks, and the convention\'s markers', function () {
    const readme = jsBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(readme.filter((block) => block.server)).to.have.lengthOf(1);
    expect(readme.length).to.be.at.least(2);
    expect(jsBlocks('<!-- runs: server -->\n```js\nserve();\n```\n\n```js\nuse();\n```\n')).to.deep.equal([
      { line: 2, code: 'serve();', server: true }, { line: 6, code: 'use();', server: false },
    ]);
  });

  for (const document of DOCUMENTS) {
    it(`${document}: each block exits 0 with nothing on stderr`, async function () {
      const blocks = jsBlocks(fs.readFileSync(path.join(ROOT, document), 'utf8'));
      expect(blocks.length, 'no js block found').to.be.greaterThan(0);
      const dir = tempDir('doc-blocks-');
      try {
        // `require('sidecar-exec')` and `import ... from 'sidecar-exec'` find this package.
        fs.mkdirSync(path.join(dir, 'node_modules'));
        fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'sidecar-exec'));
        const planned = blocks.map((block) => {
          const file = path.join(dir, `block-${block.line}.js`);
          fs.writeFileSync(file, `${block.code}\n`);
          return { name: `${document}:${block.line}`, file, server: block.server };
        });
        const planFile = path.join(dir, 'plan.json');
        fs.writeFileSync(planFile, JSON.stringify({ socket: SOCKET, dir, blocks: planned }));
        const scratch = path.join(dir, 'scratch');
        fs.mkdirSync(scratch);
        const prefix = namespaceWithDirs([path.dirname(SOCKET)], scratch);
        const result = await runCommand(prefix[0], [...prefix.slice(1), process.execPath, fixture('doc-blocks.js'), planFile]);
        expect(result.code, result.stderr).to.equal(0);
        const outcomes = JSON.parse(result.stdout.trim().split('\n').pop());
        for (const outcome of outcomes) {
          if (outcome.server) {
            expect(outcome.answered, `${outcome.name}: the server block did not answer: ${outcome.stderr}`).to.equal(true);
            continue;
          }
          expect({ name: outcome.name, code: outcome.code, signal: outcome.signal, stderr: outcome.stderr })
            .to.deep.equal({ name: outcome.name, code: 0, signal: null, stderr: '' });
        }
        expect(outcomes.filter((outcome) => !outcome.server)).to.have.lengthOf(blocks.filter((block) => !block.server).length);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
