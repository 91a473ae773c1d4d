'use strict';
// An in-memory NativeBinding (src/binding/index.ts) for unit tests of the
// state machines: no process is spawned, no socket is opened, no real fd is
// touched. Every class of sidecar-exec takes its binding as a constructor
// argument, so this stands in for the addon.
//
// ---- API -------------------------------------------------------------------
//
//   const { FakeBinding, nativeError, forbidRealIO, READABLE, WRITABLE } = require('../support/fake-binding');
//   const binding = new FakeBinding();
//
// Calls
//   binding.calls                    every call, in order: { name, args } (args as given; spawn's options copied)
//   binding.callsOf(name)            the args arrays of every call of `name`
//
// File descriptors
//   Fake fds are handed out increasing from 1000 (connect, accept, listen,
//   pipe, socketPair, dup, openReadWrite, spawn's pidfd, fds attached to a
//   queued record). close() of an fd that is not open throws EBADF, like the
//   kernel, so a double close fails the test; so does any call on a closed fd.
//   closeOffLoop() closes at once, with close()'s checks (the real one closes
//   on another thread a moment later); binding.callsOf('closeOffLoop') tells
//   which fds went that way. closeConnection() the same (the real one closes
//   at once or off the loop, as the socket's queue says).
//   binding.isOpen(fd)               true while open
//   binding.openFds()                the open fds, sorted
//   binding.labelOf(fd)              how the fd was made ('connect:/path', 'pidfd:500', 'received', ...)
//   binding.newFd(label)             an open fd, as if the test process had it (e.g. a caller's stdio fd)
//   binding.assertClean({ except })  throws unless every fd handed out is closed (but `except`) and every
//                                    poller is closed
//
// Receiving (what binding.receive(fd, buffer) returns, in order)
//   binding.queueRecord(fd, bytes, { fds: n | [..], truncated, fdsTruncated }) -> the attached fd numbers
//                                    (n new open fds, or the given ones); the bytes are copied into the
//                                    caller's buffer (cut to its size, `truncated` set when cut)
//   binding.queueEnd(fd)             the peer hung up: { bytes: 0, fds: [] }
//   binding.queueError(fd, error)    receive() throws `error` (e.g. nativeError('ECONNRESET', 'recvmsg'))
//   peerHungUp(fd) is true once an end is queued on fd (records before it may still be unread)
//   An empty queue makes receive() return null (EAGAIN). Closing a socket fd
//   closes the fds of records still queued on it (the kernel drops them).
//
// Sending
//   binding.sent(fd)                 [{ data: Buffer (a copy), fds: [...] }] of every record send() accepted
//   binding.blockSends(fd) / binding.unblockSends(fd)
//                                    while blocked, send() on fd returns -1 (EAGAIN)
//
// Scripted outcomes (one FIFO per method name, consumed by the next call)
//   binding.script(name, ...outcomes) an outcome is an Error (thrown), { return: value } (returned), or a
//                                    function (called with the call's args; its result is returned)
//   Names: the method names, plus 'Poller' (the constructor) and 'Poller.start'.
//   binding.onConnect = (fd, path) => {}   runs inside connect(), after the fd exists (to queue replies)
//   binding.credentials              what peerCredentials() returns (default pid 4242, this process's uid/gid)
//
// Programs (spawn)
//   spawn() records a copy of its options and returns { pid, pidfd } with pids from 500 up; every fdMap
//   entry other than -1 must be an open fd (EBADF otherwise, as dup2 would).
//   binding.processes                Map pid -> { pid, pidfd, options, exit, reaped, signals: [{ via, signal }],
//                                    diesOn: Set of signals that end it (SIGKILL by default), groupGone }
//   binding.signalsTo(pid)           the signals it got: [{ via: 'group' | 'pidfd', signal }]
//   binding.exitProcess(pid, { exitCode, signal })   it ends (a zombie until waitPidfd reaps it)
//   binding.programExits(pid, result) exitProcess, then fires its pidfd's poller
//   waitPidfd returns the exit once (then throws ECHILD), null while it runs. kill(-pid) throws ESRCH once it
//   is reaped (or when groupGone is set); pidfdSignal on a zombie succeeds, as the kernel's does.
//
// Pollers
//   binding.pollers                  every FakePoller made, in order
//   binding.pollerFor(fd)            the newest poller on fd
//   poller.fd, .events (watched mask), .active, .closed, .refed, .history (['start:1', 'ref', 'close', ...])
//   poller.fire(status = 0, events = READABLE)   runs its callback as libuv would. Throws if the poller
//                                    is closed or stopped, or for events it does not watch.
//
// Helpers
//   nativeError(code, syscall)       an Error shaped like the addon's: { errno, code, syscall }
//   forbidRealIO()                   call inside a describe(): for its duration, child_process's spawners,
//                                    net.connect / createConnection, net.Socket#connect and the real
//                                    getBinding() throw, and the describe fails if any was called

const os = require('node:os');
const { READABLE, WRITABLE } = require('../../dist/binding');

const FIRST_FD = 1000;
const FIRST_PID = 500;
const SIGKILL = os.constants.signals.SIGKILL;

function nativeError(code, syscall) {
  const errno = os.constants.errno[code];
  if (errno === undefined) throw new Error(`nativeError: unknown errno name ${code}`);
  return Object.assign(new Error(`${syscall} failed: ${code}`), { errno, code, syscall });
}

class FakeBinding {
  constructor() {
    this.calls = [];
    this.nextFd = FIRST_FD;
    this.nextPid = FIRST_PID;
    /** fd -> label, for open fds. */
    this.open = new Map();
    /** Every fd ever handed out, with its label. */
    this.handedOut = new Map();
    this.inboxes = new Map();
    this.outboxes = new Map();
    this.blocked = new Set();
    this.scripts = new Map();
    this.processes = new Map();
    this.pollers = [];
    this.credentials = { pid: 4242, uid: process.geteuid(), gid: process.getegid() };
    this.onConnect = undefined;
    const binding = this;
    this.Poller = class FakePollerBound extends FakePoller {
      constructor(fd, callback) {
        super(binding, fd, callback);
      }
    };
  }

  // ---- bookkeeping -----------------------------------------------------------

  record(name, args) {
    this.calls.push({ name, args });
  }

  callsOf(name) {
    return this.calls.filter((call) => call.name === name).map((call) => call.args);
  }

  /** Runs the next scripted outcome of `name`; { scripted: false } when there is none. */
  scripted(name, args) {
    const queue = this.scripts.get(name);
    if (queue === undefined || queue.length === 0) return { scripted: false };
    const outcome = queue.shift();
    if (outcome instanceof Error) throw outcome;
    if (typeof outcome === 'function') return { scripted: true, value: outcome(...args) };
    return { scripted: true, value: outcome.return };
  }

  script(name, ...outcomes) {
    if (!this.scripts.has(name)) this.scripts.set(name, []);
    this.scripts.get(name).push(...outcomes);
    return this;
  }

  newFd(label = 'test') {
    const fd = this.nextFd++;
    this.open.set(fd, label);
    this.handedOut.set(fd, label);
    return fd;
  }

  isOpen(fd) {
    return this.open.has(fd);
  }

  openFds() {
    return [...this.open.keys()].sort((a, b) => a - b);
  }

  labelOf(fd) {
    return this.handedOut.get(fd);
  }

  requireOpen(fd, syscall) {
    if (!this.open.has(fd)) throw nativeError('EBADF', syscall);
  }

  assertClean({ except = [] } = {}) {
    const leaked = this.openFds().filter((fd) => !except.includes(fd));
    const openPollers = this.pollers.filter((poller) => !poller.closed);
    const problems = [];
    if (leaked.length > 0) problems.push(`fds left open: ${leaked.map((fd) => `${fd} (${this.open.get(fd)})`).join(', ')}`);
    if (openPollers.length > 0) problems.push(`pollers left open on fds ${openPollers.map((poller) => poller.fd).join(', ')}`);
    if (problems.length > 0) throw new Error(`FakeBinding not clean: ${problems.join('; ')}`);
  }

  // ---- receiving and sending -------------------------------------------------

  inbox(fd) {
    if (!this.inboxes.has(fd)) this.inboxes.set(fd, []);
    return this.inboxes.get(fd);
  }

  queueRecord(fd, bytes, { fds = 0, truncated = false, fdsTruncated = false } = {}) {
    const attached = Array.isArray(fds) ? fds : Array.from({ length: fds }, () => this.newFd(`received on ${fd}`));
    this.inbox(fd).push({ bytes: Buffer.from(bytes), fds: attached, truncated, fdsTruncated });
    return attached;
  }

  queueEnd(fd) {
    this.inbox(fd).push({ bytes: Buffer.alloc(0), fds: [], truncated: false, fdsTruncated: false });
  }

  queueError(fd, error) {
    this.inbox(fd).push({ error });
  }

  sent(fd) {
    return this.outboxes.get(fd) ?? [];
  }

  blockSends(fd) {
    this.blocked.add(fd);
  }

  unblockSends(fd) {
    this.blocked.delete(fd);
  }

  // ---- programs --------------------------------------------------------------

  processByPidfd(pidfd) {
    for (const proc of this.processes.values()) if (proc.pidfd === pidfd) return proc;
    return undefined;
  }

  signalsTo(pid) {
    return this.processes.get(pid).signals.slice();
  }

  exitProcess(pid, result) {
    const proc = this.processes.get(pid);
    if (proc.exit !== null) throw new Error(`process ${pid} has exited already`);
    proc.exit = { exitCode: null, signal: null, ...result };
  }

  programExits(pid, result) {
    this.exitProcess(pid, result);
    this.pollerFor(this.processes.get(pid).pidfd).fire(0, READABLE);
  }

  deliverSignal(proc, via, signal) {
    proc.signals.push({ via, signal });
    if (proc.exit === null && proc.diesOn.has(signal)) proc.exit = { exitCode: null, signal };
  }

  pollerFor(fd) {
    for (let i = this.pollers.length - 1; i >= 0; i--) if (this.pollers[i].fd === fd) return this.pollers[i];
    throw new Error(`no poller on fd ${fd}`);
  }

  // ---- the NativeBinding interface --------------------------------------------

  listen(path, mode, backlog) {
    this.record('listen', [path, mode, backlog]);
    const outcome = this.scripted('listen', [path, mode, backlog]);
    if (outcome.scripted) return outcome.value;
    return this.newFd(`listen:${path}`);
  }

  accept(fd) {
    this.record('accept', [fd]);
    this.requireOpen(fd, 'accept4');
    const outcome = this.scripted('accept', [fd]);
    if (outcome.scripted) return outcome.value;
    return -1;
  }

  connect(path) {
    this.record('connect', [path]);
    const outcome = this.scripted('connect', [path]);
    if (outcome.scripted) return outcome.value;
    const fd = this.newFd(`connect:${path}`);
    if (this.onConnect !== undefined) this.onConnect(fd, path);
    return fd;
  }

  send(fd, data, offset, length, fds) {
    this.record('send', [fd, data, offset, length, fds.slice()]);
    this.requireOpen(fd, 'sendmsg');
    for (const attached of fds) this.requireOpen(attached, 'sendmsg');
    const outcome = this.scripted('send', [fd, data, offset, length, fds]);
    if (outcome.scripted) {
      if (outcome.value < 0) return outcome.value;
    } else if (this.blocked.has(fd)) {
      return -1;
    }
    if (!this.outboxes.has(fd)) this.outboxes.set(fd, []);
    this.outboxes.get(fd).push({ data: Buffer.from(data.subarray(offset, offset + length)), fds: fds.slice() });
    return length;
  }

  receive(fd, buffer) {
    this.record('receive', [fd]);
    this.requireOpen(fd, 'recvmsg');
    const outcome = this.scripted('receive', [fd, buffer]);
    if (outcome.scripted) return outcome.value;
    const next = this.inbox(fd).shift();
    if (next === undefined) return null;
    if (next.error !== undefined) throw next.error;
    const copied = Math.min(next.bytes.length, buffer.length);
    next.bytes.copy(buffer, 0, 0, copied);
    return {
      bytes: copied,
      fds: next.fds.slice(),
      truncated: next.truncated || next.bytes.length > buffer.length,
      fdsTruncated: next.fdsTruncated,
    };
  }

  peerCredentials(fd) {
    this.record('peerCredentials', [fd]);
    this.requireOpen(fd, 'getsockopt');
    const outcome = this.scripted('peerCredentials', [fd]);
    if (outcome.scripted) return outcome.value;
    return { ...this.credentials };
  }

  peerHungUp(fd) {
    this.record('peerHungUp', [fd]);
    this.requireOpen(fd, 'poll');
    const outcome = this.scripted('peerHungUp', [fd]);
    if (outcome.scripted) return outcome.value;
    return this.inbox(fd).some((next) => next.error === undefined && next.bytes.length === 0 && next.fds.length === 0);
  }

  pipe() {
    this.record('pipe', []);
    const outcome = this.scripted('pipe', []);
    if (outcome.scripted) return outcome.value;
    return [this.newFd('pipe read end'), this.newFd('pipe write end')];
  }

  socketPair() {
    this.record('socketPair', []);
    const outcome = this.scripted('socketPair', []);
    if (outcome.scripted) return outcome.value;
    return [this.newFd('socket pair end'), this.newFd('socket pair end')];
  }

  waitReadable(fd, timeoutMs) {
    this.record('waitReadable', [fd, timeoutMs]);
    this.requireOpen(fd, 'ppoll');
    const outcome = this.scripted('waitReadable', [fd, timeoutMs]);
    if (outcome.scripted) return outcome.value;
    const proc = this.processByPidfd(fd);
    if (proc !== undefined) return proc.exit !== null;
    return this.inbox(fd).length > 0;
  }

  openReadWrite(path) {
    this.record('openReadWrite', [path]);
    const outcome = this.scripted('openReadWrite', [path]);
    if (outcome.scripted) return outcome.value;
    return this.newFd(`open:${path}`);
  }

  /** Scripted, or an empty file: the unit tests run no cgroup. */
  readFileAt(dirFd, name) {
    this.record('readFileAt', [dirFd, name]);
    this.requireOpen(dirFd, 'openat');
    const outcome = this.scripted('readFileAt', [dirFd, name]);
    if (outcome.scripted) return outcome.value;
    return '';
  }

  /**
   * The sync exchange: takes every fd but the socket (closed here, as the
   * addon closes them). Scripted outcomes return what the exchange gathered;
   * unscripted, the server is gone before it answered.
   */
  exchangeSync(socket, records, fds, inputs, inputData, outputs, stopRecord, limits) {
    const args = [socket, records, fds, inputs, inputData, outputs, stopRecord, limits];
    this.record('exchangeSync', args);
    this.requireOpen(socket, 'sendmsg');
    for (const fd of [...fds, ...inputs, ...outputs]) this.release(fd);
    const outcome = this.scripted('exchangeSync', args);
    const gathered = outcome.scripted ? outcome.value : {};
    return {
      replies: [], outputs: outputs.map(() => Buffer.alloc(0)), ended: true, timedOut: false, overflowed: false,
      sendErrno: 0, receiveErrno: 0, inputErrno: 0, ...gathered,
    };
  }

  close(fd) {
    this.record('close', [fd]);
    const outcome = this.scripted('close', [fd]);
    if (outcome.scripted) return outcome.value;
    this.release(fd);
    return undefined;
  }

  closeOffLoop(fd) {
    return this.closeBy('closeOffLoop', fd);
  }

  closeConnection(fd) {
    return this.closeBy('closeConnection', fd);
  }

  /** A close that takes the fd whatever happens to it, recorded under `name`. */
  closeBy(name, fd) {
    this.record(name, [fd]);
    const outcome = this.scripted(name, [fd]);
    if (outcome.scripted) return outcome.value;
    this.release(fd);
    return undefined;
  }

  release(fd) {
    this.requireOpen(fd, 'close');
    this.open.delete(fd);
    // The kernel drops records (and their fds) still queued on a closed socket.
    for (const pending of this.inboxes.get(fd)?.splice(0) ?? []) {
      for (const attached of pending.fds ?? []) if (this.open.has(attached)) this.open.delete(attached);
    }
  }

  dup(fd) {
    this.record('dup', [fd]);
    const outcome = this.scripted('dup', [fd]);
    if (outcome.scripted) return outcome.value;
    this.requireOpen(fd, 'fcntl');
    return this.newFd(`dup of ${fd}`);
  }

  spawn(options) {
    const copy = structuredClone(options);
    this.record('spawn', [copy]);
    const outcome = this.scripted('spawn', [options]);
    if (outcome.scripted) return outcome.value;
    for (const fd of options.fdMap) if (fd !== -1) this.requireOpen(fd, 'dup2');
    const pid = this.nextPid++;
    const pidfd = this.newFd(`pidfd:${pid}`);
    this.processes.set(pid, {
      pid, pidfd, options: copy, exit: null, reaped: false, signals: [], diesOn: new Set([SIGKILL]), groupGone: false,
    });
    return { pid, pidfd };
  }

  openPty(columns, rows, owner) {
    this.record('openPty', [columns, rows, owner]);
    const outcome = this.scripted('openPty', [columns, rows, owner]);
    if (outcome.scripted) return outcome.value;
    return [this.newFd('pty master'), this.newFd('pty terminal')];
  }

  setTerminalSize(fd, columns, rows) {
    this.record('setTerminalSize', [fd, columns, rows]);
    this.requireOpen(fd, 'ioctl');
  }

  waitPidfd(pidfd) {
    this.record('waitPidfd', [pidfd]);
    this.requireOpen(pidfd, 'waitid');
    const outcome = this.scripted('waitPidfd', [pidfd]);
    if (outcome.scripted) return outcome.value;
    const proc = this.processByPidfd(pidfd);
    if (proc.reaped) throw nativeError('ECHILD', 'waitid');
    if (proc.exit === null) return null;
    proc.reaped = true;
    return { ...proc.exit };
  }

  pidfdSignal(pidfd, signal) {
    this.record('pidfdSignal', [pidfd, signal]);
    this.requireOpen(pidfd, 'pidfd_send_signal');
    const outcome = this.scripted('pidfdSignal', [pidfd, signal]);
    if (outcome.scripted) return outcome.value;
    const proc = this.processByPidfd(pidfd);
    if (proc.reaped) throw nativeError('ESRCH', 'pidfd_send_signal');
    this.deliverSignal(proc, 'pidfd', signal);
    return undefined;
  }

  kill(pid, signal) {
    this.record('kill', [pid, signal]);
    const outcome = this.scripted('kill', [pid, signal]);
    if (outcome.scripted) return outcome.value;
    const proc = this.processes.get(Math.abs(pid));
    if (proc === undefined || proc.reaped || (pid < 0 && proc.groupGone)) throw nativeError('ESRCH', 'kill');
    this.deliverSignal(proc, pid < 0 ? 'group' : 'pid', signal);
    return undefined;
  }
}

class FakePoller {
  constructor(binding, fd, callback) {
    binding.record('Poller', [fd]);
    const outcome = binding.scripted('Poller', [fd]);
    if (outcome.scripted) throw new Error('a scripted Poller constructor must throw');
    binding.requireOpen(fd, 'uv_poll_init');
    this.binding = binding;
    this.fd = fd;
    this.callback = callback;
    this.events = 0;
    this.active = false;
    this.closed = false;
    this.refed = true;
    this.history = [];
    binding.pollers.push(this);
  }

  start(events) {
    this.binding.record('Poller.start', [this.fd, events]);
    if (this.closed) throw new Error('start() on a closed poller');
    this.binding.scripted('Poller.start', [events]);
    this.events = events;
    this.active = true;
    this.history.push(`start:${events}`);
  }

  stop() {
    this.history.push('stop');
    this.active = false;
  }

  close() {
    this.history.push('close');
    this.active = false;
    this.closed = true;
    this.callback = undefined;
  }

  ref() {
    this.history.push('ref');
    this.refed = true;
  }

  unref() {
    this.history.push('unref');
    this.refed = false;
  }

  fire(status = 0, events = READABLE) {
    if (this.closed) throw new Error(`fire() on the closed poller of fd ${this.fd}`);
    if (!this.active) throw new Error(`fire() on the stopped poller of fd ${this.fd}`);
    if (status === 0 && (events & ~this.events) !== 0) {
      throw new Error(`fire(${events}) on a poller of fd ${this.fd} that watches ${this.events}`);
    }
    this.callback(status, events);
  }
}

/**
 * Inside a describe(): nothing real may be spawned or connected while its
 * tests run. The replacements throw, and the describe's after hook fails if
 * any was called (in case the throw was swallowed).
 */
function forbidRealIO() {
  const saved = [];
  const violations = [];
  before(() => {
    const childProcess = require('node:child_process');
    const net = require('node:net');
    const bindingModule = require('../../dist/binding');
    const targets = [
      [childProcess, 'spawn'], [childProcess, 'spawnSync'], [childProcess, 'exec'], [childProcess, 'execSync'],
      [childProcess, 'execFile'], [childProcess, 'execFileSync'], [childProcess, 'fork'],
      [net, 'connect'], [net, 'createConnection'], [net.Socket.prototype, 'connect'],
      [bindingModule, 'getBinding'],
    ];
    for (const [object, name] of targets) {
      saved.push([object, name, object[name]]);
      object[name] = function forbidden() {
        violations.push(name);
        throw new Error(`${name}() called from a fake-binding unit test`);
      };
    }
  });
  after(() => {
    for (const [object, name, original] of saved.splice(0)) object[name] = original;
    if (violations.length > 0) throw new Error(`real I/O attempted: ${violations.join(', ')}`);
  });
}

module.exports = { FakeBinding, FakePoller, nativeError, forbidRealIO, READABLE, WRITABLE };
