'use strict';
// The server's protocol state machine (src/server/session.ts) against the
// fake binding: records go in through the fake's receive queue and poller,
// replies come out of its send log, programs are fake processes ended by the
// test, and time is a fake clock. Each test checks the replies, the reports,
// the spawn, the signals and that every fd the session got is closed.

const os = require('node:os');
const vm = require('node:vm');
const { expect } = require('chai');
const { Session } = require('../../dist/server/session');
const { WorkQueue } = require('../../dist/server/work-queue');
const { ByteBudget } = require('../../dist/server/byte-budget');
const { normalizeServerOptions } = require('../../dist/server/options');
const { Containment } = require('../../dist/server/containment');
const {
  FD_IGNORE, FD_CLOSED, NO_ID, MAX_RECORD_BYTES, encodeExecPayload, encodeExecRecords, encodeSignal, encodePing,
  encodeStop, decodeServerMessage,
} = require('../../dist/protocol');
const { FakeBinding, nativeError, forbidRealIO, READABLE, WRITABLE } = require('../support/fake-binding');
const { FakeClock } = require('../support/fake-clock');

const { SIGTERM, SIGKILL, SIGINT, SIGSEGV, SIGUSR2, SIGWINCH } = os.constants.signals;
const { EPROTO, E2BIG, EAGAIN, ETIMEDOUT, EPERM, EMFILE, ENOENT } = os.constants.errno;
// MessageType and ExitReason are const enums (absent at run time); values from docs/protocol.md.
const T = { Started: 16, Failed: 17, Exit: 18, Stopping: 19, Pong: 20 };
const REASON = { exit: 0, clientSignal: 1, disconnect: 2, maxRuntime: 3, close: 4 };

function request(overrides = {}) {
  return {
    file: 'tool',
    argv: ['tool', 'arg'],
    env: ['PATH=/opt/bin', 'LANG=C'],
    cwd: '',
    fdMap: [0, 1, FD_IGNORE, FD_CLOSED],
    newSession: false,
    serverEnv: false,
    uid: NO_ID,
    gid: NO_ID,
    ...overrides,
  };
}

/** A server's worth of context around the fake binding; connect() makes sessions. */
function makeServer(optionOverrides = {}, queue = undefined) {
  const binding = new FakeBinding();
  const options = normalizeServerOptions(optionOverrides);
  const server = {
    binding,
    options,
    queue: queue ?? new WorkQueue(options.maxConcurrent, options.maxQueued),
    budget: new ByteBudget(options.maxBufferedBytes),
    devNull: binding.openReadWrite('/dev/null'),
    reports: [],
  };
  // Each session gets this plus its own report() outlet (see connectClient).
  server.context = { binding, options, queue: server.queue, budget: server.budget, devNull: server.devNull, containment: Containment.open('none', binding) };
  server.connect = () => connectClient(server);
  /**
   * Every fd the fake handed out is closed but the server's /dev/null; every
   * poller is closed; and none that a client sent, nor a connection (whose
   * unread records may hold such fds), was closed on the event loop.
   */
  server.assertClean = () => {
    binding.assertClean({ except: [server.devNull] });
    const onLoop = binding.callsOf('close').map(([fd]) => fd).filter((fd) => /^(received on|accepted connection)/.test(binding.labelOf(fd)));
    if (onLoop.length > 0) throw new Error(`closed on the event loop: ${onLoop.map((fd) => `${fd} (${binding.labelOf(fd)})`).join(', ')}`);
  };
  return server;
}

function connectClient(server) {
  const { binding } = server;
  const fd = binding.newFd('accepted connection');
  // The server reads the credentials when it admits the connection.
  const session = new Session(fd, {
    ...server.context,
    report: (report) => server.reports.push({ session, ...report }),
  }, binding.peerCredentials(fd));
  const client = {
    fd,
    session,
    poller: binding.pollerFor(fd),
    /** Queues records (the first with `fds` new fds attached) and fires one poll. Returns the attached fds. */
    send(records, { fds = 0, ...flags } = {}) {
      const list = Array.isArray(records) ? records : [records];
      const attached = binding.queueRecord(fd, list[0], { fds, ...flags });
      for (const record of list.slice(1)) binding.queueRecord(fd, record);
      client.poller.fire(0, READABLE);
      return attached;
    },
    exec(req = request(), fds = 2) {
      return client.send(encodeExecRecords(encodeExecPayload(req)), { fds });
    },
    hangUp() {
      binding.queueEnd(fd);
      client.poller.fire(0, READABLE);
    },
    replies() {
      return binding.sent(fd).map((record) => decodeServerMessage(record.data));
    },
    reports(type) {
      return server.reports.filter((report) => report.session === session && (type === undefined || report.type === type));
    },
    reportTypes() {
      return client.reports().map((report) => report.type);
    },
    /** The fake process this session started. */
    proc() {
      const spawned = client.replies().find((reply) => reply.type === T.Started);
      return binding.processes.get(spawned.pid);
    },
  };
  return client;
}

function failed(client) {
  const replies = client.replies();
  expect(replies.map((reply) => reply.type)).to.deep.equal([T.Failed]);
  return replies[0].failed;
}

describe('unit: server Session', () => {
  forbidRealIO();

  const clock = new FakeClock();
  beforeEach(() => clock.install());
  afterEach(() => clock.uninstall());

  describe('a program from request to exit', () => {
    it('does not start a program for a client that hung up after sending its request (its end queued behind it)', () => {
      const server = makeServer();
      const client = server.connect();
      const fds = server.binding.queueRecord(client.fd, encodeExecRecords(encodeExecPayload(request()))[0], { fds: 2 });
      client.hangUp();
      expect(server.binding.callsOf('peerHungUp')).to.deep.equal([[client.fd]]);
      expect(server.binding.callsOf('spawn')).to.deep.equal([]);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      expect(client.replies()).to.deep.equal([]);
      expect(client.reportTypes()).to.deep.equal(['request', 'done']);
      expect([server.queue.running, server.queue.queued]).to.deep.equal([0, 0]);
      server.assertClean();
    });

    it('spawns what was asked with the client\'s fds, replies STARTED, then EXIT, reporting request, spawn, exit, done', () => {
      // The client's PATH as given: /opt/bin need not exist on this machine.
      const server = makeServer({ callerEnv: ['PATH'] });
      const client = server.connect();
      const fds = client.exec();
      const [spawnOptions] = server.binding.callsOf('spawn')[0];
      expect(spawnOptions).to.deep.equal({
        candidates: ['/opt/bin/tool'], argv: ['tool', 'arg'], env: ['PATH=/opt/bin', 'LANG=C'], cwd: null,
        // A session of its own though the request is not detached: no program shares the server's terminal.
        fdMap: [fds[0], fds[1], server.devNull, -1], newSession: true, terminal: -1, deathSignal: SIGKILL, uid: NO_ID, gid: NO_ID,
      });
      // The program has its copies: the session's are closed at once.
      expect(fds.map((fd) => server.binding.isOpen(fd))).to.deep.equal([false, false]);
      const proc = client.proc();
      expect(client.replies()).to.deep.equal([{ type: T.Started, pid: proc.pid }]);
      expect(client.reportTypes()).to.deep.equal(['request', 'spawn']);
      const credentials = server.binding.credentials;
      expect(client.reports('request')[0].info).to.deep.equal({ credentials, argv: ['tool', 'arg'], cwd: '', droppedEnv: [], searchPath: '/opt/bin', detached: false });
      expect(client.reports('spawn')[0].info.pid).to.equal(proc.pid);
      expect(server.queue.running).to.equal(1);

      clock.tick(1234);
      server.binding.programExits(proc.pid, { exitCode: 7 });
      expect(client.replies()[1]).to.deep.equal({ type: T.Exit, exit: { exitCode: 7, signal: null, reason: REASON.exit } });
      expect(client.reportTypes()).to.deep.equal(['request', 'spawn', 'exit', 'done']);
      expect(client.reports('exit')[0].info).to.deep.include({
        pid: proc.pid, exitCode: 7, signal: null, reason: 'exit', durationMs: 1234,
      });
      expect(server.queue.running).to.equal(0);
      server.assertClean();
    });

    it('reports a death by signal by name, and sends its number', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      server.binding.programExits(client.proc().pid, { signal: SIGSEGV });
      expect(client.replies()[1].exit).to.deep.equal({ exitCode: null, signal: SIGSEGV, reason: REASON.exit });
      expect(client.reports('exit')[0].info).to.include({ exitCode: null, signal: 'SIGSEGV', reason: 'exit' });
      server.assertClean();
    });

    it('reassembles a request split over EXEC and EXEC_MORE records, arriving over several polls', () => {
      const server = makeServer();
      const client = server.connect();
      const big = `BIG=${'x'.repeat(MAX_RECORD_BYTES * 2)}`;
      const records = encodeExecRecords(encodeExecPayload(request({ env: [big] })));
      expect(records).to.have.length(3);
      const fds = client.send(records[0], { fds: 2 });
      client.send(records[1]);
      expect(server.binding.callsOf('spawn')).to.deep.equal([]);
      client.send(records[2]);
      const [spawnOptions] = server.binding.callsOf('spawn')[0];
      expect(spawnOptions.env).to.deep.equal([big]);
      expect(spawnOptions.fdMap.slice(0, 2)).to.deep.equal(fds);
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('passes detached, uid/gid and cwd on to the spawn', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec(request({ newSession: true, uid: process.geteuid(), gid: process.getegid(), cwd: '/work', fdMap: [] }), 0);
      expect(server.binding.callsOf('spawn')[0][0]).to.deep.include({
        newSession: true, uid: process.geteuid(), gid: process.getegid(), cwd: '/work', fdMap: [],
      });
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      server.assertClean();
    });
  });

  describe('admin requests', () => {
    it('answers PING with PONG and hangs up', () => {
      const server = makeServer();
      const client = server.connect();
      client.send(encodePing());
      expect(client.replies()).to.deep.equal([{ type: T.Pong, version: 1 }]);
      expect(client.reportTypes()).to.deep.equal(['done']);
      server.assertClean();
    });

    it('accepts STOP from the server\'s own uid: STOPPING, then a stop report', () => {
      const server = makeServer();
      const client = server.connect();
      client.send(encodeStop());
      expect(client.replies()).to.deep.equal([{ type: T.Stopping }]);
      expect(client.reportTypes()).to.deep.equal(['done', 'stop']);
      server.assertClean();
    });

    it('refuses STOP when allowStop is false, or from another uid, as a denial', () => {
      for (const [options, uid, message] of [
        [{ allowStop: false }, process.geteuid(), 'this server does not accept stop requests'],
        [{}, process.geteuid() + 1000, 'only the server\'s own user or root may stop it'],
      ]) {
        const server = makeServer(options);
        server.binding.credentials.uid = uid;
        const client = server.connect();
        client.send(encodeStop());
        expect(failed(client)).to.deep.equal({ errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'stop', message });
        expect(client.reportTypes()).to.deep.equal(['denied', 'failed', 'done']);
        expect(client.reports('denied')[0].info.reason).to.equal('stop refused');
        server.assertClean();
      }
    });
  });

  describe('protocol violations before a program runs', () => {
    const cases = [
      ['a record with another version', () => Buffer.from([2, 1, 0, 0, 0, 0, 0, 0])],
      ['an unknown message type', () => Buffer.from([1, 99, 0, 0])],
      ['EXEC_MORE without a request', () => Buffer.from([1, 2, 0, 0, 1, 2, 3])],
      ['a signal before any request', () => encodeSignal(SIGTERM)],
    ];
    for (const [name, record] of cases) {
      it(`replies FAILED ERR_SIDECAR_PROTOCOL (EPROTO) to ${name}, closing the fds it carried`, () => {
        const server = makeServer();
        const client = server.connect();
        const fds = client.send(record(), { fds: 1 });
        expect(failed(client)).to.include({ errno: EPROTO, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol' });
        expect(client.reportTypes()).to.deep.equal(['failed', 'done']);
        expect(client.reports('failed')[0].error).to.include({ code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol' });
        expect(server.binding.isOpen(fds[0])).to.equal(false);
        server.assertClean();
      });
    }

    it('treats a second EXEC while a request is being received as a protocol error, closing the first one\'s fds', () => {
      const server = makeServer();
      const client = server.connect();
      const records = encodeExecRecords(encodeExecPayload(request({ env: [`BIG=${'x'.repeat(MAX_RECORD_BYTES)}`] })));
      const first = client.send(records[0], { fds: 2 });
      client.send(records[0]);
      expect(failed(client).message).to.equal('a second exec request');
      expect(first.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      server.assertClean();
    });

    it('treats a request longer than it announced, or a malformed payload, as a protocol error', () => {
      for (const payload of [Buffer.alloc(3), encodeExecPayload(request({ fdMap: [5] }))]) {
        const server = makeServer();
        const client = server.connect();
        const header = Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]);
        header.writeUInt32LE(payload.length, 4);
        const fds = client.send(Buffer.concat([header, payload]), { fds: 1 });
        expect(failed(client)).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
        expect(server.binding.isOpen(fds[0])).to.equal(false);
        expect(server.binding.callsOf('spawn')).to.deep.equal([]);
        server.assertClean();
      }
    });

    it('treats a record the kernel truncated as a protocol error', () => {
      const server = makeServer();
      const client = server.connect();
      client.send(Buffer.alloc(MAX_RECORD_BYTES + 1, 1));
      expect(failed(client)).to.include({ code: 'ERR_SIDECAR_PROTOCOL', message: `record larger than ${MAX_RECORD_BYTES} bytes` });
      server.assertClean();
    });

    it('replies EMFILE when the kernel dropped the request\'s fds (the server is out of fds)', () => {
      const server = makeServer();
      const client = server.connect();
      const fds = client.exec(request(), 2);
      // (That exec went through; this one is a fresh client whose fds were lost.)
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      const other = server.connect();
      const lost = other.send(encodeExecRecords(encodeExecPayload(request()))[0], { fds: 1, fdsTruncated: true });
      expect(failed(other)).to.deep.include({ errno: EMFILE, code: 'EMFILE', syscall: 'recvmsg' });
      expect(server.binding.isOpen(lost[0])).to.equal(false);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      server.assertClean();
    });

    it('refuses a request over maxRequestBytes or with more fds than maxFds with ERR_SIDECAR_REQUEST_TOO_LARGE (E2BIG)', () => {
      for (const [options, req, fdCount] of [
        [{ maxRequestBytes: 1024 }, request({ env: [`X=${'y'.repeat(2000)}`] }), 2],
        [{ maxFds: 1 }, request(), 2],
      ]) {
        const server = makeServer(options);
        const client = server.connect();
        const fds = client.exec(req, fdCount);
        expect(failed(client)).to.include({ errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request' });
        expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
        expect(client.reportTypes()).to.deep.equal(['failed', 'done']);
        server.assertClean();
      }
    });
  });

  describe('policy', () => {
    it('replies FAILED ERR_SIDECAR_DENIED to a request the policy refuses, reports a denial (not a failure), spawns nothing', () => {
      const server = makeServer({ allowCommands: ['other'] });
      const client = server.connect();
      const fds = client.exec();
      expect(failed(client)).to.deep.equal({
        errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'allowCommands', message: 'tool is not an allowed command',
      });
      expect(client.reportTypes()).to.deep.equal(['denied', 'done']);
      expect(client.reports('denied')[0].info).to.deep.equal({
        credentials: server.binding.credentials, argv: ['tool', 'arg'], reason: 'tool is not an allowed command',
      });
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      expect(server.binding.callsOf('spawn')).to.deep.equal([]);
      server.assertClean();
    });

    it('waits for an async authorize() before spawning, and reports the environment it dropped', async () => {
      let allow;
      const server = makeServer({ allowCommands: ['tool'], authorize: () => new Promise((resolve) => { allow = resolve; }) });
      const client = server.connect();
      client.exec(request({ env: ['LD_PRELOAD=/x.so'] }));
      expect(server.binding.callsOf('spawn')).to.deep.equal([]);
      allow(true);
      await Promise.resolve();
      await Promise.resolve();
      expect(server.binding.callsOf('spawn')).to.have.length(1);
      expect(client.reports('request')[0].info.droppedEnv).to.deep.equal(['LD_PRELOAD']);
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('drops the answer of an authorize() that resolves after the client left: no spawn, one done, fds closed', async () => {
      let allow;
      const server = makeServer({ authorize: () => new Promise((resolve) => { allow = resolve; }) });
      const client = server.connect();
      const fds = client.exec();
      client.hangUp();
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      allow(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(server.binding.callsOf('spawn')).to.deep.equal([]);
      expect(client.reportTypes()).to.deep.equal(['done']);
      server.assertClean();
    });

    it('ignores a signal that arrives while authorize() is still deciding (the program does not exist yet)', async () => {
      let allow;
      const server = makeServer({ authorize: () => new Promise((resolve) => { allow = resolve; }) });
      const client = server.connect();
      client.exec();
      client.send(encodeSignal(SIGINT));
      allow(true);
      await new Promise((resolve) => setImmediate(resolve));
      const proc = client.proc();
      expect(proc.signals).to.deep.equal([]);
      expect(client.reports('failed')).to.deep.equal([]);
      server.binding.programExits(proc.pid, { exitCode: 0 });
      server.assertClean();
    });

    // Regression (fixed: any thenable is awaited): a promise from another realm
    // (an authorize() written in a vm context, or under a test runner that
    // sandboxes modules such as Jest) is not `instanceof Promise` here, so the
    // pending promise itself is taken as the decision: `decision.allow` is
    // undefined, the request is "denied" with an undefined code and reason,
    // and encodeFailed() then throws a TypeError out of the poll callback.
    // policy.ts already accepts any thenable; the session should too.
    it('accepts a promise from another realm as authorize()\'s answer', async () => {
      const otherRealmPromise = vm.runInNewContext('Promise.resolve(true)');
      const server = makeServer({ authorize: () => otherRealmPromise });
      const client = server.connect();
      expect(() => client.exec()).to.not.throw();
      await new Promise((resolve) => setImmediate(resolve));
      expect(server.binding.callsOf('spawn')).to.have.length(1);
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      server.assertClean();
    });
  });

  describe('the work queue', () => {
    it('makes a request wait for a place and starts it, first in line, when a running program exits', () => {
      const server = makeServer({ maxConcurrent: 1 });
      const first = server.connect();
      const second = server.connect();
      first.exec();
      const waitingFds = second.exec();
      expect(second.reportTypes()).to.deep.equal(['request']);
      expect(second.replies()).to.deep.equal([]);
      expect([server.queue.running, server.queue.queued]).to.deep.equal([1, 1]);
      expect(waitingFds.every((fd) => server.binding.isOpen(fd))).to.equal(true); // still needed for the spawn

      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      expect(second.replies().map((reply) => reply.type)).to.deep.equal([T.Started]);
      expect(server.binding.callsOf('spawn')[1][0].fdMap.slice(0, 2)).to.deep.equal(waitingFds);
      expect([server.queue.running, server.queue.queued]).to.deep.equal([1, 0]);
      server.binding.programExits(second.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('replies ERR_SIDECAR_BUSY (EAGAIN) when the line is full', () => {
      const server = makeServer({ maxConcurrent: 1, maxQueued: 0 });
      const first = server.connect();
      first.exec();
      const second = server.connect();
      const fds = second.exec();
      expect(failed(second)).to.deep.include({ errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'queue' });
      expect(second.reportTypes()).to.deep.equal(['request', 'failed', 'done']);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('replies ERR_SIDECAR_BUSY (ETIMEDOUT) to a request still waiting after queueTimeout, and leaves the line', () => {
      const server = makeServer({ maxConcurrent: 1, queueTimeout: 50 });
      const first = server.connect();
      first.exec();
      const second = server.connect();
      const fds = second.exec();
      clock.tick(49);
      expect(second.replies()).to.deep.equal([]);
      clock.tick(1);
      expect(failed(second)).to.deep.include({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_BUSY', syscall: 'queue' });
      expect(server.queue.queued).to.equal(0);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      expect(server.binding.callsOf('spawn')).to.have.length(1);
      server.assertClean();
    });

    it('does not start a request whose client hung up while it waited in line, its end not read yet', () => {
      const server = makeServer({ maxConcurrent: 1 });
      const first = server.connect();
      first.exec();
      const second = server.connect();
      const fds = second.exec();
      server.binding.queueEnd(second.fd); // not read: its poll has not fired
      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      expect(server.binding.callsOf('spawn')).to.have.length(1);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      expect([server.queue.running, server.queue.queued]).to.deep.equal([0, 0]);
      second.poller.fire(0, READABLE);
      expect(second.replies()).to.deep.equal([]);
      expect(second.reportTypes()).to.deep.equal(['request', 'done']);
      server.assertClean();
    });

    it('takes a request whose client leaves out of the line, so it never starts', () => {
      const server = makeServer({ maxConcurrent: 1 });
      const first = server.connect();
      first.exec();
      const second = server.connect();
      const fds = second.exec();
      second.hangUp();
      expect(server.queue.queued).to.equal(0);
      expect(second.reportTypes()).to.deep.equal(['request', 'done']);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      expect(server.binding.callsOf('spawn')).to.have.length(1);
      server.assertClean();
    });

    it('gives the place back and lets the next request run when a spawn fails', () => {
      const server = makeServer({ maxConcurrent: 1 });
      const first = server.connect();
      first.exec();
      const second = server.connect();
      second.exec();
      const third = server.connect();
      third.exec();
      server.binding.script('spawn', nativeError('ENOENT', 'execve'));
      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      expect(failed(second)).to.include({ code: 'ENOENT' });
      expect(third.replies().map((reply) => reply.type)).to.deep.equal([T.Started]);
      server.binding.programExits(third.proc().pid, { exitCode: 0 });
      server.assertClean();
    });
  });

  describe('maxBufferedBytes: the bytes of requests not yet running', () => {
    /** An EXEC record announcing `total` payload bytes and carrying `first` of them (never a valid payload). */
    const head = (total, first) => {
      const record = Buffer.alloc(8 + first, 0x41);
      record.set([1, 1, 0, 0]);
      record.writeUInt32LE(total, 4);
      return record;
    };
    const more = (bytes) => {
      const record = Buffer.alloc(4 + bytes, 0x41);
      record.set([1, 2, 0, 0]);
      return record;
    };
    const KiB = 1024;
    const MiB = 1024 * KiB;

    it('counts a partial request\'s buffer as its bytes arrive, not by the size it announces', () => {
      const server = makeServer({ maxRequestBytes: 8 * MiB, maxBufferedBytes: 8 * MiB });
      const client = server.connect();
      client.send(head(8 * MiB, 0));
      expect(server.budget.held).to.equal(0);
      client.send(more(60 * KiB));
      expect(server.budget.held).to.equal(64 * KiB); // the buffer's first size
      client.send([more(60 * KiB), more(60 * KiB)]);
      expect(server.budget.held).to.equal(256 * KiB); // doubled twice
      client.hangUp();
      expect(server.budget.held).to.equal(0);
      expect(client.reportTypes()).to.deep.equal(['done']);
      server.assertClean();
    });

    it('refuses the request that would pass it with ERR_SIDECAR_BUSY (EAGAIN), closing its fds; the others keep theirs', () => {
      const server = makeServer({ maxRequestBytes: MiB, maxBufferedBytes: MiB });
      const first = server.connect();
      first.send([head(MiB, 0), ...Array.from({ length: 9 }, () => more(60 * KiB))]); // 540 KiB: a buffer of 1 MiB
      expect(server.budget.held).to.equal(MiB);
      const second = server.connect();
      const fds = second.send([head(MiB, 100)], { fds: 2 });
      expect(failed(second)).to.deep.equal({
        errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'request', message: `the server holds as many bytes of requests as it may (${MiB})`,
      });
      expect(second.reportTypes()).to.deep.equal(['failed', 'done']);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      expect(server.budget.held).to.equal(MiB);
      expect(first.replies()).to.deep.equal([]);
      first.hangUp();
      expect(server.budget.held).to.equal(0);
      server.assertClean();
    });

    it('keeps a whole request\'s bytes while it waits in the queue, and gives them back when its program starts', () => {
      const server = makeServer({ maxConcurrent: 1 });
      const first = server.connect();
      first.exec();
      expect(server.budget.held).to.equal(0); // started at once
      const second = server.connect();
      second.exec(request({ env: [`X=${'y'.repeat(100 * 1024)}`] }));
      const waiting = server.budget.held;
      expect(waiting).to.be.at.least(100 * 1024);
      server.binding.programExits(first.proc().pid, { exitCode: 0 });
      expect(second.replies().map((reply) => reply.type)).to.deep.equal([T.Started]);
      expect(server.budget.held).to.equal(0);
      server.binding.programExits(second.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('gives the bytes back when the request is refused, breaks the protocol, or times out', () => {
      const server = makeServer({ allowCommands: ['other'], handshakeTimeout: 100 });
      const denied = server.connect();
      denied.exec();
      expect(failed(denied)).to.include({ code: 'ERR_SIDECAR_DENIED' });
      const broken = server.connect();
      broken.send([head(MiB, 1000), more(0)]);
      expect(failed(broken)).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
      const slow = server.connect();
      slow.send(head(MiB, 1000));
      expect(server.budget.held).to.be.above(0);
      clock.tick(100);
      expect(failed(slow)).to.include({ code: 'ERR_SIDECAR_PROTOCOL', errno: ETIMEDOUT });
      expect(server.budget.held).to.equal(0);
      server.assertClean();
    });
  });

  describe('timers', () => {
    it('replies ERR_SIDECAR_PROTOCOL (ETIMEDOUT) when no complete request arrives within handshakeTimeout', () => {
      const server = makeServer({ handshakeTimeout: 100 });
      const idle = server.connect();
      const partial = server.connect();
      const records = encodeExecRecords(encodeExecPayload(request({ env: [`BIG=${'x'.repeat(MAX_RECORD_BYTES)}`] })));
      const fds = partial.send(records[0], { fds: 2 });
      clock.tick(99);
      expect(idle.replies()).to.deep.equal([]);
      clock.tick(1);
      for (const client of [idle, partial]) {
        expect(failed(client)).to.deep.include({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'handshake' });
        expect(client.reportTypes()).to.deep.equal(['failed', 'done']);
      }
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      server.assertClean();
    });

    it('stops the handshake timer once the request is complete', () => {
      const server = makeServer({ handshakeTimeout: 100 });
      const client = server.connect();
      client.exec();
      clock.tick(1000);
      expect(client.replies().map((reply) => reply.type)).to.deep.equal([T.Started]);
      expect(clock.pending()).to.deep.equal([]);
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('sends killSignal after maxRuntime, SIGKILL 5 s later if the program lingers, and reports reason maxRuntime', () => {
      const server = makeServer({ maxRuntime: 200, killSignal: 'SIGUSR2' });
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      clock.tick(199);
      expect(proc.signals).to.deep.equal([]);
      clock.tick(1);
      expect(proc.signals).to.deep.equal([{ via: 'group', signal: SIGUSR2 }, { via: 'pidfd', signal: SIGUSR2 }]);
      clock.tick(5000);
      expect(proc.signals.slice(2)).to.deep.equal([{ via: 'group', signal: SIGKILL }, { via: 'pidfd', signal: SIGKILL }]);
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.replies()[1].exit).to.deep.equal({ exitCode: null, signal: SIGKILL, reason: REASON.maxRuntime });
      expect(client.reports('exit')[0].info.reason).to.equal('maxRuntime');
      expect(clock.pending()).to.deep.equal([]);
      server.assertClean();
    });

    it('clears every timer it set once it is done', () => {
      const server = makeServer({ handshakeTimeout: 100, maxRuntime: 1000 });
      const client = server.connect();
      client.exec();
      expect(clock.pending()).to.have.length(1); // maxRuntime
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      expect(clock.pending()).to.deep.equal([]);
      server.assertClean();
    });
  });

  describe('signals and disconnects', () => {
    it('forwards a client\'s signal to the program\'s group, and reports its death by it as client-signal', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      proc.diesOn.add(SIGINT);
      client.send(encodeSignal(SIGINT));
      expect(proc.signals).to.deep.equal([{ via: 'group', signal: SIGINT }]);
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.replies()[1].exit).to.deep.equal({ exitCode: null, signal: SIGINT, reason: REASON.clientSignal });
      expect(client.reports('exit')[0].info.reason).to.equal('client-signal');
      server.assertClean();
    });

    it('reports an exit with a code after a client signal as a plain exit', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      client.send(encodeSignal(SIGTERM));
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      expect(client.replies()[1].exit.reason).to.equal(REASON.exit);
      server.assertClean();
    });

    it('kills the program\'s group with SIGKILL when the client leaves, and reports disconnect once it is reaped', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      client.hangUp();
      expect(proc.signals).to.deep.equal([{ via: 'group', signal: SIGKILL }, { via: 'pidfd', signal: SIGKILL }]);
      expect(server.binding.isOpen(client.fd)).to.equal(false);
      expect(client.reportTypes()).to.deep.equal(['request', 'spawn']); // not done while the program is there
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.reportTypes()).to.deep.equal(['request', 'spawn', 'exit', 'done']);
      expect(client.reports('exit')[0].info).to.include({ reason: 'disconnect', signal: 'SIGKILL' });
      expect(client.replies()).to.have.length(1); // no EXIT to a client that is gone
      server.assertClean();
    });

    it('with disconnectSignal and disconnectGrace, sends that signal first and SIGKILL after the grace', () => {
      const server = makeServer({ disconnectSignal: 'SIGTERM', disconnectGrace: 300 });
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      client.hangUp();
      expect(proc.signals).to.deep.equal([{ via: 'group', signal: SIGTERM }, { via: 'pidfd', signal: SIGTERM }]);
      clock.tick(299);
      expect(proc.signals).to.have.length(2);
      clock.tick(1);
      expect(proc.signals.slice(2).map((signal) => signal.signal)).to.deep.equal([SIGKILL, SIGKILL]);
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.reports('exit')[0].info.reason).to.equal('disconnect');
      server.assertClean();
    });

    it('a client that forwarded SIGINT and then left: no disconnectSignal, the program ends of it on its own (its trap), reason exit', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      client.send(encodeSignal(SIGINT));
      client.hangUp();
      expect(proc.signals).to.deep.equal([{ via: 'group', signal: SIGINT }]);
      clock.tick(1000);
      server.binding.programExits(proc.pid, { exitCode: 3 });
      expect(client.reports('exit')[0].info).to.include({ reason: 'exit', exitCode: 3 });
      clock.tick(5000);
      expect(proc.signals).to.have.length(1);
      server.assertClean();
    });

    it('a program that outlives disconnectGrace (2000 ms by default) after its client\'s last SIGINT gets SIGKILL, reason disconnect', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      client.send(encodeSignal(SIGINT));
      clock.tick(500);
      client.hangUp();
      clock.tick(1499);
      expect(proc.signals.map((signal) => signal.signal)).to.deep.equal([SIGINT]);
      clock.tick(1);
      expect(proc.signals.slice(1).map((signal) => signal.signal)).to.deep.equal([SIGKILL, SIGKILL]);
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.reports('exit')[0].info.reason).to.equal('disconnect');
      server.assertClean();
    });

    for (const [label, options, before, signal] of [
      ['a signal that does not end programs (SIGWINCH)', {}, 0, SIGWINCH],
      ['a SIGINT older than disconnectGrace', { disconnectGrace: 300 }, 300, SIGINT],
      ['disconnectGrace 0', { disconnectGrace: 0 }, 0, SIGINT],
    ]) {
      it(`no grace after ${label}: SIGKILL at the disconnect`, () => {
        const server = makeServer(options);
        const client = server.connect();
        client.exec();
        const proc = client.proc();
        client.send(encodeSignal(signal));
        clock.tick(before);
        client.hangUp();
        expect(proc.signals.slice(1).map((sent) => sent.signal)).to.deep.equal([SIGKILL, SIGKILL]);
        server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
        expect(client.reports('exit')[0].info.reason).to.equal('disconnect');
        server.assertClean();
      });
    }

    it('leaves a detached program running when the client leaves; maxRuntime still ends it, and its exit is reported to no one', () => {
      const server = makeServer({ maxRuntime: 1000 });
      const client = server.connect();
      client.exec(request({ newSession: true }));
      const proc = client.proc();
      client.hangUp();
      expect(proc.signals).to.deep.equal([]);
      expect(server.binding.isOpen(client.fd)).to.equal(false);
      expect(client.reports('spawn')[0].info.detached).to.equal(true);
      clock.tick(1000);
      expect(proc.signals.map((signal) => signal.signal)).to.deep.equal([SIGTERM, SIGTERM]);
      server.binding.programExits(proc.pid, { signal: SIGTERM });
      expect(client.reports('exit')[0].info).to.include({ reason: 'maxRuntime', detached: true });
      expect(client.replies()).to.have.length(1); // STARTED only
      expect(client.reportTypes()).to.deep.equal(['request', 'spawn', 'exit', 'done']);
      server.assertClean();
    });

    it('with allowDetached: false, refuses a detached request (ERR_SIDECAR_DETACHED_REFUSED) as a denial, starting nothing', () => {
      const server = makeServer({ allowDetached: false });
      const client = server.connect();
      const fds = client.exec(request({ newSession: true }));
      expect(failed(client)).to.include({ code: 'ERR_SIDECAR_DETACHED_REFUSED', syscall: 'detached' });
      expect(server.binding.processes.size).to.equal(0);
      expect(client.reportTypes()).to.deep.equal(['denied', 'done']);
      expect(fds.every((fd) => !server.binding.isOpen(fd))).to.equal(true);
      server.assertClean();
    });

    it('treats a protocol violation while the program runs as the client leaving', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      const fds = client.send(encodeSignal(SIGTERM), { fds: 1 });
      expect(server.binding.isOpen(fds[0])).to.equal(false);
      expect(server.binding.isOpen(client.fd)).to.equal(false);
      expect(proc.signals.map((signal) => signal.signal)).to.deep.equal([SIGKILL, SIGKILL]);
      expect(client.replies().map((reply) => reply.type)).to.deep.equal([T.Started]);
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.reports('exit')[0].info.reason).to.equal('disconnect');
      expect(client.reports('failed')).to.deep.equal([]);
      server.assertClean();
    });

    it('killFor() ends the program for the server\'s reason (close), which the EXIT reply carries', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      const proc = client.proc();
      proc.diesOn.add(SIGTERM);
      client.session.killFor(REASON.close, SIGTERM);
      server.binding.pollerFor(proc.pidfd).fire(0, READABLE);
      expect(client.replies()[1].exit).to.deep.equal({ exitCode: null, signal: SIGTERM, reason: REASON.close });
      server.assertClean();
    });

    it('dropIfIdle() closes a session that runs nothing, and leaves one with a running program alone', () => {
      const server = makeServer();
      const idle = server.connect();
      const busy = server.connect();
      busy.exec();
      idle.session.dropIfIdle();
      busy.session.dropIfIdle();
      expect(idle.reportTypes()).to.deep.equal(['done']);
      expect(server.binding.isOpen(idle.fd)).to.equal(false);
      expect(busy.reportTypes()).to.deep.equal(['request', 'spawn']);
      expect(server.binding.isOpen(busy.fd)).to.equal(true);
      server.binding.programExits(busy.proc().pid, { exitCode: 0 });
      server.assertClean();
    });
  });

  describe('a request for a terminal', () => {
    const TERMINAL = -3; // FD_TERMINAL

    it('opens a pseudo-terminal for the program\'s uid, makes it its controlling terminal, sends the master with STARTED and keeps no copy', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec(request({ terminal: { columns: 120, rows: 40 }, fdMap: [TERMINAL, TERMINAL, TERMINAL] }), 0);
      expect(server.binding.callsOf('openPty')).to.deep.equal([[120, 40, NO_ID]]);
      const [master, terminal] = [...server.binding.handedOut.keys()].filter((fd) => /^pty /.test(server.binding.labelOf(fd)));
      const [spawnOptions] = server.binding.callsOf('spawn')[0];
      expect(spawnOptions).to.include({ terminal, newSession: true });
      expect(spawnOptions.fdMap).to.deep.equal([terminal, terminal, terminal]);
      const [started] = server.binding.sent(client.fd);
      expect(decodeServerMessage(started.data)).to.include({ type: T.Started });
      expect(started.fds).to.deep.equal([master]);
      // Never read, written or resized here: both copies are closed.
      expect([server.binding.isOpen(master), server.binding.isOpen(terminal)]).to.deep.equal([false, false]);
      expect(server.binding.callsOf('setTerminalSize')).to.deep.equal([]);
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      server.assertClean();
    });

    it('a failing spawn closes both ends; a pseudo-terminal that cannot be opened is ERR_SIDECAR_UNSUPPORTED, not the program\'s ENOENT', () => {
      const server = makeServer();
      const client = server.connect();
      server.binding.script('spawn', nativeError('ENOENT', 'execve'));
      client.exec(request({ terminal: { columns: 80, rows: 24 }, fdMap: [TERMINAL] }), 0);
      expect(failed(client)).to.include({ code: 'ENOENT', syscall: 'execve' });
      const other = server.connect();
      server.binding.script('openPty', nativeError('ENOENT', 'open'));
      other.exec(request({ terminal: { columns: 80, rows: 24 }, fdMap: [TERMINAL] }), 0);
      expect(failed(other)).to.deep.equal({
        errno: ENOENT, code: 'ERR_SIDECAR_UNSUPPORTED', syscall: 'open',
        message: 'the server cannot open a pseudo-terminal for the tty option: open ENOENT',
      });
      expect(server.queue.running).to.equal(0);
      server.assertClean();
    });
  });

  describe('spawn failures', () => {
    it('replies FAILED with the errno, code and syscall of the failing step, as a failure, giving the place back', () => {
      const server = makeServer();
      const client = server.connect();
      server.binding.script('spawn', nativeError('ENOENT', 'execve'));
      const fds = client.exec();
      expect(failed(client)).to.deep.equal({ errno: ENOENT, code: 'ENOENT', syscall: 'execve', message: 'execve tool: ENOENT' });
      expect(client.reportTypes()).to.deep.equal(['request', 'failed', 'done']);
      expect(client.reports('failed')[0].error).to.include({ code: 'ENOENT', syscall: 'execve', message: 'execve tool: ENOENT' });
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      expect(server.queue.running).to.equal(0);
      server.assertClean();
    });

    it('says which working directory is missing when chdir fails', () => {
      const server = makeServer();
      const client = server.connect();
      server.binding.script('spawn', nativeError('ENOENT', 'chdir'));
      client.exec(request({ cwd: '/no/such/dir' }));
      expect(failed(client).message).to.equal('cannot change to the working directory "/no/such/dir" on the server: ENOENT');
      server.assertClean();
    });

    it('replies FAILED (uv_poll_start) when the started program cannot be watched, after it was killed and reaped', () => {
      const server = makeServer();
      const client = server.connect();
      server.binding.script('Poller', nativeError('ENOMEM', 'uv_poll_init'));
      const fds = client.exec();
      expect(failed(client)).to.include({ code: 'ENOMEM', syscall: 'uv_poll_start' });
      const proc = [...server.binding.processes.values()][0];
      expect(proc.reaped).to.equal(true);
      expect(fds.some((fd) => server.binding.isOpen(fd))).to.equal(false);
      expect(server.queue.running).to.equal(0);
      server.assertClean();
    });
  });

  describe('replies the client does not read at once', () => {
    it('keeps a blocked EXIT reply until the socket is writable, then closes', () => {
      const server = makeServer();
      const client = server.connect();
      client.exec();
      server.binding.blockSends(client.fd);
      server.binding.programExits(client.proc().pid, { exitCode: 0 });
      expect(server.binding.isOpen(client.fd)).to.equal(true);
      server.binding.unblockSends(client.fd);
      client.poller.fire(0, WRITABLE);
      expect(client.replies().map((reply) => reply.type)).to.deep.equal([T.Started, T.Exit]);
      server.assertClean();
    });

    // Regression (fixed: done waits for the socket to close, and comes once):
    // 'done' ("released everything: no fd") is reported as soon as the last
    // reply is queued, while the socket still holds it (EAGAIN); when the
    // client then hangs up, the socket's onEnd reaches onClientGone, which
    // calls finish() again and reports 'done' a second time.
    it('reports done once, after the socket is closed, when its last reply was blocked', () => {
      const server = makeServer();
      const client = server.connect();
      server.binding.blockSends(client.fd);
      client.send(encodePing());
      expect(client.reportTypes()).to.deep.equal([]);
      client.hangUp();
      expect(client.reportTypes()).to.deep.equal(['done']);
      server.assertClean();
    });
  });
});
