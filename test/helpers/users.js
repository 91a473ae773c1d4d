'use strict';
// Running test processes as another user (uid 65534).

const childProcess = require('node:child_process');

const NOBODY = 65534;

/** Whether setpriv exists and this process may switch users with it (root). */
function canSwitchUsers() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  const found = childProcess.spawnSync('setpriv', ['--version']);
  if (found.error || found.status !== 0) return 'setpriv (util-linux) is not installed';
  return true;
}

/** argv prefix that runs a command as uid/gid with no supplementary groups. */
function asUser(uid, gid = uid) {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];
}

module.exports = { NOBODY, canSwitchUsers, asUser };
