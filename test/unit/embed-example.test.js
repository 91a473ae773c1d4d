'use strict';
// examples/embed-server read and driven without a socket: it uses only
// node:* modules, its own files and the package by name (as a user's service
// would); its scrape escapes what the format says and shows a stats() field
// it does not know yet; its log lines cannot be forged by a client's words.
// The service as a real process: test/integration/embed-server.test.js.

const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');
const { expect } = require('chai');

const DIR = path.join(__dirname, '..', '..', 'examples', 'embed-server');
const { EXIT_REASONS, ExitCounts, renderMetrics } = require(path.join(DIR, 'metrics.js'));
const { logValue } = require(path.join(DIR, 'log.js'));

/** A stand-in with the three things renderMetrics reads: stats(), listening and 'exit' events. */
function fakeServer(stats) {
  return Object.assign(new EventEmitter(), { listening: true, stats: () => stats });
}

describe('examples/embed-server (files)', function () {
  it('requires only node:* modules, its own files and \'sidecar-exec\'', function () {
    const files = fs.readdirSync(DIR).filter((file) => file.endsWith('.js'));
    expect(files).to.include.members(['server.js', 'demo.js', 'metrics.js', 'log.js', 'config.js']);
    const own = new Set(files.map((file) => `./${file.slice(0, -'.js'.length)}`));
    const offending = [];
    for (const file of files) {
      const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(DIR, file), 'utf8'), true, true);
      for (const { fileName } of importedFiles) {
        if (!fileName.startsWith('node:') && fileName !== 'sidecar-exec' && !own.has(fileName)) offending.push(`${file}: ${fileName}`);
      }
    }
    expect(offending).to.deep.equal([]);
  });

  it('renders every stats() field, an unknown one untyped, and counts exits by reason, escaping label values', function () {
    const server = fakeServer({ connections: 2, spawned: 7, someNewField: 5, note: 'not a number' });
    const exits = new ExitCounts(server);
    server.emit('exit', { reason: 'exit' });
    server.emit('exit', { reason: 'exit' });
    server.emit('exit', { reason: 'a "new"\\reason\n' });
    const text = renderMetrics(server, exits);
    expect(text.endsWith('\n')).to.equal(true);
    expect(text).to.include('# TYPE sidecar_connections gauge\nsidecar_connections 2\n');
    expect(text).to.include('# TYPE sidecar_programs_spawned_total counter\nsidecar_programs_spawned_total 7\n');
    expect(text).to.include('# TYPE sidecar_some_new_field untyped\nsidecar_some_new_field 5\n');
    expect(text).to.not.include('not a number');
    expect(text).to.include('sidecar_program_exits_total{reason="exit"} 2\n');
    expect(text).to.include('sidecar_program_exits_total{reason="maxRuntime"} 0\n');
    expect(text).to.include('sidecar_program_exits_total{reason="a \\"new\\"\\\\reason\\n"} 1\n');
    expect(text).to.include('sidecar_listening 1\n');
  });

  it('starts a series for every exit reason of the public types, so that none appears only at its first increment', function () {
    const declared = /export type ExitReason = ([^;]+);/.exec(fs.readFileSync(path.join(__dirname, '..', '..', 'types', 'server.d.ts'), 'utf8'));
    const reasons = declared[1].split('|').map((part) => JSON.parse(part.trim().replace(/'/g, '"')));
    expect([...EXIT_REASONS].sort()).to.deep.equal(reasons.sort());
  });

  it('quotes a log value that has spaces, quotes, equals signs or control characters, and cuts a long one', function () {
    expect(logValue('make')).to.equal('make');
    expect(logValue('a b')).to.equal('"a b"');
    expect(logValue('x=1')).to.equal('"x=1"');
    expect(logValue('')).to.equal('""');
    expect(logValue('evil\nevent=exit')).to.equal('"evil\\nevent=exit"');
    expect(logValue('\u001b[31mred\u007f')).to.equal('"\\u001b[31mred\\u007f"');
    expect(logValue('y'.repeat(500))).to.equal(`${'y'.repeat(200)}...`);
  });
});
