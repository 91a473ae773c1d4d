'use strict';
// The socket file in a directory another user can write to (the layout of a
// shared volume): that user swaps a symlink in at the socket's path, over and
// over, while a root server starts. The server must never change the mode or
// group of any file but its own socket. Before the socket was made in a
// private directory and linked into place, chmod/chown after bind(2)
// followed such a symlink in about a third of the starts.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { tempDir } = require('../../helpers/tmp');
const { NOBODY, asUser, canSwitchUsers } = require('../../helpers/users');
const { listenHere, closeHere } = require('../../helpers/server');
const { sleep } = require('../../helpers/proc');

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
    // uid 65534 renames a fresh symlink to the secret over the socket's path as fast as it can.
    const loop = `while :; do ln -s ${secret} ${shared}/l.$$ 2>/dev/null; mv -f ${shared}/l.$$ ${shared}/sock 2>/dev/null; done`;
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
    let sawSymlink = false;
    for (let i = 0; i < STARTS; i++) {
      try {
        sawSymlink ||= fs.lstatSync(socketPath).isSymbolicLink();
      } catch {
        // between two renames
      }
      let server;
      try {
        server = await listenHere(socketPath, { mode: 0o666, group: NOBODY });
      } catch (error) {
        // The attacker's symlink holds the name: refused, as any other file there.
        expect(error.code).to.be.oneOf(['EADDRINUSE', 'ENOENT']);
      }
      if (server !== undefined) {
        listened++;
        await closeHere(server);
      }
      const stat = fs.statSync(secret);
      expect(stat.mode & 0o777, `start ${i}: the secret's mode`).to.equal(0o600);
      expect(stat.gid, `start ${i}: the secret's group`).to.equal(0);
      await sleep(1);
    }
    // The attack really ran.
    expect(sawSymlink, 'the attacker never got its symlink in').to.equal(true);
    expect(attacker.exitCode).to.equal(null);
    // The leftovers of the private directories are gone.
    const left = fs.readdirSync(shared).filter((name) => name.startsWith('.sidecar-listen-'));
    expect(left).to.deep.equal([]);
    this.test.title += ` (${listened} of ${STARTS} starts got the name)`;
  });
});
