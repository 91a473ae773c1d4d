'use strict';
// The work queue and the limits: maxConcurrent with FIFO
// starts, maxQueued, queueTimeout, a queued client that leaves, maxConnections,
// maxRequestBytes, maxFds, handshakeTimeout, maxRuntime, exit reasons,
// disconnectSignal/disconnectGrace, close() with and without closeTimeout.
//
// Servers run in this process (events and stats() directly); each test
// closes its servers, and the leak check counts this process's fds (client
// and server alike), its children and zombies.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { getBinding } = require('../../dist/binding');
const protocol = require('../../dist/protocol');
const {
  tempDir, run, useFdCheck, fixture, exited, readReport, pollUntil, sleep, isAlive, fdCount, fdTable, describeFdDiff,
  allProcesses, zombieChildren, procStat,
  listenHere, closeHere, firstLine, receiveRecord, startServer,
} = require('../helpers');

const NODE = process.execPath;
const T = { Failed: 17, Started: 16, Exit: 18 };


/** This process's children (the in-process servers' programs), zombies included. */
function myChildren() {
  try {
    return fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return allProcesses().filter((p) => p.ppid === process.pid).map((p) => p.pid);
  }
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}


describe('work queue and limits', function () {
  this.timeout(30000);
  let dir;
  const servers = [];
  const binding = getBinding();
  const rawFds = [];
  const problems = [];

  /** Closes a raw fd of the test's now, so that the clean-up does not close its number again. */
  function closeRaw(fd) {
    rawFds.splice(rawFds.indexOf(fd), 1);
    binding.close(fd);
  }

  beforeEach(function () {
    dir = tempDir('sidecar-queue-');
  });

  // Registered before useFdCheck() so that everything is closed before it counts.
  afterEach(async function () {
    for (const fd of rawFds.splice(0)) {
      binding.close(fd);
    }
    const ownGroup = procStat(process.pid).pgid;
    const left = myChildren().map((pid) => procStat(pid)).filter((p) => p !== null && p.state !== 'Z');
    for (const p of left) {
      try { process.kill(p.pgid === ownGroup ? p.pid : -p.pgid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const server of servers.splice(0)) if (server.listening) await closeHere(server);
    fs.rmSync(dir, { recursive: true, force: true });
    const title = this.currentTest ? this.currentTest.fullTitle() : '?';
    if (left.length > 0) problems.push(`${title}: programs still running after the test: ${left.map((p) => `${p.pid} ${p.comm}`).join(', ')}`);
    const gone = await pollUntil(() => myChildren().length === 0, { timeout: 3000 });
    if (!gone) problems.push(`${title}: children not reaped: ${myChildren().join(', ')}`);
    const zombies = zombieChildren(process.pid);
    if (zombies.length > 0) problems.push(`${title}: zombies ${zombies.map((p) => p.pid).join(', ')}`);
  });

  after(function () {
    if (problems.length > 0) throw new Error(`leak check failed:\n${problems.join('\n')}`);
  });

  useFdCheck(async () => {
    const warm = tempDir();
    const server = await listenHere(path.join(warm, 'sock'));
    await run(remoteSpawn('true', [], { connect: path.join(warm, 'sock') }));
    await run(remoteSpawn('true', [], { connect: path.join(warm, 'sock'), stdio: 'ignore' }));
    await closeHere(server);
    fs.rmSync(warm, { recursive: true, force: true });
  });

  async function start(options, name = 'sock') {
    const server = await listenHere(path.join(dir, name), options);
    servers.push(server);
    return server;
  }

  function rawConnect(server) {
    const fd = binding.connect(server.address());
    rawFds.push(fd);
    return fd;
  }

  function rawExec(fd, { argv, file = argv[0], fdMap = [-1, -1, -1] }) {
    const payload = protocol.encodeExecPayload({
      file, argv, env: [`PATH=${process.env.PATH}`], cwd: '', fdMap, newSession: false, serverEnv: false, uid: -1, gid: -1,
    });
    const [record] = protocol.encodeExecRecords(payload);
    expect(binding.send(fd, record, 0, record.length, [])).to.equal(record.length);
  }

  /** The next record on a raw connection, decoded, or { hangup } / { timeout }. */
  async function receive(fd, timeout) {
    const reply = await receiveRecord(binding, fd, timeout);
    return reply.data === undefined ? reply : { message: protocol.decodeServerMessage(reply.data) };
  }

  /** A program that runs until its stdin ends, then exits 0. */
  function blocker(server, extra = {}) {
    const child = remoteSpawn('sh', ['-c', 'read line; exit 0'], { connect: server.address(), stdio: ['pipe', 'ignore', 'ignore'], ...extra });
    const done = run(child);
    return { child, done, spawned: once(child, 'spawn'), release: () => child.stdin.end('go\n') };
  }

  function expectBusy(result, what) {
    expect(result.error, `not refused: ${JSON.stringify(result.events)}`).to.be.an('error');
    expect(result.error.code).to.equal('ERR_SIDECAR_BUSY');
    expect(result.events).to.deep.equal(['error', 'close']);
    if (what !== undefined) expect(result.error.message).to.include(what);
  }

  describe('maxConcurrent', function () {
    it('1,000 concurrent clients with maxConcurrent 32: all complete, at most 32 run at once, starts in arrival order, nothing leaks', async function () {
      this.timeout(90000);
      // maxFds 8: 1,000 connections of 10 fds each fit the fd limit of a test machine (64 each might not: maxConnections would be lowered).
      const server = await start({ maxConcurrent: 32, maxConnections: 1024, maxFds: 8 });
      expect(server.stats().maxConnections, 'this machine\'s fd limit cannot hold 1,000 connections').to.equal(1024);
      const requests = [];
      const spawns = [];
      let maxRunning = 0;
      let maxQueued = 0;
      let maxChildren = 0;
      const sample = () => {
        const stats = server.stats();
        maxRunning = Math.max(maxRunning, stats.running);
        maxQueued = Math.max(maxQueued, stats.queued);
        maxChildren = Math.max(maxChildren, myChildren().length);
      };
      server.on('request', (info) => requests.push(info.argv[0]));
      server.on('spawn', (info) => {
        spawns.push(info.argv[0]);
        sample();
      });
      server.on('exit', sample);
      const sampler = setInterval(sample, 5);
      const fdsBefore = fdCount(process.pid);
      const tableBefore = fdTable(process.pid);
      const count = 1000;
      const results = [];
      for (let i = 0; i < count; i++) {
        results.push(run(remoteSpawn('sleep', ['0.1'], { connect: server.address(), stdio: 'ignore', argv0: `job-${i}` }), { timeout: 60000 }));
      }
      const done = await Promise.all(results);
      clearInterval(sampler);
      const failed = done.map((result, i) => [i, result]).filter(([, result]) => result.error !== null || result.timedOut || result.exitArgs === null || result.exitArgs[0] !== 0);
      expect(failed.map(([i, result]) => `job-${i}: ${result.timedOut ? 'timed out' : ''} ${result.error && result.error.message} ${JSON.stringify(result.exitArgs)}`).slice(0, 10),
        `${failed.length} of ${count} did not complete`).to.deep.equal([]);
      expect(requests).to.have.lengthOf(count);
      expect(new Set(requests).size).to.equal(count);
      // FIFO: programs start in the order their requests arrived.
      expect(spawns).to.deep.equal(requests);
      expect(maxQueued, 'the queue was never used: the test did not test it').to.be.above(0);
      expect(maxRunning, 'more than maxConcurrent programs ran at once (stats)').to.equal(32);
      expect(maxChildren, 'more than maxConcurrent programs ran at once (/proc)').to.be.at.most(32);
      expect(server.stats()).to.deep.include({ running: 0, queued: 0, failed: 0, denied: 0 });
      await pollUntil(() => server.stats().connections === 0, { timeout: 2000 });
      expect(server.stats().connections).to.equal(0);
      let fds = fdCount(process.pid);
      await pollUntil(() => (fds = fdCount(process.pid)) === fdsBefore, { timeout: 3000 });
      expect(fds, describeFdDiff(tableBefore, fdTable(process.pid)).slice(0, 2000)).to.equal(fdsBefore);
      expect(zombieChildren(process.pid)).to.deep.equal([]);
    });
  });

  describe('maxQueued, queueTimeout, a client that leaves the queue', function () {
    it('maxQueued: beyond it ERR_SIDECAR_BUSY at once (while the queue is still full); the queued one runs later', async function () {
      const server = await start({ maxConcurrent: 1, maxQueued: 1 });
      const running = blocker(server);
      await running.spawned;
      const queued = run(remoteSpawn('true', [], { connect: server.address(), argv0: 'queued' }));
      await pollUntil(() => server.stats().queued === 1, { timeout: 2000 });
      const over = await run(remoteSpawn('true', [], { connect: server.address(), argv0: 'over' }));
      expectBusy(over, 'queue is full');
      // "At once": the refusal came while the first program still ran and the queue was still full.
      expect(isAlive(running.child.pid)).to.equal(true);
      expect(server.stats()).to.deep.include({ running: 1, queued: 1, failed: 1 });
      running.release();
      expect((await running.done).exitArgs).to.deep.equal([0, null]);
      expect((await queued).exitArgs).to.deep.equal([0, null]);

      // maxQueued 0: no waiting at all.
      const strict = await start({ maxConcurrent: 1, maxQueued: 0 }, 'strict.sock');
      const only = blocker(strict);
      await only.spawned;
      expectBusy(await run(remoteSpawn('true', [], { connect: strict.address() })));
      only.release();
      await only.done;
    });

    it('queueTimeout: a request that waits longer fails with ERR_SIDECAR_BUSY and never runs', async function () {
      const server = await start({ maxConcurrent: 1, queueTimeout: 300 });
      const spawned = [];
      server.on('spawn', (info) => spawned.push(info.argv[0]));
      const running = blocker(server, { argv0: 'running' });
      await running.spawned;
      const started = Date.now();
      const late = await run(remoteSpawn('true', [], { connect: server.address(), argv0: 'late' }));
      const waited = Date.now() - started;
      expectBusy(late, 'queueTimeout');
      expect(waited, 'refused before queueTimeout').to.be.at.least(250);
      expect(isAlive(running.child.pid), 'the refusal waited for a place instead of the timeout').to.equal(true);
      expect(server.stats().queued).to.equal(0);
      running.release();
      await running.done;
      await sleep(100);
      expect(spawned).to.deep.equal(['running']);
    });

    it('a queued request whose client disconnects leaves the queue (stats().queued drops) and never runs', async function () {
      const server = await start({ maxConcurrent: 1 });
      const spawned = [];
      server.on('spawn', (info) => spawned.push(info.argv[0]));
      const running = blocker(server, { argv0: 'running' });
      await running.spawned;
      const marker = path.join(dir, 'ran');

      // A raw client: request, then close.
      const fd = rawConnect(server);
      rawExec(fd, { argv: ['/bin/sh', '-c', `echo raw >> ${marker}`] });
      expect(await pollUntil(() => server.stats().queued === 1, { timeout: 2000 })).to.equal(true);
      // Closed here, and no more after the test: a second close of the
      // number would hit whatever the process opened under it since.
      closeRaw(fd);
      expect(await pollUntil(() => server.stats().queued === 0, { timeout: 2000 }), 'still queued after its client left').to.equal(true);

      // A client process, SIGKILLed while queued.
      const report = path.join(dir, 'report');
      const client = childProcess.spawn(NODE, [fixture('client.js'), JSON.stringify({
        connect: server.address(), report, command: '/bin/sh', args: ['-c', `echo process >> ${marker}`], options: { stdio: 'ignore' },
      })], { stdio: 'ignore' });
      expect(await pollUntil(() => server.stats().queued === 1, { timeout: 10000 }), 'the client process never got queued').to.equal(true);
      client.kill('SIGKILL');
      await exited(client);
      expect(await pollUntil(() => server.stats().queued === 0, { timeout: 2000 }), 'still queued after its client died').to.equal(true);
      expect(await pollUntil(() => server.stats().connections === 1, { timeout: 2000 })).to.equal(true);

      running.release();
      await running.done;
      await sleep(300);
      expect(spawned).to.deep.equal(['running']);
      expect(fs.existsSync(marker), 'a departed client\'s program ran').to.equal(false);
      expect(server.stats()).to.deep.include({ spawned: 1, running: 0, queued: 0 });
    });
  });

  describe('maxConnections, maxRequestBytes, maxFds', function () {
    it('maxConnections: one connection too many is answered ERR_SIDECAR_BUSY and closed; room again once others leave', async function () {
      const server = await start({ maxConnections: 2 });
      const a = rawConnect(server);
      const b = rawConnect(server);
      expect(await pollUntil(() => server.stats().connections === 2, { timeout: 2000 })).to.equal(true);
      expectBusy(await run(remoteSpawn('true', [], { connect: server.address() })), 'too many connections');
      expect(server.stats()).to.deep.include({ connections: 2, failed: 1 });
      closeRaw(a);
      closeRaw(b);
      expect(await pollUntil(() => server.stats().connections === 0, { timeout: 2000 })).to.equal(true);
      const ok = await run(remoteSpawn('echo', ['room'], { connect: server.address() }));
      expect(ok.stdout.toString()).to.equal('room\n');
    });

    it('maxConnections, server in another process: each turned-away client gets ERR_SIDECAR_BUSY (no throw, no crash)', async function () {
      const server = await startServer({ serverOptions: { maxConnections: 1 }, cwd: '/' });
      try {
        const hold = binding.connect(server.path);
        rawFds.push(hold);
        await server.waitEvent((event) => event.event === 'connection');
        // In a client process of its own: a crash there must not take mocha down.
        const client = childProcess.spawnSync(NODE, [fixture('busy-client.js'), server.path, '8'], { encoding: 'utf8', timeout: 20000 });
        expect(client.status, client.stderr).to.equal(0);
        const outcomes = JSON.parse(client.stdout);
        const wrong = outcomes.filter((outcome) => outcome.error !== 'ERR_SIDECAR_BUSY');
        expect(wrong, `${wrong.length} of ${outcomes.length} outcomes of 8 turned-away clients were not ERR_SIDECAR_BUSY`).to.deep.equal([]);
        expect(outcomes).to.have.lengthOf(8);
        expect(server.alive).to.equal(true);
      } finally {
        await server.stop();
      }
    });

    it('maxRequestBytes: a larger request fails with ERR_SIDECAR_REQUEST_TOO_LARGE; a smaller one runs', async function () {
      const server = await start({ maxRequestBytes: 1024 });
      const big = await run(remoteSpawn('echo', ['x'.repeat(2000)], { connect: server.address(), env: {} }));
      expect(big.error && big.error.code).to.equal('ERR_SIDECAR_REQUEST_TOO_LARGE');
      expect(big.error.message).to.include('1024');
      expect(big.events).to.deep.equal(['error', 'close']);
      // The limit counts the environment too.
      const bigEnv = await run(remoteSpawn('true', [], { connect: server.address(), env: { HUGE: 'y'.repeat(2000) } }));
      expect(bigEnv.error && bigEnv.error.code).to.equal('ERR_SIDECAR_REQUEST_TOO_LARGE');
      const small = await run(remoteSpawn('echo', ['x'.repeat(500)], { connect: server.address(), env: {} }));
      expect(small.error).to.equal(null);
      expect(small.stdout.toString()).to.equal(`${'x'.repeat(500)}\n`);
      expect(server.stats()).to.deep.include({ spawned: 1, failed: 2 });
    });

    it('maxRequestBytes: a request longer than one record is refused with ERR_SIDECAR_REQUEST_TOO_LARGE too (not a lost connection)', async function () {
      const server = await start({ maxRequestBytes: 1024 });
      const refusals = [];
      server.on('clientError', (error) => refusals.push(error.code));
      const big = await run(remoteSpawn('echo', ['x'.repeat(200 * 1024)], { connect: server.address(), env: {} }));
      expect(refusals, 'the server did not refuse it as too large').to.deep.equal(['ERR_SIDECAR_REQUEST_TOO_LARGE']);
      expect(big.events).to.deep.equal(['error', 'close']);
      expect(big.error.code, `the client lost the server's answer: ${big.error.message}`).to.equal('ERR_SIDECAR_REQUEST_TOO_LARGE');
    });

    it('maxFds: a request passing more fds fails with ERR_SIDECAR_REQUEST_TOO_LARGE; fewer run', async function () {
      const server = await start({ maxFds: 2 });
      const three = await run(remoteSpawn('echo', ['three'], { connect: server.address(), stdio: ['pipe', 'pipe', 'pipe'] }));
      expect(three.error && three.error.code).to.equal('ERR_SIDECAR_REQUEST_TOO_LARGE');
      expect(three.error.message).to.include('fds');
      const two = await run(remoteSpawn('echo', ['two'], { connect: server.address(), stdio: ['ignore', 'pipe', 'pipe'] }));
      expect(two.error).to.equal(null);
      expect(two.stdout.toString()).to.equal('two\n');
      const none = await start({ maxFds: 0 }, 'none.sock');
      const ignoring = await run(remoteSpawn('true', [], { connect: none.address(), stdio: 'ignore' }));
      expect(ignoring.exitArgs).to.deep.equal([0, null]);
      const one = await run(remoteSpawn('true', [], { connect: none.address(), stdio: ['ignore', 'pipe', 'ignore'] }));
      expect(one.error && one.error.code).to.equal('ERR_SIDECAR_REQUEST_TOO_LARGE');
    });
  });

  describe('handshakeTimeout', function () {
    it('a connection that sends nothing is dropped after handshakeTimeout (FAILED, ETIMEDOUT, hang-up); so is a request left unfinished', async function () {
      const server = await start({ handshakeTimeout: 300 });
      const errors = [];
      server.on('clientError', (error) => errors.push(error));
      const started = Date.now();
      const silent = rawConnect(server);
      const half = rawConnect(server);
      // Half a request: the EXEC record announces more than it carries.
      const payload = protocol.encodeExecPayload({
        file: 'true', argv: ['true'], env: [], cwd: '', fdMap: [-1, -1, -1], newSession: false, serverEnv: false, uid: -1, gid: -1,
      });
      const record = Buffer.alloc(8 + 10);
      record.set([protocol.PROTOCOL_VERSION, 1, 0, 0]);
      record.writeUInt32LE(payload.length, 4);
      payload.copy(record, 8, 0, 10);
      expect(binding.send(half, record, 0, record.length, [])).to.equal(record.length);
      for (const fd of [silent, half]) {
        const reply = await receive(fd);
        expect(reply.timeout, 'not dropped within 5 s').to.equal(undefined);
        expect(reply.message && reply.message.type).to.equal(T.Failed);
        expect(reply.message.failed).to.deep.include({ errno: os.constants.errno.ETIMEDOUT, syscall: 'handshake' });
        expect(reply.message.failed.message).to.include('300 ms');
        expect((await receive(fd)).hangup).to.equal(true);
      }
      expect(Date.now() - started, 'dropped before handshakeTimeout').to.be.at.least(250);
      expect(errors.map((error) => error.code)).to.deep.equal(['ERR_SIDECAR_PROTOCOL', 'ERR_SIDECAR_PROTOCOL']);
      expect(await pollUntil(() => server.stats().connections === 0, { timeout: 2000 })).to.equal(true);
      // A complete request is not subject to it, however long its program runs.
      const long = await run(remoteSpawn('sleep', ['0.6'], { connect: server.address() }));
      expect(long.exitArgs).to.deep.equal([0, null]);
    });
  });

  describe('handshakeTimeout and fds', function () {
    it('the fds attached to a request that handshakeTimeout drops are released (client still connected)', async function () {
      const server = await start({ handshakeTimeout: 300 });
      const [readEnd, writeEnd] = binding.pipe();
      rawFds.push(readEnd, writeEnd);
      const target = `pipe:[${fs.fstatSync(readEnd).ino}]`;
      const copies = () => [...fdTable(process.pid).values()].filter((link) => link === target).length;
      expect(copies()).to.equal(2);
      // An EXEC record that announces more than it carries, with both pipe ends attached.
      const fd = rawConnect(server);
      const record = Buffer.alloc(8 + 16);
      record.set([protocol.PROTOCOL_VERSION, 1, 0, 0]);
      record.writeUInt32LE(1000, 4);
      expect(binding.send(fd, record, 0, record.length, [readEnd, writeEnd])).to.equal(record.length);
      // The server (this process) now holds its own two copies.
      expect(await pollUntil(() => copies() === 4, { timeout: 2000 }), 'the server never received the fds').to.equal(true);
      const reply = await receive(fd);
      expect(reply.message && reply.message.failed).to.deep.include({ syscall: 'handshake' });
      const released = await pollUntil(() => copies() === 2, { timeout: 2000 });
      expect(released, `the server still holds ${copies() - 2} fds of a request it dropped at handshakeTimeout`).to.equal(true);
    });
  });

  describe('maxRuntime, killSignal and exit reasons', function () {
    it('maxRuntime: the program gets killSignal (default SIGTERM); the client sees exitReason \'maxRuntime\' and signalCode', async function () {
      const server = await start({ maxRuntime: 300 });
      const exits = [];
      server.on('exit', (info) => exits.push(info));
      const started = Date.now();
      const child = remoteSpawn(fixture('grandchild.sh'), [], { connect: server.address(), stdio: ['ignore', 'pipe', 'ignore'] });
      const done = run(child);
      const [shell, grandchild] = (await firstLine(child.stdout)).split(' ').map(Number);
      const result = await done;
      expect(result.exitArgs).to.deep.equal([null, 'SIGTERM']);
      expect(child.signalCode).to.equal('SIGTERM');
      expect(child.exitReason).to.equal('maxRuntime');
      expect(Date.now() - started).to.be.at.least(250);
      expect(exits.map((info) => [info.reason, info.signal])).to.deep.equal([['maxRuntime', 'SIGTERM']]);
      // The whole group got it.
      expect(await pollUntil(() => !isAlive(shell) && !isAlive(grandchild), { timeout: 1000 }), 'the grandchild survived maxRuntime').to.equal(true);

      const quick = remoteSpawn('true', [], { connect: server.address() });
      await run(quick);
      expect(quick.exitReason).to.equal('exit');
    });

    it('maxRuntime with killSignal SIGUSR2', async function () {
      const server = await start({ maxRuntime: 200, killSignal: 'SIGUSR2' });
      const child = remoteSpawn('sleep', ['30'], { connect: server.address() });
      const result = await run(child);
      expect(result.exitArgs).to.deep.equal([null, 'SIGUSR2']);
      expect(child.exitReason).to.equal('maxRuntime');
    });

    it('exitReason \'client-signal\' after kill() (SIGTERM, SIGKILL), \'exit\' otherwise', async function () {
      const server = await start();
      for (const signal of ['SIGTERM', 'SIGKILL']) {
        const child = remoteSpawn('sleep', ['30'], { connect: server.address() });
        child.once('spawn', () => child.kill(signal));
        const result = await run(child);
        expect(result.exitArgs).to.deep.equal([null, signal]);
        expect(child.exitReason).to.equal('client-signal');
      }
      const plain = remoteSpawn('sh', ['-c', 'exit 9'], { connect: server.address() });
      expect((await run(plain)).exitArgs).to.deep.equal([9, null]);
      expect(plain.exitReason).to.equal('exit');
      // A signal the program survives does not make its later exit the client's doing.
      const survivor = remoteSpawn('sh', ['-c', 'trap "exit 5" USR1; echo ready; while :; do sleep 0.05; done'], { connect: server.address() });
      const survived = run(survivor);
      await firstLine(survivor.stdout);
      survivor.kill('SIGUSR1');
      expect((await survived).exitArgs).to.deep.equal([5, null]);
      expect(survivor.exitReason).to.equal('exit');
    });
  });

  describe('disconnectSignal and disconnectGrace', function () {
    /** A client process running a program that notes TERM in `marker` and goes on; resolves once it runs. */
    async function trappingClient(server, marker) {
      const report = path.join(dir, `report-${path.basename(marker)}`);
      const script = `trap 'echo term >> ${marker}' TERM; echo ready >> ${marker}; while :; do sleep 0.05; done`;
      const client = childProcess.spawn(NODE, [fixture('client.js'), JSON.stringify({
        connect: server.address(), report, command: 'sh', args: ['-c', script], options: { stdio: 'ignore' },
      })], { stdio: 'ignore' });
      const spawned = await pollUntil(() => readReport(report).find((line) => line.event === 'spawn'), { timeout: 10000 });
      expect(spawned, 'the client never started its program').to.be.an('object');
      await pollUntil(() => fs.existsSync(marker), { timeout: 2000 });
      return { client, pid: spawned.pid };
    }

    it('SIGTERM, then SIGKILL after the grace: a program that traps TERM sees it and still dies', async function () {
      const server = await start({ disconnectSignal: 'SIGTERM', disconnectGrace: 500 });
      const exits = [];
      server.on('exit', (info) => exits.push({ ...info, at: Date.now() }));
      const marker = path.join(dir, 'graced');
      const { client, pid } = await trappingClient(server, marker);
      client.kill('SIGKILL');
      await exited(client);
      const killedAt = Date.now();
      expect(await pollUntil(() => exits.length === 1, { timeout: 5000 }), 'the program did not end after its client died').to.equal(true);
      expect(isAlive(pid)).to.equal(false);
      expect(exits[0]).to.deep.include({ reason: 'disconnect', signal: 'SIGKILL', exitCode: null });
      expect(exits[0].at - killedAt, 'SIGKILL came before the grace').to.be.at.least(400);
      expect(fs.readFileSync(marker, 'utf8')).to.match(/^ready\nterm\n/);
    });

    it('the default: SIGKILL at once (the program never sees TERM); SIGTERM alone ends a program that does not trap it', async function () {
      const server = await start();
      const exits = [];
      server.on('exit', (info) => exits.push(info));
      const marker = path.join(dir, 'default');
      const { client } = await trappingClient(server, marker);
      client.kill('SIGKILL');
      await exited(client);
      expect(await pollUntil(() => exits.length === 1, { timeout: 2000 })).to.equal(true);
      expect(exits[0]).to.deep.include({ reason: 'disconnect', signal: 'SIGKILL' });
      expect(fs.readFileSync(marker, 'utf8')).to.equal('ready\n');

      const termOnly = await start({ disconnectSignal: 'SIGTERM', disconnectGrace: 5000 }, 'term.sock');
      const termExits = [];
      termOnly.on('exit', (info) => termExits.push(info));
      const report = path.join(dir, 'report-plain');
      const plain = childProcess.spawn(NODE, [fixture('client.js'), JSON.stringify({
        connect: termOnly.address(), report, command: 'sleep', args: ['30'], options: { stdio: 'ignore' },
      })], { stdio: 'ignore' });
      await pollUntil(() => readReport(report).some((line) => line.event === 'spawn'), { timeout: 10000 });
      plain.kill('SIGKILL');
      await exited(plain);
      expect(await pollUntil(() => termExits.length === 1, { timeout: 2000 }), 'SIGTERM did not end it well before the grace').to.equal(true);
      expect(termExits[0]).to.deep.include({ reason: 'disconnect', signal: 'SIGTERM' });
    });
  });

  describe('close()', function () {
    it('with closeTimeout: running programs get killSignal (exitReason \'close\'), queued requests are dropped, then it resolves', async function () {
      const server = await start({ closeTimeout: 300, maxConcurrent: 1 });
      const child = remoteSpawn('sleep', ['30'], { connect: server.address() });
      const done = run(child);
      await once(child, 'spawn');
      const queued = remoteSpawn('true', [], { connect: server.address(), argv0: 'queued' });
      const queuedDone = run(queued);
      await pollUntil(() => server.stats().queued === 1, { timeout: 2000 });
      const spawned = [];
      server.on('spawn', (info) => spawned.push(info.argv[0]));
      const closed = once(server, 'close');
      const started = Date.now();
      await closeHere(server);
      await closed;
      expect(Date.now() - started).to.be.at.least(250);
      const result = await done;
      expect(result.exitArgs).to.deep.equal([null, 'SIGTERM']);
      expect(child.exitReason).to.equal('close');
      const dropped = await queuedDone;
      expect(dropped.events).to.deep.equal(['error', 'close']);
      expect(spawned).to.deep.equal([]);
      expect(server.listening).to.equal(false);
      expect(fs.existsSync(path.join(dir, 'sock'))).to.equal(false);
    });

    it('with closeTimeout: a program that ignores killSignal gets SIGKILL 5 s later (types/server.d.ts), and close() resolves', async function () {
      const server = await start({ closeTimeout: 200 });
      const child = remoteSpawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { connect: server.address(), stdio: ['ignore', 'pipe', 'ignore'] });
      const done = run(child, { timeout: 15000 });
      await firstLine(child.stdout);
      const started = Date.now();
      // Waits for close() however long it takes (so that nothing is left behind), then judges.
      await Promise.race([closeHere(server), sleep(12000)]);
      const took = Date.now() - started;
      const result = await done;
      expect(result.exitArgs).to.deep.equal([null, 'SIGKILL']);
      expect(child.exitReason).to.equal('close');
      expect(server.listening).to.equal(false);
      // closeTimeout (200 ms), killSignal ignored, then SIGKILL 5 s later: generous bounds either side.
      expect(took, 'SIGKILL came before closeTimeout + 5 s').to.be.at.least(5000);
      expect(took, `close() took ${took} ms with closeTimeout 200 ms`).to.be.below(9000);
    });

    it('without closeTimeout: waits for running programs, refusing new clients meanwhile, then resolves', async function () {
      const server = await start();
      const child = remoteSpawn('sh', ['-c', 'read line; exit 4'], { connect: server.address() });
      const done = run(child);
      await once(child, 'spawn');
      let resolved = false;
      const closing = closeHere(server).then(() => { resolved = true; });
      await sleep(400);
      expect(resolved, 'close() resolved while a program still ran').to.equal(false);
      expect(isAlive(child.pid)).to.equal(true);
      const late = await run(remoteSpawn('true', [], { connect: path.join(dir, 'sock') }));
      expect(late.error && late.error.code).to.equal('ERR_SIDECAR_CONNECT');
      child.stdin.end('done\n');
      const result = await done;
      expect(result.exitArgs).to.deep.equal([4, null]);
      expect(child.exitReason).to.equal('exit');
      await closing;
      expect(resolved).to.equal(true);
    });
  });
});
