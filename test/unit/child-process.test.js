'use strict';
// RemoteChildProcess (src/client/child-process.ts, with ./connection.ts) as
// an event state machine against the fake binding: the request it sends,
// Node's event order for every ending, errors thrown from the constructor
// versus emitted, connect retries, signals and ref/unref. stdio is 'ignore'
// or integer fds (which the fake dup()s), so no local pipe is ever made.

const os = require('node:os');
const { expect } = require('chai');
const { RemoteChildProcess } = require('../../dist/client/child-process');
const { normalizeSpawnArguments } = require('../../dist/client/spawn-options');
const { remoteKill } = require('../../dist/client/pids');
const { TERMINAL_SIGNALS, LINGER_MS, followingCount } = require('../../dist/client/terminal-signals');
const {
  FD_IGNORE, FD_CLOSED, FD_TERMINAL, NO_ID, MAX_FDS, decodeClientMessage, decodeExecPayload, encodeStarted, encodeFailed, encodeExit,
} = require('../../dist/protocol');
const { FakeBinding, nativeError, forbidRealIO, READABLE } = require('../support/fake-binding');
const { FakeClock } = require('../support/fake-clock');

const { SIGTERM, SIGINT, SIGUSR1, SIGWINCH } = os.constants.signals;
const { errno } = os.constants;
const SOCKET = '/fake/sock';
const T = { Exec: 1, ExecMore: 2, Signal: 3 };
const REASON = { exit: 0, clientSignal: 1, disconnect: 2, maxRuntime: 3, close: 4 };

const nextTick = () => new Promise((resolve) => process.nextTick(resolve));
const turn = () => new Promise((resolve) => setImmediate(resolve));

function failedReply(code, syscall = 'execve', message = `${syscall} tool: ${code}`) {
  return encodeFailed({ errno: errno[code] ?? errno.EPERM, code, syscall, message });
}

describe('unit: RemoteChildProcess', () => {
  forbidRealIO();

  const clock = new FakeClock();
  let binding;
  let children;
  beforeEach(() => {
    clock.install();
    binding = new FakeBinding();
    children = [];
  });
  afterEach(() => {
    // End every child a test left running (the server hangs up), so that
    // none stays in remoteKill()'s registry of running pids.
    for (const child of children) child.on('error', () => {});
    for (const poller of binding.pollers) {
      if (poller.closed || !binding.labelOf(poller.fd).startsWith('connect:')) continue;
      binding.queueEnd(poller.fd);
      poller.fire(0, READABLE);
    }
    clock.tick(LINGER_MS); // the terminal's signal listeners outlive the last child that long
    clock.uninstall();
    expect(followingCount(), 'children still following the terminal\'s signals').to.equal(0);
    for (const { pid } of children) {
      if (pid !== undefined) expect(() => remoteKill(pid, 0), `pid ${pid} still registered`).to.throw().with.property('code', 'ESRCH');
    }
  });

  function spawn(options = {}, args = ['a']) {
    const plan = normalizeSpawnArguments('tool', args, { connect: SOCKET, stdio: 'ignore', startWait: 0, env: { K: 'v' }, ...options });
    const child = new RemoteChildProcess(plan, binding);
    children.push(child);
    return child;
  }

  /** Logs every event as [name, ...args], the listener attached right after the constructor returned. */
  function watch(child) {
    const events = [];
    for (const name of ['spawn', 'exit', 'close', 'error']) child.on(name, (...args) => events.push([name, ...args]));
    return events;
  }

  /** The connection's fd (the one connect() made). */
  function connFd() {
    const found = [...binding.handedOut].filter(([, label]) => label === `connect:${SOCKET}`);
    expect(found, 'connections made').to.have.length(1);
    return found[0][0];
  }

  /** What the client sent, decoded: [{ type, ... , fds }]. */
  function sentMessages(fd = connFd()) {
    return binding.sent(fd).map(({ data, fds }) => ({ ...decodeClientMessage(data), fds }));
  }

  function serverSends(record, fd = connFd()) {
    binding.queueRecord(fd, record);
    binding.pollerFor(fd).fire(0, READABLE);
  }

  function serverHangsUp(fd = connFd()) {
    binding.queueEnd(fd);
    binding.pollerFor(fd).fire(0, READABLE);
  }

  describe('the request', () => {
    it('connects to options.connect and sends one EXEC record with argv, env, cwd and an fd map of /dev/null', () => {
      const child = spawn({ cwd: '/w' }, ['a', 'b']);
      expect(binding.callsOf('connect')).to.deep.equal([[SOCKET]]);
      const [exec] = sentMessages();
      expect(exec).to.include({ type: T.Exec });
      expect(exec.fds).to.deep.equal([]);
      expect(decodeExecPayload(exec.chunk, 0)).to.deep.equal({
        file: 'tool', argv: ['tool', 'a', 'b'], env: ['K=v'], cwd: '/w', fdMap: [FD_IGNORE, FD_IGNORE, FD_IGNORE],
        newSession: false, serverEnv: false, callerEnv: [], terminal: null, uid: NO_ID, gid: NO_ID,
      });
      expect(child.pid).to.equal(undefined);
      expect(child.spawnfile).to.equal('tool');
      expect(child.spawnargs).to.deep.equal(['tool', 'a', 'b']);
    });

    it('passes integer stdio fds as close-on-exec duplicates, attached to the request and closed once sent', () => {
      const own = binding.newFd('caller stdout');
      spawn({ stdio: ['ignore', own, 'ignore', 'ignore'] });
      expect(binding.callsOf('dup')).to.deep.equal([[own]]);
      const [exec] = sentMessages();
      expect(exec.fds).to.have.length(1);
      const [duplicate] = exec.fds;
      expect(binding.labelOf(duplicate)).to.equal(`dup of ${own}`);
      expect(binding.isOpen(duplicate)).to.equal(false);
      expect(binding.isOpen(own)).to.equal(true);
      expect(decodeExecPayload(exec.chunk, 1).fdMap).to.deep.equal([FD_IGNORE, 0, FD_IGNORE, FD_CLOSED]);
    });
  });

  describe('a program that starts and exits', () => {
    it('emits spawn on STARTED, then exit and close with the code; exitReason says why; everything is closed', async () => {
      const child = spawn();
      const events = watch(child);
      await turn();
      expect(events).to.deep.equal([]);
      serverSends(encodeStarted(321));
      expect(child.pid).to.equal(321);
      expect(events).to.deep.equal([['spawn']]);
      serverSends(encodeExit({ exitCode: 3, signal: null, reason: REASON.exit }));
      expect(events).to.deep.equal([['spawn'], ['exit', 3, null], ['close', 3, null]]);
      expect([child.exitCode, child.signalCode, child.exitReason]).to.deep.equal([3, null, 'exit']);
      binding.assertClean();
    });

    it('reports a death by signal with signalCode only, and the reason the server gave', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeStarted(321));
      serverSends(encodeExit({ exitCode: null, signal: SIGTERM, reason: REASON.maxRuntime }));
      expect(events.slice(1)).to.deep.equal([['exit', null, 'SIGTERM'], ['close', null, 'SIGTERM']]);
      expect([child.exitCode, child.signalCode, child.exitReason]).to.deep.equal([null, 'SIGTERM', 'maxRuntime']);
      binding.assertClean();
    });

    it('sets pid before returning when STARTED arrives within startWait, but emits spawn only on the next tick', async () => {
      binding.onConnect = (fd) => binding.queueRecord(fd, encodeStarted(654));
      const child = spawn({ startWait: 40 });
      expect(child.pid).to.equal(654);
      expect(binding.callsOf('waitReadable')).to.deep.equal([[connFd(), 40]]);
      const events = watch(child);
      expect(events).to.deep.equal([]);
      await nextTick();
      expect(events).to.deep.equal([['spawn']]);
    });

    it('does not block for a server in this very process (it could only answer from this event loop)', () => {
      binding.credentials.pid = process.pid;
      const child = spawn({ startWait: 40 });
      expect(binding.callsOf('waitReadable')).to.deep.equal([]);
      expect(child.pid).to.equal(undefined);
    });

    it('does not block when startWait is 0', () => {
      spawn({ startWait: 0 });
      expect(binding.callsOf('waitReadable')).to.deep.equal([]);
    });
  });

  describe('a start that fails', () => {
    for (const [code, syscall] of [['EPERM', 'setuid'], ['E2BIG', 'execve']]) {
      it(`throws ${code} from the constructor, as child_process.spawn does, when the FAILED reply comes within startWait`, () => {
        binding.onConnect = (fd) => binding.queueRecord(fd, failedReply(code, syscall));
        let error;
        try {
          spawn({ startWait: 40 });
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(Error);
        expect(error).to.include({ code, errno: -errno[code], syscall: 'spawn', message: `spawn ${code}` });
        expect(error.serverSyscall).to.equal(syscall);
        expect(Object.keys(error)).to.not.include('serverSyscall');
        binding.assertClean();
      });
    }

    for (const code of ['ENOENT', 'EACCES']) {
      it(`emits ${code} (then close with -errno) instead of throwing, as child_process does, even within startWait`, async () => {
        binding.onConnect = (fd) => binding.queueRecord(fd, failedReply(code));
        const child = spawn({ startWait: 40 });
        const events = watch(child);
        expect(events).to.deep.equal([]);
        await nextTick();
        expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
        const error = events[0][1];
        expect(error).to.include({ code, errno: -errno[code], syscall: 'spawn tool', path: 'tool', message: `spawn tool ${code}` });
        expect(error.spawnargs).to.deep.equal(['a']);
        expect(error.serverSyscall).to.equal('execve');
        expect(Object.keys(error)).to.not.include('serverSyscall');
        expect(events[1]).to.deep.equal(['close', -errno[code], null]);
        expect(child.exitCode).to.equal(-errno[code]);
        expect(child.pid).to.equal(undefined);
        binding.assertClean();
      });
    }

    it('emits the server\'s own ERR_SIDECAR_* code (here a denial) as a SidecarError, never throwing it', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(failedReply('ERR_SIDECAR_DENIED', 'allowCommands', 'tool is not an allowed command'));
      const [[name, error], close] = events;
      expect(name).to.equal('error');
      expect(error).to.include({ name: 'SidecarError', code: 'ERR_SIDECAR_DENIED', errno: -errno.EPERM, syscall: 'spawn tool', socket: SOCKET });
      expect(error.message).to.include('tool is not an allowed command');
      expect(error.serverSyscall).to.equal('allowCommands');
      expect(close).to.deep.equal(['close', -errno.EPERM, null]);
      binding.assertClean();
    });

    for (const code of ['ENOENT', 'ECONNREFUSED']) {
      it(`emits ERR_SIDECAR_CONNECT when connect fails with ${code}, closing the fds it had made`, async () => {
        binding.script('connect', nativeError(code, 'connect'));
        const own = binding.newFd('caller fd');
        const child = spawn({ stdio: ['ignore', own, 'ignore'] });
        const events = watch(child);
        await nextTick();
        expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
        expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -errno[code], syscall: 'connect', socket: SOCKET });
        expect(events[0][1].cause).to.include({ code });
        expect(events[1]).to.deep.equal(['close', -errno[code], null]);
        binding.close(own);
        binding.assertClean();
      });
    }

    describe('expectUid', () => {
      it('refuses a listener of another uid (SO_PEERCRED) before sending anything: ERR_SIDECAR_CONNECT (EPERM), fds closed', async () => {
        // No file at SOCKET: the look before connect has nothing to say, the kernel's answer decides.
        binding.credentials = { pid: 4242, uid: 65534, gid: 65534 };
        const own = binding.newFd('caller fd');
        const child = spawn({ stdio: ['ignore', own, 'ignore'], expectUid: 0 });
        const events = watch(child);
        await nextTick();
        expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
        expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -errno.EPERM, syscall: 'connect', socket: SOCKET });
        expect(events[0][1].message).to.include('the process listening on it runs as uid 65534, not uid 0 as expectUid asks');
        expect(events[1]).to.deep.equal(['close', -errno.EPERM, null]);
        expect(binding.sent(connFd())).to.deep.equal([]);
        binding.close(own);
        binding.assertClean();
      });

      it('sends the request to a listener of that uid', () => {
        binding.credentials = { pid: 4242, uid: 65534, gid: 65534 };
        spawn({ expectUid: 65534 });
        expect(sentMessages().map((message) => message.type)).to.deep.equal([T.Exec]);
      });

      it('refuses a socket file of another uid without connecting', async () => {
        const { tempDir } = require('../helpers/tmp');
        const fs = require('node:fs');
        const path = require('node:path');
        const dir = tempDir('sidecar-expect-uid-');
        try {
          const file = path.join(dir, 'sock');
          fs.writeFileSync(file, '');
          const other = process.geteuid() === 65534 ? 0 : 65534;
          const child = new RemoteChildProcess(normalizeSpawnArguments('tool', [], { connect: file, stdio: 'ignore', startWait: 0, expectUid: other }), binding);
          const events = watch(child);
          await nextTick();
          expect(binding.callsOf('connect')).to.deep.equal([]);
          expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -errno.EPERM });
          expect(events[0][1].message).to.include(`the socket file is owned by uid ${process.geteuid()}, not uid ${other}`);
          binding.assertClean();
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    });

    it('retries connect every few ms while the server\'s backlog is full (EAGAIN), then sends the request', () => {
      binding.script('connect', nativeError('EAGAIN', 'connect'), nativeError('EAGAIN', 'connect'));
      const child = spawn();
      const events = watch(child);
      expect(binding.callsOf('connect')).to.have.length(1);
      clock.tick(5);
      expect(binding.callsOf('connect')).to.have.length(2);
      clock.tick(5);
      expect(binding.callsOf('connect')).to.have.length(3);
      expect(sentMessages().map((message) => message.type)).to.deep.equal([T.Exec]);
      serverSends(encodeStarted(1));
      expect(events).to.deep.equal([['spawn']]);
      expect(child.pid).to.equal(1);
    });

    it('gives up after 5 s of EAGAIN with ERR_SIDECAR_CONNECT', () => {
      binding.script('connect', ...Array.from({ length: 2000 }, () => nativeError('EAGAIN', 'connect')));
      const child = spawn();
      const events = watch(child);
      clock.tick(4995);
      expect(events).to.deep.equal([]);
      clock.tick(10);
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_CONNECT', errno: -errno.EAGAIN });
      clock.tick(LINGER_MS); // past the terminal's signal listeners' removal: no other timer is left
      expect(clock.pending()).to.deep.equal([]);
      binding.assertClean();
    });

    it('refuses a request with more stdio entries than the protocol carries (ERR_SIDECAR_REQUEST_TOO_LARGE), sending nothing', async () => {
      const own = binding.newFd('caller fd');
      const stdio = Array.from({ length: MAX_FDS + 1 }, (_, index) => (index === 1 ? own : 'ignore'));
      const child = spawn({ stdio });
      const events = watch(child);
      await nextTick();
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', errno: -7, syscall: 'spawn tool' });
      expect(events[1]).to.deep.equal(['close', -7, null]);
      expect(binding.sent(connFd())).to.deep.equal([]);
      binding.close(own);
      binding.assertClean();
    });

    it('refuses a payload over 8 MiB the same way', async () => {
      const child = spawn({ env: { HUGE: 'x'.repeat(8 * 1024 * 1024) } });
      const events = watch(child);
      await nextTick();
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_REQUEST_TOO_LARGE' });
      expect(events[0][1].message).to.match(/more than 8388608/);
      binding.assertClean();
    });
  });

  describe('the string limit', () => {
    it('refuses more argv and env strings than the protocol carries, sending nothing', async () => {
      const env = Object.fromEntries(Array.from({ length: 131072 }, (_, i) => [`V${i}`, 'x']));
      const child = spawn({ env });
      const events = watch(child);
      await nextTick();
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_REQUEST_TOO_LARGE' });
      expect(events[0][1].message).to.include('131074 argv and env strings, more than 131072'); // 'tool', 'a' and the env
      expect(binding.sent(connFd())).to.deep.equal([]);
      binding.assertClean();
    });
  });

  describe('tty: the terminal\'s master comes with STARTED', () => {
    it('the request asks for a terminal of the size given, stdio 0-2 on it, and attaches no fd', () => {
      spawn({ tty: { columns: 100, rows: 30 }, stdio: undefined });
      const [exec] = sentMessages();
      expect(exec.fds).to.deep.equal([]);
      const request = decodeExecPayload(exec.chunk, 0);
      expect(request.terminal).to.deep.equal({ columns: 100, rows: 30 });
      expect(request.fdMap).to.deep.equal([FD_TERMINAL, FD_TERMINAL, FD_TERMINAL]);
    });

    it('STARTED without a master is a server that cannot be followed: ERR_SIDECAR_PROTOCOL, then close', async () => {
      const child = spawn({ tty: true, stdio: undefined });
      const events = watch(child);
      serverSends(encodeStarted(81));
      await turn();
      await turn();
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
      expect(events[0][1].message).to.include('no terminal came with it');
      binding.assertClean();
    });

    it('an fd on the FAILED reply of a tty request is closed', async () => {
      const failing = spawn({ tty: true, stdio: undefined });
      const events = watch(failing);
      binding.queueRecord(connFd(), failedReply('ENOENT'), { fds: 1 });
      binding.pollerFor(connFd()).fire(0, READABLE);
      await turn();
      await turn();
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ENOENT' });
      binding.assertClean();
    });

    it('a STARTED with an fd for a request without a terminal: the fd is closed, the program runs', () => {
      const child = spawn();
      const events = watch(child);
      binding.queueRecord(connFd(), encodeStarted(82), { fds: 2 });
      binding.pollerFor(connFd()).fire(0, READABLE);
      expect(events.map(([name]) => name)).to.deep.equal(['spawn']);
      expect(binding.openFds().filter((fd) => binding.labelOf(fd).startsWith('received'))).to.deep.equal([]);
    });
  });

  describe('a server that breaks off', () => {
    it('before STARTED: a malformed record gives ERR_SIDECAR_PROTOCOL, then close', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(Buffer.from([9, 16, 0, 0, 1, 0, 0, 0]));
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_PROTOCOL', socket: SOCKET });
      expect(events[0][1].message).to.include('unsupported protocol version 9');
      expect(child.exitCode).to.equal(-1);
      binding.assertClean();
    });

    it('after STARTED: a malformed record gives ERR_SIDECAR_PROTOCOL, then exit and close as killed (SIGKILL)', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeStarted(77));
      serverSends(Buffer.from([1, 18, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0])); // EXIT with both a code and a signal
      expect(events.map(([name]) => name)).to.deep.equal(['spawn', 'error', 'exit', 'close']);
      expect(events[1][1]).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
      expect(events.slice(2)).to.deep.equal([['exit', null, 'SIGKILL'], ['close', null, 'SIGKILL']]);
      expect(child.exitReason).to.equal(null);
      binding.assertClean();
    });

    it('EXIT before STARTED is a server that cannot be followed: ERR_SIDECAR_PROTOCOL, then close, no exit', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeExit({ exitCode: 0, signal: null, reason: REASON.exit }));
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
      expect(events[0][1].message).to.include('before the program started');
      binding.assertClean();
    });

    it('FAILED after STARTED: ERR_SIDECAR_PROTOCOL, then exit as killed, and the pid is released for remoteKill', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeStarted(78));
      serverSends(encodeFailed({ errno: errno.ENOENT, code: 'ENOENT', syscall: 'execve', message: 'late' }));
      expect(events.map(([name]) => name)).to.deep.equal(['spawn', 'error', 'exit', 'close']);
      expect(events[1][1]).to.include({ code: 'ERR_SIDECAR_PROTOCOL' });
      expect(() => remoteKill(78, 0)).to.throw().with.property('code', 'ESRCH');
      binding.assertClean();
    });

    it('a second STARTED is refused the same way', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeStarted(79));
      serverSends(encodeStarted(80));
      expect(events.map(([name]) => name)).to.deep.equal(['spawn', 'error', 'exit', 'close']);
      expect(child.pid).to.equal(79);
      binding.assertClean();
    });

    it('hang-up before STARTED: ERR_SIDECAR_DISCONNECTED, then close', () => {
      const child = spawn();
      const events = watch(child);
      serverHangsUp();
      expect(events.map(([name]) => name)).to.deep.equal(['error', 'close']);
      expect(events[0][1]).to.include({ code: 'ERR_SIDECAR_DISCONNECTED', socket: SOCKET });
      expect([child.exitCode, child.signalCode]).to.deep.equal([-1, null]);
      binding.assertClean();
    });

    it('hang-up after STARTED: ERR_SIDECAR_DISCONNECTED, then exit and close with SIGKILL (the server kills it)', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeStarted(77));
      serverHangsUp();
      expect(events.map(([name]) => name)).to.deep.equal(['spawn', 'error', 'exit', 'close']);
      expect(events[1][1]).to.include({ code: 'ERR_SIDECAR_DISCONNECTED' });
      expect([child.exitCode, child.signalCode, child.killed]).to.deep.equal([null, 'SIGKILL', false]);
      binding.assertClean();
    });

    it('a socket error (ECONNRESET twice) after STARTED names its cause', () => {
      const child = spawn();
      const events = watch(child);
      serverSends(encodeStarted(77));
      binding.queueError(connFd(), nativeError('ECONNRESET', 'recvmsg'));
      binding.queueError(connFd(), nativeError('ECONNRESET', 'recvmsg'));
      binding.pollerFor(connFd()).fire(0, READABLE);
      expect(events[1][1]).to.include({ code: 'ERR_SIDECAR_DISCONNECTED' });
      expect(events[1][1].cause).to.include({ code: 'ECONNRESET' });
      expect(events[1][1].message).to.include('(ECONNRESET)');
      binding.assertClean();
    });
  });

  describe('kill(), remoteKill(), ref() and unref()', () => {
    it('kill() sends a SIGNAL record with the signal\'s number and marks the child killed', () => {
      const child = spawn();
      serverSends(encodeStarted(5));
      expect(child.kill()).to.equal(true);
      expect(child.kill('sigint')).to.equal(true);
      expect(child.kill(0)).to.equal(true); // only checks: nothing sent
      const signals = sentMessages().filter((message) => message.type === T.Signal).map((message) => message.signal);
      expect(signals).to.deep.equal([SIGTERM, SIGINT]);
      expect(child.killed).to.equal(true);
    });

    it('kill() with an unknown signal throws ERR_UNKNOWN_SIGNAL and sends nothing', () => {
      const child = spawn();
      expect(() => child.kill('SIGNOPE')).to.throw(TypeError).with.property('code', 'ERR_UNKNOWN_SIGNAL');
      expect(sentMessages()).to.have.length(1);
      expect(child.killed).to.equal(false);
    });

    it('kill() with a signal that does not end programs, while still connecting, is sent right after the request', () => {
      binding.script('connect', nativeError('EAGAIN', 'connect'));
      const child = spawn();
      expect(child.kill('SIGWINCH')).to.equal(true);
      clock.tick(5);
      expect(sentMessages().map((message) => [message.type, message.signal])).to.deep.equal([[T.Exec, undefined], [T.Signal, SIGWINCH]]);
      expect(child.signalCode).to.equal(null);
    });

    it('kill() while still connecting gives the request up: nothing connects, exit then close (null, signal) on a later tick', async () => {
      binding.script('connect', nativeError('EAGAIN', 'connect'));
      const child = spawn();
      const events = watch(child);
      expect(child.kill('SIGINT')).to.equal(true);
      expect(events, 'events before kill() returned').to.deep.equal([]);
      expect(child.kill('SIGINT'), 'a second kill() before its exit').to.equal(true);
      await nextTick();
      expect(events).to.deep.equal([['exit', null, 'SIGINT'], ['close', null, 'SIGINT']]);
      clock.tick(LINGER_MS); // past the terminal's signal listeners' removal (and a retry that was not cancelled)
      expect(clock.pending(), 'the connect retry was cancelled').to.deep.equal([]);
      expect(binding.callsOf('connect')).to.have.length(1);
      expect([child.pid, child.killed, child.exitReason]).to.deep.equal([undefined, true, null]);
      expect(child.kill(), 'kill() after the exit').to.equal(false);
      binding.assertClean();
    });

    it('kill() after the request, before STARTED: the signal, then the hang-up; a late STARTED is never read', async () => {
      const child = spawn();
      const events = watch(child);
      const fd = connFd();
      expect(child.kill()).to.equal(true);
      expect(sentMessages(fd).map((message) => [message.type, message.signal])).to.deep.equal([[T.Exec, undefined], [T.Signal, SIGTERM]]);
      expect(binding.pollerFor(fd).closed, 'the connection is closed').to.equal(true);
      await nextTick();
      expect(events).to.deep.equal([['exit', null, 'SIGTERM'], ['close', null, 'SIGTERM']]);
      expect(child.signalCode).to.equal('SIGTERM');
      binding.assertClean();
    });

    it('startTimeout: no answer in time gives ERR_SIDECAR_START_TIMEOUT (ETIMEDOUT), then close, and hangs up', () => {
      const child = spawn({ startTimeout: 1000 });
      const events = watch(child);
      const fd = connFd();
      clock.tick(999);
      expect(events).to.deep.equal([]);
      clock.tick(1);
      expect(events.map(([name, arg]) => [name, name === 'error' ? arg.code : arg])).to.deep.equal([
        ['error', 'ERR_SIDECAR_START_TIMEOUT'], ['close', -errno.ETIMEDOUT],
      ]);
      expect(events[0][1]).to.include({ errno: -errno.ETIMEDOUT, syscall: 'spawn tool', socket: SOCKET });
      expect(binding.pollerFor(fd).closed).to.equal(true);
      binding.assertClean();
    });

    it('startTimeout is cleared by STARTED, and by FAILED', () => {
      const started = spawn({ startTimeout: 1000 });
      serverSends(encodeStarted(5));
      expect(clock.pending()).to.deep.equal([]);
      const failed = spawn({ startTimeout: 1000 });
      failed.on('error', () => {});
      serverSends(failedReply('ENOENT'), binding.pollers[binding.pollers.length - 1].fd);
      expect(clock.pending()).to.deep.equal([]);
      expect(started.pid).to.equal(5);
    });

    it('startTimeout is validated: an integer from 0 to 2147483647', () => {
      for (const bad of [-1, 1.5, '10', 2 ** 31]) {
        expect(() => spawn({ startTimeout: bad }), String(bad)).to.throw().with.property('code', 'ERR_OUT_OF_RANGE');
      }
    });

    it('kill() after the exit returns false and sends nothing', () => {
      const child = spawn();
      serverSends(encodeStarted(5));
      serverSends(encodeExit({ exitCode: 0, signal: null, reason: REASON.exit }));
      const sentBefore = binding.callsOf('send').length;
      expect(child.kill()).to.equal(false);
      expect(child.killed).to.equal(false);
      expect(binding.callsOf('send')).to.have.length(sentBefore);
    });

    it('remoteKill(pid) reaches a running child without marking it killed, and throws ESRCH once it exited', () => {
      const child = spawn();
      serverSends(encodeStarted(4711));
      expect(remoteKill(4711, 'SIGUSR1')).to.equal(true);
      expect(sentMessages().filter((message) => message.type === T.Signal).map((message) => message.signal)).to.deep.equal([SIGUSR1]);
      expect(child.killed).to.equal(false);
      serverSends(encodeExit({ exitCode: 0, signal: null, reason: REASON.exit }));
      expect(() => remoteKill(4711)).to.throw().that.includes({ code: 'ESRCH', syscall: 'kill' });
    });

    it('unref() and ref() reach the connection\'s poller', () => {
      const child = spawn();
      const poller = binding.pollerFor(connFd());
      child.unref();
      expect(poller.refed).to.equal(false);
      child.ref();
      expect(poller.refed).to.equal(true);
    });

    it('unref() while still connecting unrefs the retry timer and the socket made later', () => {
      binding.script('connect', nativeError('EAGAIN', 'connect'));
      const child = spawn();
      child.unref();
      expect(clock.pending()).to.deep.equal([{ at: 5, ms: 5, refed: false }]);
      clock.tick(5);
      const poller = binding.pollerFor(connFd());
      expect(poller.refed).to.equal(false);
      expect(poller.history).to.include('unref');
    });
  });

  describe('the terminal\'s signals', () => {
    const counts = () => TERMINAL_SIGNALS.map((name) => process.listenerCount(name));

    it('a child that is not detached makes this process listen for them until it ends (and LINGER_MS more); detached ones do not', () => {
      const before = counts();
      const detached = spawn({ detached: true });
      expect(counts()).to.deep.equal(before);
      const first = spawn();
      const second = spawn();
      expect(counts()).to.deep.equal(before.map((count) => count + 1));
      expect(followingCount()).to.equal(2);
      serverSends(encodeStarted(5), binding.pollers[1].fd);
      serverSends(encodeExit({ exitCode: 0, signal: null, reason: REASON.exit }), binding.pollers[1].fd);
      expect(counts(), 'one child still runs').to.deep.equal(before.map((count) => count + 1));
      second.on('error', () => {});
      serverHangsUp(binding.pollers[2].fd);
      expect(followingCount()).to.equal(0);
      clock.tick(LINGER_MS - 1);
      expect(counts(), 'kept a moment for a next child').to.deep.equal(before.map((count) => count + 1));
      clock.tick(1);
      expect(counts(), 'removed LINGER_MS after the last child ended').to.deep.equal(before);
      expect([first.exitCode, detached.pid]).to.deep.equal([0, undefined]);
    });

    it('a child started within LINGER_MS of the last one\'s end keeps the same listeners (none removed and added again)', async () => {
      const before = counts();
      const listenersNow = () => TERMINAL_SIGNALS.map((name) => process.listeners(name)[0]);
      const first = spawn();
      const installed = listenersNow();
      let second;
      first.on('close', () => { second = spawn(); });
      serverSends(encodeStarted(5), binding.pollers[0].fd);
      serverSends(encodeExit({ exitCode: 0, signal: null, reason: REASON.exit }), binding.pollers[0].fd);
      await nextTick();
      expect(second, 'spawned from the first one\'s close').to.not.equal(undefined);
      clock.tick(LINGER_MS);
      expect(listenersNow()).to.deep.equal(installed);
      expect(counts()).to.deep.equal(before.map((count) => count + 1));
      serverSends(encodeStarted(6), binding.pollers[1].fd);
      serverSends(encodeExit({ exitCode: 0, signal: null, reason: REASON.exit }), binding.pollers[1].fd);
      clock.tick(LINGER_MS);
      expect(counts()).to.deep.equal(before);
    });


    it('each is forwarded to every running child as a SIGNAL record; the host\'s own listener keeps the process alive', () => {
      const host = () => {};
      process.on('SIGINT', host);
      try {
        const child = spawn();
        serverSends(encodeStarted(5));
        process.emit('SIGWINCH', 'SIGWINCH');
        process.emit('SIGINT', 'SIGINT');
        const signals = sentMessages().filter((message) => message.type === T.Signal).map((message) => message.signal);
        expect(signals).to.deep.equal([SIGWINCH, SIGINT]);
        expect(child.killed, 'a terminal\'s signal is not kill()').to.equal(false);
      } finally {
        process.removeListener('SIGINT', host);
      }
    });

    it('SIGINT before STARTED ends the request as a local child dies of it while it starts', async () => {
      const host = () => {};
      process.on('SIGINT', host);
      try {
        const child = spawn();
        const events = watch(child);
        process.emit('SIGINT', 'SIGINT');
        await nextTick();
        expect(events).to.deep.equal([['exit', null, 'SIGINT'], ['close', null, 'SIGINT']]);
        expect(child.killed).to.equal(false);
      } finally {
        process.removeListener('SIGINT', host);
      }
    });
  });
});
