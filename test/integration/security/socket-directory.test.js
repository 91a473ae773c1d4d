'use strict';
// The review's finding 7: a root server listening in a directory another
// user (uid 65534) owns or can write. That user moves the server's socket
// aside, listens in its place, and a root client then hands the impostor its
// stdio and its environment (SECRET_TOKEN). The attack is performed for
// real: the impostor is a sidecar server of uid 65534 that reports what it
// is sent.
//
// Defences: the server refuses such a directory (ERR_SIDECAR_UNSAFE_DIRECTORY)
// unless told to trust it; a client given expectUid (sidecar exec and
// sidecar-client: --expect-uid) refuses a socket, a directory or a listener
// of another uid before anything is sent.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { promisify } = require('node:util');
const { createClient, remoteSpawn } = require('../../..');
const { tempDir } = require('../../helpers/tmp');
const { NOBODY, asUser, otherUidReady } = require('../../helpers/users');
const { listenHere, closeHere, startServer } = require('../../helpers/server');
const { runCommand } = require('../../helpers/run');
const { pollUntil } = require('../../helpers/proc');

const ROOT = path.join(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'sidecar.js');
const NATIVE_CLIENT = path.join(ROOT, 'build', 'Release', 'sidecar-client');

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

  it('a client with expectUid: 0 refuses the impostor: ERR_SIDECAR_CONNECT (EPERM), nothing reaches it', async function () {
    const socketPath = path.join(directory('shared', 0o777), 'sock');
    const result = await reviewAttack(socketPath, { serverOptions: { trustDirectory: true }, clientOptions: { expectUid: 0 } });
    expect(result.leaked).to.equal(undefined);
    expect(result.impostorConnections, 'the client connected to the impostor').to.equal(0);
    expect(result.clientError).to.be.an('error');
    expect(result.clientError.code).to.equal('ERR_SIDECAR_CONNECT');
    expect(result.clientError.errno).to.equal(-1);
    expect(result.clientError.message).to.include(`owned by uid ${NOBODY}`);
  });

  it('sidecar exec --expect-uid 0 and sidecar-client --expect-uid 0 refuse the impostor too (exit 125, one line)', async function () {
    const socketPath = path.join(directory('shared', 0o777), 'sock');
    const server = await listenHere(socketPath, { trustDirectory: true });
    let impostor;
    try {
      asNobody(moveSocketAside(socketPath));
      impostor = await startServer({ socketPath, user: { uid: NOBODY, gid: NOBODY }, serverOptions: { mode: 0o666, trustDirectory: true } });
      const clients = [[process.execPath, CLI, 'exec']];
      if (fs.existsSync(NATIVE_CLIENT)) clients.push([NATIVE_CLIENT]);
      for (const [command, ...prefix] of clients) {
        const result = await runCommand(command, [...prefix, '--connect', socketPath, '--expect-uid', '0', '--env', `${SECRET}=x`, '--', 'true']);
        expect(result.code, `${command}: ${result.stderr}`).to.equal(125);
        expect(result.stderr).to.equal(`sidecar: cannot connect to the sidecar server at ${socketPath}: EPERM `
          + `(the socket file is owned by uid ${NOBODY}, not uid 0 as expectUid asks)\n`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(impostor.events('connection'), 'a client connected to the impostor').to.deep.equal([]);
    } finally {
      if (impostor !== undefined) await impostor.stop({ removeDir: false });
      await closeHere(server);
    }
  });

  it('the listener\'s uid decides (SO_PEERCRED): a root socket file listened on by uid 65534 is refused by all three clients', async function () {
    const python = childProcess.spawnSync('python3', ['--version']);
    if (python.error || python.status !== 0) {
      console.log('      (skipped: python3 is not installed; it binds as root and listens as uid 65534)');
      this.skip();
    }
    // The file is root's (bound as root) in root's own directory, so every
    // look at the path passes; the listener is not (listen(2) after setuid).
    const dir = directory('own', 0o755);
    const socketPath = path.join(dir, 'sock');
    const script = [
      'import os, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)',
      's.bind(sys.argv[1])',
      `os.setgid(${NOBODY}); os.setuid(${NOBODY})`,
      's.listen(8)',
      'print("listening", flush=True)',
      'while True:',
      '    c, _ = s.accept()',
      '    print("received %d" % len(c.recv(1 << 16)), flush=True)',
      '    c.close()',
    ].join('\n');
    const listener = childProcess.spawn('python3', ['-c', script, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let heard = '';
    listener.stdout.on('data', (chunk) => { heard += chunk; });
    try {
      expect(await pollUntil(() => heard.includes('listening'), { timeout: 5000 }), 'the listener did not start').to.equal(true);
      expect(fs.lstatSync(socketPath).uid).to.equal(0);
      const why = `the process listening on it runs as uid ${NOBODY}, not uid 0 as expectUid asks`;
      const { error } = await outcome(remoteSpawn('true', [], { connect: socketPath, expectUid: 0, env: { [SECRET]: 'x' }, stdio: 'ignore', cwd: '/' }));
      expect(error).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -1 });
      expect(error.message).to.include(why);
      const clients = [[process.execPath, CLI, 'exec']];
      if (fs.existsSync(NATIVE_CLIENT)) clients.push([NATIVE_CLIENT]);
      for (const [command, ...prefix] of clients) {
        const result = await runCommand(command, [...prefix, '--connect', socketPath, '--expect-uid', '0', '--', 'true']);
        expect(result.code, `${command}: ${result.stderr}`).to.equal(125);
        expect(result.stderr).to.equal(`sidecar: cannot connect to the sidecar server at ${socketPath}: EPERM (${why})\n`);
      }
      // Each client connected (the check needs the connection) and hung up
      // without sending a byte.
      expect(await pollUntil(() => (heard.match(/received/g) ?? []).length === clients.length + 1, { timeout: 5000 }), heard).to.equal(true);
      expect(heard.match(/received \d+/g).every((line) => line === 'received 0'), heard).to.equal(true);
    } finally {
      listener.kill('SIGKILL');
    }
  });

  it('a client with expectUid: 0 refuses a root socket in a directory uid 65534 owns', async function () {
    const dir = directory('owned', 0o755, NOBODY);
    const server = await listenHere(path.join(dir, 'sock'), { trustDirectory: true });
    try {
      const { error } = await outcome(remoteSpawn('true', [], { connect: path.join(dir, 'sock'), expectUid: 0, stdio: 'ignore', cwd: '/' }));
      expect(error).to.be.an('error');
      expect(error.code).to.equal('ERR_SIDECAR_CONNECT');
      expect(error.message).to.include(`directory ${dir} is owned by uid ${NOBODY}`);
      expect(server.stats().connections + server.stats().spawned).to.equal(0);
      // createClient and remoteExec carry it too.
      const client = createClient({ connect: path.join(dir, 'sock'), expectUid: 0 });
      const failed = await promisify(client.exec)('true').then(() => undefined, (e) => e);
      expect(failed).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -1 });
      expect(server.stats().connections + server.stats().spawned).to.equal(0);
      // The same client without expectUid runs the program: the refusal is the option's.
      expect(await outcome(remoteSpawn('true', [], { connect: path.join(dir, 'sock'), stdio: 'ignore', cwd: '/' }))).to.deep.equal({ error: undefined });
    } finally {
      await closeHere(server);
    }
  });
});
