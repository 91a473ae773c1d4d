'use strict';
// Running test processes as another user (uid 65534), and what those
// processes need to be able to read.
//
// A checkout may sit where other users cannot go (a clone under /root, a
// 0700 `mktemp -d`): uid 65534 then cannot load test/fixtures/client.js, nor
// the package it requires. So whatever runs as another uid runs from a copy,
// made once per run in the run directory (tmp.js, 0755) and readable by all:
// the package as it is installed (package.json, dist/, the addon, its runtime
// dependencies) plus the test files those processes load, laid out as in the
// checkout so that the fixtures' require('../..') finds the copied package.
//
//   otherUidFixture('client.js')  path of a fixture that another uid can run
//   otherUidReady()               true, or why other-uid tests must skip

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir } = require('./tmp');

const ROOT = path.join(__dirname, '..', '..');
const NOBODY = 65534;

/**
 * What the other-uid copy holds besides the package itself: files and
 * directories relative to the checkout. test/fixtures: the clients and the
 * server run as uid 65534; test/conformance/canon.js: the parity tests'
 * unprivileged child_process capture reports errors through it;
 * examples/embed-server: `npm start`'s demo, run as a user who is not root.
 */
const TEST_FILES = ['test/fixtures', 'test/conformance/canon.js', 'examples/embed-server'];

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

/** The package's runtime dependencies, transitively: [name, directory] from `from`'s node_modules. */
function runtimeDependencies(from) {
  const found = new Map();
  const visit = (manifest, base) => {
    for (const name of Object.keys(manifest.dependencies || {})) {
      if (found.has(name)) continue;
      // npm nests a dependency only on a version conflict; else it is at the top.
      const dir = [path.join(base, 'node_modules', name), path.join(from, 'node_modules', name)].find((d) => fs.existsSync(d));
      if (dir === undefined) throw new Error(`runtime dependency ${name} is not installed in ${from} (npm install)`);
      found.set(name, dir);
      visit(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')), dir);
    }
  };
  visit(JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8')), from);
  return found;
}

/** Makes a tree readable by everyone: directories 0755, files a+r (a+x where the owner may execute). */
function openUp(target) {
  const stat = fs.lstatSync(target);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    fs.chmodSync(target, 0o755);
    for (const name of fs.readdirSync(target)) openUp(path.join(target, name));
  } else {
    const mode = stat.mode & 0o7777;
    fs.chmodSync(target, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
  }
}

/**
 * Copies what processes of another uid need from the checkout `from` into
 * the directory `to` (created if missing), and makes it all readable by
 * everyone. `to` and the directories above it must be traversable by that
 * uid. Returns `to`.
 */
function copyForOtherUsers({ from = ROOT, to }) {
  fs.mkdirSync(to, { recursive: true });
  const copy = (relative) => fs.cpSync(path.join(from, relative), path.join(to, relative), { recursive: true });
  copy('package.json');
  copy('dist');
  // The addon (and nothing of the build tree): node-gyp-build looks in build/Release, then prebuilds/.
  const release = path.join(from, 'build', 'Release');
  if (fs.existsSync(release)) {
    for (const entry of fs.readdirSync(release, { withFileTypes: true })) {
      if (entry.isFile()) copy(path.join('build', 'Release', entry.name));
    }
  }
  if (fs.existsSync(path.join(from, 'prebuilds'))) copy('prebuilds');
  for (const [name, dir] of runtimeDependencies(from)) {
    fs.cpSync(dir, path.join(to, 'node_modules', name), { recursive: true });
  }
  for (const relative of TEST_FILES) copy(relative);
  openUp(to);
  return to;
}

let copied;

/** The run's other-uid copy of this checkout (made on the first call). */
function otherUidRoot() {
  if (copied === undefined || !fs.existsSync(copied)) {
    copied = copyForOtherUsers({ to: path.join(tempDir('sidecar-test-other-uid-'), 'checkout') });
    fs.chmodSync(path.dirname(copied), 0o755);
  }
  return copied;
}

/** Path, in the other-uid copy, of a file of the checkout ('test/fixtures/client.js'). */
function otherUidPath(relative) {
  return path.join(otherUidRoot(), relative);
}

/** Path, in the other-uid copy, of test/fixtures/<name>. */
function otherUidFixture(name) {
  return otherUidPath(path.join('test', 'fixtures', name));
}

/**
 * Whether uid `uid` can load the package from `root` (a copy made by
 * copyForOtherUsers): true, or what it printed. Runs node as that uid with
 * child_process's uid/gid options (no setpriv needed).
 */
function loadsAs(root, uid = NOBODY) {
  const result = childProcess.spawnSync(process.execPath, ['-e', 'require(process.argv[1]).PROTOCOL_VERSION', root], {
    uid, gid: uid, cwd: '/', encoding: 'utf8', timeout: 10000,
  });
  if (result.error) return `node as uid ${uid}: ${result.error.message}`;
  if (result.status !== 0) return `node as uid ${uid} cannot load the package from ${root}: ${result.stderr.trim().split('\n').slice(0, 3).join(' ')}`;
  return true;
}

let readiness;

/**
 * true when this run can run test processes as uid 65534 (root, setpriv
 * when `setpriv`, node runnable by that uid and the other-uid copy loadable
 * by it); otherwise the reason, for a skip that says why.
 */
function otherUidReady({ setpriv = true } = {}) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  if (setpriv) {
    const can = canSwitchUsers();
    if (can !== true) return can;
  }
  readiness ??= loadsAs(otherUidRoot());
  return readiness;
}

module.exports = {
  NOBODY, canSwitchUsers, asUser, copyForOtherUsers, otherUidRoot, otherUidPath, otherUidFixture, otherUidReady, loadsAs,
};
