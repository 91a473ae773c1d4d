'use strict';
// The review's finding 7: a root server listening in a directory another
// user (uid 65534) owns or can write. That user moves the server's socket
// aside, listens in its place, and a root client then hands the impostor its
// stdio and its environment (SECRET_TOKEN). The attack is performed for
// real: the impostor is a sidecar server of uid 65534 that reports what it
// is sent.
//
// Defences: the server refuses such a directory (ERR_SIDECAR_UNSAFE_DIRECTORY)
// unless told to trust it; a client given expectUid refuses a socket, a
// directory or a listener of another uid before anything is sent.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../../..');
const { tempDir } = require('../../helpers/tmp');
const { NOBODY, asUser, otherUidReady } = require('../../helpers/users');
const { listenHere, closeHere, startServer } = require('../../helpers/server');

const SECRET = 'SECRET_TOKEN';

/** Runs `script` with sh as uid 65534; throws with its output unless it exits 0. */
function asNobody(script) {
  const result = childProcess.spawnSync(asUser(NOBODY)[0], [...asUser(NOBODY).slice(1), 'sh', '-c', script], { encoding: 'utf8', cwd: '/' });
  if (result.status !== 0) throw new Error(`as uid ${NOBODY}: ${script}: ${result.stderr}`);
}

/** Resolves with { error } once `child` closed. */
function outcome(child) {
  return new Promise((resolve) => {
    let error;
    child.on('error', (e) => { error = e; });
    child.on('close', () => resolve({ error }));
  });
}

/** The attacker's move where it can write the socket's directory: the socket itself goes aside. */
function moveSocketAside(socketPath) {
  const name = path.basename(socketPath);
  return `cd '${path.dirname(socketPath)}' && mv -f '${name}' '${name}.aside'`;
}

/** Where it can write only an ancestor: the whole directory goes aside, and one of its own takes the name. */
function moveDirectoryAside(socketPath) {
  const dir = path.dirname(socketPath);
  return `cd '${path.dirname(dir)}' && mv '${path.basename(dir)}' '${path.basename(dir)}.aside' && mkdir '${path.basename(dir)}'`;
}

/**
 * The review's attack on a root server told to listen at `socketPath`:
 * returns { listenError } when the server refused to listen; else the
 * attacker moves the socket aside and listens in its place, a root client
 * sends a secret in its environment, and the result says what the impostor
 * received (`leaked`: the secret's value, or undefined), whether the client
 * reached it at all (`impostorConnections`) and the client's error.
 */
async function reviewAttack(socketPath, { serverOptions = {}, clientOptions = {}, moveAside = moveSocketAside } = {}) {
  let server;
  try {
    server = await listenHere(socketPath, serverOptions);
  } catch (error) {
    return { listenError: error };
  }
  let impostor;
  try {
    asNobody(moveAside(socketPath));
    // What an attacker runs is its own choice: here sidecar-exec itself,
    // told to trust the directory it squats in.
    impostor = await startServer({
      socketPath, user: { uid: NOBODY, gid: NOBODY },
      serverOptions: { mode: 0o666, trustDirectory: true, authorize: { default: 'impostor' } },
    });
    const child = remoteSpawn('true', [], {
      connect: socketPath, env: { [SECRET]: 'the-root-clients-secret' }, stdio: 'ignore', cwd: '/', ...clientOptions,
    });
    const { error } = await outcome(child);
    // The impostor reports on its stdout, which may lag the client's end;
    // where it was never reached, this waits its full second for nothing.
    await impostor.waitEvent((event) => event.event === 'authorize', 1000).catch(() => undefined);
    const asked = impostor.events('authorize').map((event) => event.request.env[SECRET]);
    return { leaked: asked.find((value) => value !== undefined), impostorConnections: impostor.events('connection').length, clientError: error };
  } finally {
    if (impostor !== undefined) await impostor.stop({ removeDir: false });
    await closeHere(server);
  }
}

describe('security: the socket\'s directory belongs to another user (finding 7)', function () {
  this.timeout(30000);
  let base;

  before(function () {
    const ready = otherUidReady();
    if (ready !== true) {
      console.log(`      (skipped: needs another uid: ${ready})`);
      this.skip();
    }
  });

  beforeEach(function () {
    base = tempDir('sidecar-unsafe-dir-');
    fs.chmodSync(base, 0o755);
  });

  afterEach(function () {
    if (base !== undefined) fs.rmSync(base, { recursive: true, force: true });
  });

  /** A directory in `base` with that mode and owner. */
  function directory(name, mode, uid = 0) {
    const dir = path.join(base, name);
    fs.mkdirSync(dir);
    fs.chownSync(dir, uid, uid);
    fs.chmodSync(dir, mode);
    return dir;
  }

  const layouts = [
    ['writable by others (0777, not sticky)', () => directory('shared', 0o777), moveSocketAside],
    ['owned by uid 65534 (0755)', () => directory('owned', 0o755, NOBODY), moveSocketAside],
    ['of root (0755) inside one writable by others', () => {
      const parent = directory('parent', 0o777);
      const dir = path.join(parent, 'sockets');
      fs.mkdirSync(dir, { mode: 0o755 });
      return dir;
    }, moveDirectoryAside],
  ];

  for (const [layout, make, moveAside] of layouts) {
    it(`the review's attack fails: a server refuses a directory ${layout} (ERR_SIDECAR_UNSAFE_DIRECTORY)`, async function () {
      const dir = make();
      const socketPath = path.join(dir, 'sock');
      const result = await reviewAttack(socketPath, { moveAside });
      expect(result.leaked, 'the impostor received the root client\'s secret').to.equal(undefined);
      expect(result.listenError, 'the server listened').to.be.an('error');
      expect(result.listenError.code).to.equal('ERR_SIDECAR_UNSAFE_DIRECTORY');
      expect(result.listenError.socket).to.equal(socketPath);
      expect(result.listenError.message).to.include('trustDirectory');
      // Nothing was made: no socket, no private directory.
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });
  }

  it('with trustDirectory: true the server listens there, and the attack goes through (what the option accepts)', async function () {
    const socketPath = path.join(directory('shared', 0o777), 'sock');
    const result = await reviewAttack(socketPath, { serverOptions: { trustDirectory: true } });
    expect(result.listenError).to.equal(undefined);
    expect(result.leaked).to.equal('the-root-clients-secret');
  });
});
