'use strict';
// The socket file in a directory another user can write to (the layout of a
// shared volume): that user swaps a symlink in at the socket's path the
// moment a socket appears there, while a root server starts. The server must
// never change the mode or group of any file but its own socket.
//
// Two tests: the attack itself over many starts (a race, so it can only show
// that the attacker did swap and nothing was changed), and the server's
// system calls under strace, which show deterministically that no chmod or
// chown ever names a path in the shared directory: that one failed when the
// server bound, chmod'ed and chown'ed the socket in place.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { tempDir } = require('../../helpers/tmp');
const { NOBODY, asUser, canSwitchUsers } = require('../../helpers/users');
const { listenHere, closeHere } = require('../../helpers/server');
const { sleep } = require('../../helpers/proc');

const ROOT = path.join(__dirname, '..', '..', '..');

const STARTS = 40;

describe('security: a symlink swapped in at the socket path', function () {
  this.timeout(60000);
  let shared;
  let secret;
  let attacker;

  before(function () {
    const why = canSwitchUsers();
    if (why !== true) {
      console.log(`      (skipped: needs another uid: ${why})`);
      this.skip();
    }
    shared = tempDir('sidecar-swap-');
    fs.chmodSync(shared, 0o777); // writable by all, not sticky
    const vault = tempDir('sidecar-vault-');
    fs.chmodSync(vault, 0o711);
    secret = path.join(vault, 'secret');
    fs.writeFileSync(secret, 'root only\n', { mode: 0o600 });
    // uid 65534 watches the socket's path: the moment a socket is there, it
    // renames a fresh symlink to the secret over it (the window between
    // bind(2) and chmod(2) of a server that binds in place); a symlink of its
    // own is taken away again, so that the next start can bind.
    const loop = `cd ${shared} && while :; do if [ -S sock ]; then ln -s ${secret} l.$$ && mv -f l.$$ sock; `
      + `elif [ -L sock ]; then rm -f sock; fi; done 2>/dev/null`;
    attacker = childProcess.spawn(asUser(NOBODY)[0], [...asUser(NOBODY).slice(1), 'sh', '-c', loop], { stdio: 'ignore', detached: true });
  });

  after(async function () {
    if (attacker !== undefined) {
      try {
        process.kill(-attacker.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await new Promise((resolve) => (attacker.exitCode !== null || attacker.signalCode !== null ? resolve() : attacker.once('exit', resolve)));
    }
    if (shared !== undefined) fs.rmSync(shared, { recursive: true, force: true });
    if (secret !== undefined) fs.rmSync(path.dirname(secret), { recursive: true, force: true });
  });

  it(`leaves the target of the symlink alone over ${STARTS} starts (mode 0666 and a group)`, async function () {
    const socketPath = path.join(shared, 'sock');
    let listened = 0;
    let swapped = 0;
    for (let i = 0; i < STARTS; i++) {
      let server;
      try {
        // trustDirectory: this attack needs a directory the server would
        // refuse (socket-directory.test.js); here the socket file's own
        // defence is under test.
        server = await listenHere(socketPath, { mode: 0o666, group: NOBODY, trustDirectory: true });
      } catch (error) {
        // The attacker's symlink holds the name: refused, as any other file there.
        expect(error.code).to.be.oneOf(['EADDRINUSE', 'ENOENT']);
      }
      if (server !== undefined) {
        listened++;
        // Give the watcher its moment, then see whether it struck: the
        // server's socket is no longer at the path (a symlink is, or nothing,
        // once the watcher took its symlink away again).
        await sleep(5);
        let there;
        try {
          there = fs.lstatSync(socketPath);
        } catch {
          there = undefined;
        }
        if (there === undefined || !there.isSocket()) swapped++;
        await closeHere(server);
      }
      const stat = fs.statSync(secret);
      expect(stat.mode & 0o777, `start ${i}: the secret's mode`).to.equal(0o600);
      expect(stat.gid, `start ${i}: the secret's group`).to.equal(0);
      await sleep(1);
    }
    // The attack really ran: it replaced the server's socket with its symlink.
    expect(swapped, 'the attacker never swapped its symlink in').to.be.greaterThan(0);
    expect(attacker.exitCode).to.equal(null);
    // The leftovers of the private directories are gone.
    const left = fs.readdirSync(shared).filter((name) => name.startsWith('.sidecar-listen-'));
    expect(left).to.deep.equal([]);
    this.test.title += ` (${listened} of ${STARTS} starts listened; ${swapped} sockets swapped for a symlink)`;
  });
});

describe('security: the server changes metadata only inside its private directory', function () {
  this.timeout(30000);

  it('no chmod or chown names a path in the socket\'s directory (strace of a start with mode and group)', function () {
    const strace = childProcess.spawnSync('strace', ['-V']);
    if (strace.error || strace.status !== 0) {
      console.log('      (skipped: strace is not installed)');
      this.skip();
    }
    const dir = tempDir('sidecar-strace-');
    try {
      const socketPath = path.join(dir, 'sock');
      const log = path.join(dir, 'trace');
      const script = `const s = require(${JSON.stringify(ROOT)}).createServer({ mode: 0o666, group: ${NOBODY} });`
        + `s.listen(${JSON.stringify(socketPath)}, () => s.close());`;
      const traced = childProcess.spawnSync('strace', ['-f', '-qq', '-o', log, '-e', 'trace=chmod,fchmodat,chown,fchownat,lchown,link,linkat,bind',
        process.execPath, '-e', script], { encoding: 'utf8' });
      expect(traced.status, traced.stderr).to.equal(0);
      const calls = fs.readFileSync(log, 'utf8').split('\n').filter((line) => /\b(chmod|fchmodat|chown|fchownat|lchown|link|linkat|bind)\(/.test(line));
      const metadata = calls.filter((line) => /\b(chmod|fchmodat|chown|fchownat|lchown)\(/.test(line));
      // The calls happened, all on the private name, none on the shared path.
      expect(metadata.length, calls.join('\n')).to.be.at.least(3);
      expect(metadata.filter((line) => line.includes(dir)), 'metadata calls on the shared directory').to.deep.equal([]);
      expect(metadata.every((line) => line.includes('/proc/self/fd/')), metadata.join('\n')).to.equal(true);
      // The shared path is reached once, by link(2) of the finished socket.
      const onShared = calls.filter((line) => line.includes(socketPath));
      expect(onShared, calls.join('\n')).to.have.length(1);
      expect(onShared[0]).to.match(/\blink(at)?\(/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
