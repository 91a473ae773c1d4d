'use strict';
// The package's two entry points, loaded as a user's code loads them, in a
// Node process of their own: require('sidecar-exec') and
// import { ... } from 'sidecar-exec' give the same objects. (That the export
// lists of the entries and of the types agree is test/unit/package.test.js.)

const childProcess = require('node:child_process');
const path = require('node:path');
const { expect } = require('chai');

const ROOT = path.join(__dirname, '..', '..');
const EXPECTED = ['PROTOCOL_VERSION', 'RemoteChildProcess', 'SidecarError', 'SidecarServer', 'createServer', 'isSidecarError',
  'remoteSpawn', 'stopServer'];

describe('package entry points', function () {
  it('require(\'sidecar-exec\') (self-reference through "exports") has the public API', function () {
    const viaName = childProcess.execFileSync(process.execPath, ['-e',
      'const m = require("sidecar-exec"); console.log(JSON.stringify(Object.keys(m).sort()), m === require("./dist/index.js"))'],
    { cwd: ROOT, encoding: 'utf8' });
    const [keys, same] = viaName.trim().split(' ');
    expect(JSON.parse(keys)).to.include.members(EXPECTED);
    expect(same).to.equal('true');
    expect(require('../..').PROTOCOL_VERSION).to.equal(1);
  });

  it('import { ... } from \'sidecar-exec\' gives the same objects as require', function () {
    const script = [
      'import * as esm from "sidecar-exec";',
      'import { remoteSpawn, createServer, PROTOCOL_VERSION } from "sidecar-exec";',
      'import { createRequire } from "node:module";',
      'const cjs = createRequire(import.meta.url)("sidecar-exec");',
      'const names = Object.keys(cjs).filter((k) => k !== "__esModule");',
      'const same = names.every((k) => esm[k] === cjs[k]) && remoteSpawn === cjs.remoteSpawn && createServer === cjs.createServer;',
      'console.log(JSON.stringify({ names: Object.keys(esm).sort(), same, version: PROTOCOL_VERSION }));',
    ].join('\n');
    const out = childProcess.execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const result = JSON.parse(out);
    expect(result.names).to.include.members(EXPECTED);
    expect(result.same).to.equal(true);
    expect(result.version).to.equal(1);
    // Every name of the CommonJS entry, and the default export (the CommonJS exports object).
    expect(result.names).to.deep.equal([...Object.keys(require('../..')), 'default'].sort());
  });
});
