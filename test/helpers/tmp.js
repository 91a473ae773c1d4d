'use strict';
// Temporary files of a test run.
//
// Everything lives in one run directory, <$TMPDIR>/sidecar-test-run-<pid>-XXXXXX,
// created on first use and removed when the run ends (setup.js's root hook,
// and process 'exit' for a run cut short), so that a test that forgets to
// clean up, or fails before it could, still leaves nothing in $TMPDIR. Tests
// remove their own directories as they go all the same: a run is long and
// /tmp may be small.
//
//   tempDir(prefix)  a fresh directory in the run directory;
//   runTmpdir()      <run directory>/tmp, which setup.js makes this run's
//                    $TMPDIR (this process and every process it starts), so
//                    that whatever is made with os.tmpdir() and not removed
//                    is found there, certainly this run's own, even while
//                    other runs share the real $TMPDIR.
//
// The run directory is 0755, not mkdtemp's 0700: processes of another uid
// (uid 65534 in the policy and socket-file tests) must reach the directories
// that tests share with them, and the copy of the package made for them
// (users.js). Its tmp is 1777, as /tmp is.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Run directories start with this, followed by the pid of the mocha process that owns them. */
const RUN_PREFIX = 'sidecar-test-run-';

let runDir;

/** The run directory (created on the first call, in $TMPDIR as it was then). */
function runRoot() {
  if (runDir === undefined) {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), `${RUN_PREFIX}${process.pid}-`));
    fs.chmodSync(runDir, 0o755);
    process.on('exit', removeRunRoot);
  }
  return runDir;
}

/** The run's own $TMPDIR, inside the run directory (created on the first call). */
function runTmpdir() {
  const dir = path.join(runRoot(), 'tmp');
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o1777);
  }
  return dir;
}

/** A fresh directory (mode 0700) inside the run directory. Remove it when done; the run's end removes it anyway. */
function tempDir(prefix = 'sidecar-test-') {
  return fs.mkdtempSync(path.join(runRoot(), prefix));
}

/** Removes the run directory and everything in it (a no-op when none was made). */
function removeRunRoot() {
  if (runDir === undefined) return;
  fs.rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
  process.off('exit', removeRunRoot);
  runDir = undefined;
}

module.exports = { tempDir, runRoot, runTmpdir, removeRunRoot, RUN_PREFIX };
