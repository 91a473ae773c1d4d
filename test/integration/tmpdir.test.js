'use strict';
// The $TMPDIR check of test/helpers/setup.js and the run directory of
// test/helpers/tmp.js, on a mocha run of their own whose TMPDIR is a fresh
// directory: a run leaves nothing there, even what a test kept; a run whose
// test makes an entry in os.tmpdir() fails and names it (and still leaves
// nothing).

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { tempDir, runCommand } = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const MOCHA = require.resolve('mocha/bin/mocha.js');
const SPEC = path.join('test', 'fixtures', 'tmpdir-spec.js');

describe('temporary files of a test run', function () {
  this.timeout(30000);
  let tmp;

  beforeEach(function () {
    tmp = tempDir('sidecar-test-tmpdir-');
  });

  afterEach(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** mocha with the package's .mocharc.json on the fixture spec, TMPDIR=tmp. */
  const mocha = (env = {}) => runCommand(process.execPath, [MOCHA, SPEC], { cwd: ROOT, env: { TMPDIR: tmp, ...env } });

  it('the run directory goes at the end of the run, with what tests left in it', async function () {
    const result = await mocha();
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(result.stdout).to.include('1 passing');
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
  });

  it('an entry made straight in $TMPDIR fails the run, named, and goes too', async function () {
    const result = await mocha({ SIDECAR_TEST_LEAK: '1' });
    expect(result.code, result.stdout + result.stderr).to.not.equal(0);
    expect(result.stdout + result.stderr).to.match(/the test run left 1 entry in \$TMPDIR: sidecar-test-leak-\w+ /);
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
  });
});
