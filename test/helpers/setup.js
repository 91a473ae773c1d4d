'use strict';
// Loaded by mocha before any spec (.mocharc.json "require").
//
// A process warning (MaxListenersExceededWarning, a deprecation, an
// unhandled-rejection warning, ...) is a defect: rethrow it so that it becomes
// an uncaught exception, which mocha attributes to the test that is running
// (or reports as a failure outside any test).

const fs = require('node:fs');
const { runTmpdir, removeRunRoot } = require('./tmp');

process.on('warning', (warning) => {
  const error = new Error(`process warning: ${warning.name}: ${warning.message}`);
  error.stack = `${error.message}\n${warning.stack || ''}`;
  throw error;
});

// A run leaves nothing in $TMPDIR. For the run, $TMPDIR is a directory of
// its own (tmp.js), set here before any spec file is loaded, and so for
// every process the tests start too: what the run makes with os.tmpdir(),
// mktemp and the like lands there, and nothing else does (another run at the
// same time, from another checkout, has its own). Its entries are recorded
// now; after the last test, any new one fails the run, named. Then the run
// directory, with that $TMPDIR and every tempDir(), is removed.
const TMP = runTmpdir();
process.env.TMPDIR = TMP;
const before = new Set(fs.readdirSync(TMP));

exports.mochaHooks = {
  afterAll() {
    const left = fs.readdirSync(TMP).filter((name) => !before.has(name));
    removeRunRoot();
    if (left.length > 0) {
      throw new Error(`the test run left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in $TMPDIR: ${left.join(', ')}`
        + ' (make temporary files with tempDir() from test/helpers, or remove them)');
    }
  },
};
