'use strict';
// The server's socket file: mode, removal on close, stale files replaced,
// live sockets and other files left alone.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn, stopServer } = require('../..');
const {
  startServer, tempDir, run, useFdCheck, pollUntil, exited, fixture, isAlive, fdCount, fdTable, describeFdDiff, readReport,
  sleep,
  listenHere, closeHere, otherUidReady, otherUidFixture,
} = require('../helpers');


async function expectServes(socketPath) {
  const result = await run(remoteSpawn('sh', ['-c', 'echo served; exit 5'], { connect: socketPath }));
  expect(result.error, result.error && result.error.stack).to.equal(null);
  expect(result.exitArgs).to.deep.equal([5, null]);
  expect(result.stdout.toString()).to.equal('served\n');
}

describe('server socket file', function () {
  let dir;
  const servers = [];

  beforeEach(function () {
    dir = tempDir();
  });

  // Registered before useFdCheck()'s hooks so that servers are gone before it counts.
  afterEach(async function () {
    for (const server of servers.splice(0)) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  useFdCheck(async () => {
    // Load the addon and create the lazily created objects once.
    const warmDir = tempDir();
    const server = await listenHere(path.join(warmDir, 'sock'));
    await expectServes(path.join(warmDir, 'sock'));
    await closeHere(server);
    fs.rmSync(warmDir, { recursive: true, force: true });
  });

  it('mode 0600 by default, options.mode otherwise', async function () {
    const defaultServer = await startServer({ socketPath: path.join(dir, 'default.sock') });
    servers.push(defaultServer);
    const stat = fs.statSync(defaultServer.path);
    expect(stat.isSocket()).to.equal(true);
    expect(stat.mode & 0o777).to.equal(0o600);
    for (const mode of [0o660, 0o666, 0o700]) {
      const server = await startServer({ socketPath: path.join(dir, `${mode.toString(8)}.sock`), serverOptions: { mode } });
      servers.push(server);
      expect(fs.statSync(server.path).mode & 0o777).to.equal(mode);
      await expectServes(server.path);
    }
  });

  it('the socket file is removed when the server process closes (SIGTERM)', async function () {
    const server = await startServer({ socketPath: path.join(dir, 'sock') });
    expect(fs.statSync(server.path).isSocket()).to.equal(true);
    await expectServes(server.path);
    const stopped = await server.stop({ removeDir: false });
    expect(stopped).to.deep.equal({ code: 0, signal: null, forced: false });
    expect(fs.existsSync(server.path)).to.equal(false);
  });

  it('in process: listen, address(), listening, close() removes the file and emits \'close\'', async function () {
    const socketPath = path.join(dir, 'sock');
    const server = await listenHere(socketPath);
    expect(server.address()).to.equal(socketPath);
    expect(server.listening).to.equal(true);
    await expectServes(socketPath);
    const closed = new Promise((resolve) => server.once('close', resolve));
    await closeHere(server);
    await closed;
    expect(server.listening).to.equal(false);
    expect(server.address()).to.equal(null);
    expect(fs.existsSync(socketPath)).to.equal(false);
  });

  it('close() lets running programs finish and report their exit, but stops accepting at once', async function () {
    const server = await startServer({ socketPath: path.join(dir, 'sock') });
    servers.push(server);
    const child = remoteSpawn('sh', ['-c', 'read line; exit 7'], { connect: server.path });
    const done = run(child);
    await new Promise((resolve) => child.once('spawn', resolve));
    server.process.kill('SIGTERM');
    // The socket file goes right away, while the program still runs.
    expect(await pollUntil(() => !fs.existsSync(server.path), { timeout: 2000 })).to.equal(true);
    const late = await run(remoteSpawn('true', [], { connect: server.path }));
    expect(late.error && late.error.code).to.equal('ERR_SIDECAR_CONNECT');
    expect(server.process.exitCode).to.equal(null);
    child.stdin.end('go\n');
    const result = await done;
    expect(result.exitArgs).to.deep.equal([7, null]);
    expect(await exited(server.process)).to.deep.equal({ code: 0, signal: null });
  });

  it('a stale socket file (nobody listening) is replaced on listen', async function () {
    const socketPath = path.join(dir, 'sock');
    const first = await startServer({ socketPath });
    await first.kill(); // SIGKILL: leaves its socket file behind
    await first.stop(); // the harness made no directory for it (socketPath given): the stale socket stays
    expect(fs.lstatSync(socketPath).isSocket(), 'no stale socket to test with').to.equal(true);
    const refused = await run(remoteSpawn('true', [], { connect: socketPath }));
    expect(refused.error && refused.error.code).to.equal('ERR_SIDECAR_CONNECT');

    const second = await startServer({ socketPath });
    servers.push(second);
    await expectServes(socketPath);
  });

  it('a stale socket file is replaced by an in-process listen too', async function () {
    const socketPath = path.join(dir, 'sock');
    const first = await startServer({ socketPath });
    await first.kill();
    expect(fs.lstatSync(socketPath).isSocket()).to.equal(true);
    const server = await listenHere(socketPath);
    await expectServes(socketPath);
    await closeHere(server);
    expect(fs.existsSync(socketPath)).to.equal(false);
  });

  it('a live socket is refused with EADDRINUSE and left working', async function () {
    const live = await startServer({ socketPath: path.join(dir, 'sock') });
    servers.push(live);
    const before = fs.lstatSync(live.path);
    let error;
    try {
      const server = await listenHere(live.path);
      await closeHere(server);
    } catch (caught) {
      error = caught;
    }
    expect(error, 'listen on a live socket succeeded').to.be.an('error');
    expect(error.code).to.equal('EADDRINUSE');
    expect(error.message).to.include(live.path);
    const after = fs.lstatSync(live.path);
    expect([after.dev, after.ino]).to.deep.equal([before.dev, before.ino]);
    await expectServes(live.path);

    // The same from another process: the second server fails to start.
    let failure;
    try {
      servers.push(await startServer({ socketPath: live.path }));
    } catch (caught) {
      failure = caught;
    }
    expect(failure, 'a second server process listened on a live socket').to.be.an('error');
    expect(failure.message).to.include('EADDRINUSE');
    await expectServes(live.path);
  });

  it('a regular file at the path is not removed: listen fails', async function () {
    const socketPath = path.join(dir, 'precious');
    fs.writeFileSync(socketPath, 'precious data\n');
    let error;
    try {
      const server = await listenHere(socketPath);
      await closeHere(server);
    } catch (caught) {
      error = caught;
    }
    expect(error, 'listen over a regular file succeeded').to.be.an('error');
    expect(error.code).to.equal('EADDRINUSE');
    expect(fs.readFileSync(socketPath, 'utf8')).to.equal('precious data\n');
  });

  it('a missing parent directory fails with ENOENT and creates nothing', async function () {
    const socketPath = path.join(dir, 'missing', 'sock');
    let error;
    try {
      const server = await listenHere(socketPath);
      await closeHere(server);
    } catch (caught) {
      error = caught;
    }
    expect(error, 'listen succeeded').to.be.an('error');
    expect(error.code).to.equal('ENOENT');
    expect(fs.existsSync(path.dirname(socketPath))).to.equal(false);
  });

  it('connecting to a path where nothing listens: \'error\' ERR_SIDECAR_CONNECT naming it, then \'close\'', async function () {
    for (const socketPath of [path.join(dir, 'missing.sock'), dir]) {
      const child = remoteSpawn('true', [], { connect: socketPath });
      const result = await run(child, { timeout: 3000 });
      expect(result.events, socketPath).to.deep.equal(['error', 'close']);
      expect(result.error.code).to.equal('ERR_SIDECAR_CONNECT');
      expect(result.error.message).to.include(socketPath);
      expect(child.pid).to.equal(undefined);
    }
  });

  it('stopServer() stops it: resolves, the server closes and its file is removed', async function () {
    const server = await startServer({ socketPath: path.join(dir, 'sock') });
    servers.push(server);
    await stopServer(server.path);
    expect(await pollUntil(() => !fs.existsSync(server.path), { timeout: 2000 })).to.equal(true);
    // Nothing keeps the fixture's event loop alive after 'close': it exits by itself.
    const timer = setTimeout(() => server.process.kill('SIGKILL'), 5000);
    expect(await exited(server.process)).to.deep.equal({ code: 0, signal: null });
    clearTimeout(timer);
  });

  it('stopServer() is refused with ERR_SIDECAR_DENIED when allowStop is false, and the server keeps serving', async function () {
    const server = await startServer({ socketPath: path.join(dir, 'sock'), serverOptions: { allowStop: false } });
    servers.push(server);
    let error;
    try {
      await stopServer(server.path);
    } catch (caught) {
      error = caught;
    }
    expect(error, 'stopServer resolved').to.be.an('error');
    expect(error.code).to.equal('ERR_SIDECAR_DENIED');
    await expectServes(server.path);
  });

  it('the server dies mid-run: the client reports ERR_SIDECAR_DISCONNECTED and the program dies too', async function () {
    const server = await startServer({ socketPath: path.join(dir, 'sock') });
    servers.push(server);
    const child = remoteSpawn(fixture('wait-signal.sh'), [], { connect: server.path, stdio: ['ignore', 'pipe', 'ignore'] });
    const done = run(child);
    await Promise.all([
      new Promise((resolve) => child.once('spawn', resolve)),
      new Promise((resolve) => child.stdout.once('data', resolve)),
    ]);
    const pid = child.pid;
    expect(isAlive(pid)).to.equal(true);
    await server.kill();
    const result = await done;
    expect(result.events).to.deep.equal(['spawn', 'error', 'exit', 'close']);
    expect(result.error.code).to.equal('ERR_SIDECAR_DISCONNECTED');
    expect(result.exitArgs).to.deep.equal([null, 'SIGKILL']);
    // Its parent (the server) died: PR_SET_PDEATHSIG kills it.
    expect(await pollUntil(() => !isAlive(pid), { timeout: 1000 }), `program ${pid} survived its server`).to.equal(true);
  });

  it('out of fds (RLIMIT_NOFILE 64, its host holding all but 3): no crash, no hang, no leak; failures say EMFILE or BUSY, not a client protocol error; it serves once fds are free', async function () {
    // The server budgets its connections against the limit at listen
    // (security/admission.test.js); a host that opens fds of its own after
    // that can still leave it short, and then the kernel's EMFILE is what
    // it must live with.
    const server = await startServer({ socketPath: path.join(dir, 'sock'), nofile: 64, serverOptions: { leaveFds: 3 } });
    servers.push(server);
    const results = await Promise.all(Array.from({ length: 60 },
      () => run(remoteSpawn('sh', ['-c', 'sleep 0.2; echo ok'], { connect: server.path }), { timeout: 15000 })));
    expect(results.filter((r) => r.timedOut).length, 'clients left without an answer').to.equal(0);
    expect(server.process.exitCode, server.output()).to.equal(null);
    for (const result of results.filter((r) => r.error === null)) {
      expect(result.events).to.deep.equal(['spawn', 'exit', 'close']);
      expect(result.stdout.toString()).to.equal('ok\n');
    }
    // The server ran out of fds, not the client out of manners: a request
    // whose fds the kernel could not install (MSG_CTRUNC on EMFILE) must not
    // be answered as ERR_SIDECAR_PROTOCOL. Those over maxConnections (1
    // under this limit) are turned away busy.
    const codes = [...new Set(results.filter((r) => r.error !== null).map((r) => r.error.code))].sort();
    expect(codes.filter((code) => !['EMFILE', 'ENFILE', 'ERR_SIDECAR_BUSY'].includes(code)), 'error codes other than EMFILE/ENFILE/BUSY').to.deep.equal([]);
    expect(codes, 'the server never ran out of fds: the test tells nothing').to.include('EMFILE');

    // The host lets go of its fds: the server serves again, and holds nothing of the clients'.
    server.process.kill('SIGUSR1');
    await server.waitEvent((event) => event.event === 'released');
    await sleep(100);
    const baseline = fdCount(server.pid);
    const table = fdTable(server.pid);
    await expectServes(server.path);
    let count = fdCount(server.pid);
    await pollUntil(() => (count = fdCount(server.pid)) === baseline, { timeout: 2000 });
    expect(count, describeFdDiff(table, fdTable(server.pid))).to.equal(baseline);
  });

  describe('socket permissions against another user', function () {
    let shared;

    before(function () {
      const ready = otherUidReady({ setpriv: false });
      if (ready !== true) {
        console.log(`      (${ready}: cannot run a client as another user; skipping)`);
        this.skip();
      }
    });

    beforeEach(function () {
      shared = tempDir('sidecar-perm-');
      fs.chmodSync(shared, 0o1777); // anyone reaches the socket (only its mode decides); sticky, so the server trusts it
    });

    afterEach(function () {
      fs.rmSync(shared, { recursive: true, force: true });
    });

    /** Runs test/fixtures/client.js (its other-uid copy) as nobody (uid/gid 65534); resolves with its report and status. */
    async function clientAsNobody(socketPath) {
      const report = path.join(shared, 'report');
      const child = require('node:child_process').spawn(process.execPath, [otherUidFixture('client.js'), JSON.stringify({
        connect: socketPath, report, command: 'id', args: ['-u'], options: { stdio: ['ignore', 'pipe', 'ignore'] },
      })], { uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => { stderr += chunk; });
      const status = await exited(child);
      return { status, lines: readReport(report), stderr };
    }

    it('mode 0600 (the default) keeps other users out: ERR_SIDECAR_CONNECT (EACCES)', async function () {
      const server = await startServer({ socketPath: path.join(shared, 'sock') });
      servers.push(server);
      const { lines, stderr } = await clientAsNobody(server.path);
      const error = lines.find((line) => line.event === 'error');
      expect(error, `${JSON.stringify(lines)} ${stderr}`).to.be.an('object');
      expect(error.code).to.equal('ERR_SIDECAR_CONNECT');
      expect(error.errno).to.equal(-13);
      expect(lines.some((line) => line.event === 'spawn')).to.equal(false);
    });

    it('mode 0666 lets them in', async function () {
      const server = await startServer({ socketPath: path.join(shared, 'sock'), serverOptions: { mode: 0o666 } });
      servers.push(server);
      const { lines, stderr } = await clientAsNobody(server.path);
      expect(lines.map((line) => line.event), `${JSON.stringify(lines)} ${stderr}`).to.include('spawn');
      expect(lines.find((line) => line.event === 'exit')).to.deep.equal({ event: 'exit', code: 0, signal: null });
    });
  });
});
