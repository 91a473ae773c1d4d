// RemoteChildProcess: child_process's ChildProcess for a program that runs
// through a sidecar server. The state, stdio and event order follow Node's
// lib/internal/child_process.js literally: 'spawn' once started; a failed
// start emits 'error' then 'close' with a negative errno; 'exit' when the
// program ends; 'close' after 'exit' once every readable pipe has closed.

import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type {
  ExitReason as ExitReasonName, RemoteChildProcess as RemoteChildProcessContract, RemoteChildProcessEvents,
} from '../../types/index';
import { type NativeBinding, getBinding } from '../binding';
import {
  type ExitReply, type FailedReply, EXIT_REASON_NAMES, MessageType, ProtocolError, decodeServerMessage, encodeExecPayload,
  encodeExecRecords, encodeSignal, FD_CLOSED, FD_IGNORE, MAX_FDS, MAX_REQUEST_BYTES,
} from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import {
  type NativeError, SidecarError, errnoException, errnoNumber, isNativeError, unknownSignal,
} from '../errors';
import { NodeCompatibleEmitter } from '../emitter';
import { forgetChild, rememberChild } from './registry';
import { type SpawnPlan, signalName, signalNumber } from './options';

type StdioStream = Readable | Writable | null;

/** How long to retry connect() while the server's backlog is full (EAGAIN). */
const CONNECT_RETRY_LIMIT_MS = 5000;

/**
 * Spawn errors that child_process reports through 'error'; it throws every
 * other one from spawn() itself (lib/internal/child_process.js).
 */
const ASYNC_SPAWN_ERRORS = new Set(['EACCES', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT']);

export class RemoteChildProcess extends NodeCompatibleEmitter<RemoteChildProcessEvents> implements RemoteChildProcessContract {
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  exitReason: ExitReasonName | null = null;
  readonly connected = false;
  readonly spawnfile: string;
  readonly spawnargs: string[];
  /** Typed as child_process's (a tuple of five); holds one entry per stdio entry, three at least. */
  readonly stdio: RemoteChildProcessContract['stdio'];

  private socket: SeqpacketSocket | undefined;
  private ended = false; // exit or failure known: no more signals
  private closesNeeded = 1; // 'exit' plus each readable pipe, as Node counts
  private closesGot = 0;
  private unrefed = false;
  private closeEmitted = false;
  /** True while the constructor runs: nothing may be emitted before the caller has the object. */
  private constructing = true;
  /** Signals given to kill() before the connection existed. */
  private pendingSignals: number[] = [];
  /** Releases readable pipes held back until 'spawn'. */
  private heldReads: (() => void)[] = [];

  constructor(private readonly plan: SpawnPlan, private readonly binding: NativeBinding = getBinding()) {
    super();
    this.spawnfile = plan.file;
    this.spawnargs = plan.spawnargs;
    const { streams, remoteFds, fdMap } = this.createStdio();
    this.stdio = streams as RemoteChildProcess['stdio'];
    try {
      if (this.connectAndSend(remoteFds, fdMap, Date.now())) this.awaitStartBriefly();
    } finally {
      this.constructing = false;
    }
  }

  get stdin(): Writable | null {
    return this.stdio[0];
  }

  get stdout(): Readable | null {
    return this.stdio[1];
  }

  get stderr(): Readable | null {
    return this.stdio[2];
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const number = signal === 0 ? 0 : signalNumber(signal);
    if (number === undefined) throw unknownSignal(signal);
    if (!this.deliverSignal(number)) return false;
    this.killed = true;
    return true;
  }

  /**
   * Sends a signal number (0 only checks) without marking the child killed:
   * process.kill(pid) does not either, and remoteKill() mirrors it.
   */
  deliverSignal(number: number): boolean {
    if (this.ended) return false;
    if (number === 0) return this.socket === undefined || !this.socket.isDestroyed;
    if (this.socket === undefined) {
      // Still connecting (the server's backlog was full): send it right after the request.
      this.pendingSignals.push(number);
    } else if (this.socket.isDestroyed) {
      return false;
    } else {
      // Before 'spawn' the record queues behind the request; the server
      // applies it as soon as the program exists.
      this.socket.send(encodeSignal(number));
    }
    return true;
  }

  ref(): void {
    this.unrefed = false;
    this.socket?.ref();
  }

  unref(): void {
    this.unrefed = true;
    this.socket?.unref();
  }

  /** There is no IPC channel to a remote program; present so that the shape is ChildProcess's. */
  disconnect(): void {
    this.emit('error', Object.assign(new Error('IPC channel is already disconnected'), { code: 'ERR_IPC_DISCONNECTED' }));
  }

  // ---- setup ---------------------------------------------------------------

  /**
   * Local streams for 'pipe' entries, and the fds that travel to the server.
   * Every travelling fd is owned by the request from here on (pipe ends we
   * created, or close-on-exec duplicates of the caller's fds).
   */
  private createStdio(): { streams: StdioStream[]; remoteFds: number[]; fdMap: number[] } {
    const streams: StdioStream[] = [];
    const remoteFds: number[] = [];
    const fdMap: number[] = [];
    const { binding } = this;
    try {
      for (const [index, entry] of this.plan.stdio.entries()) {
        if (entry.kind === 'ignore') {
          // libuv gives /dev/null for 0-2 and leaves fds above closed.
          streams.push(null);
          fdMap.push(index <= 2 ? FD_IGNORE : FD_CLOSED);
          continue;
        }
        let remote: number;
        if (entry.kind === 'fd') {
          remote = binding.dup(entry.fd);
          streams.push(null);
        } else if (index <= 2) {
          // Plain pipes for 0-2: the program reads its stdin and writes the rest.
          const [readEnd, writeEnd] = binding.pipe();
          const programReads = index === 0;
          remote = programReads ? readEnd : writeEnd;
          streams.push(this.wrapLocalEnd(programReads ? writeEnd : readEnd, !programReads, index));
        } else {
          // Extra pipes are duplex, as child_process makes them.
          const [local, far] = binding.socketPair();
          remote = far;
          streams.push(this.wrapLocalEnd(local, true, index));
        }
        fdMap.push(remoteFds.length);
        remoteFds.push(remote);
      }
    } catch (error) {
      for (const fd of remoteFds) binding.close(fd);
      for (const stream of streams) stream?.destroy();
      throw error;
    }
    return { streams, remoteFds, fdMap };
  }

  private wrapLocalEnd(fd: number, readable: boolean, index: number): Readable | Writable {
    if (!readable) return new net.Socket({ fd, readable: false, writable: true });
    // child_process spawns synchronously, so 'spawn' always precedes the first
    // 'data'. Here the program may write before the server's STARTED arrives:
    // hold reads back until then (manualStart skips the read Node would start
    // at once; the instance _read only notes that one was asked for).
    // Writable left at its default (true), as child_process's stdout is.
    const socket = new net.Socket({ fd, readable: true, manualStart: true } as net.SocketConstructorOpts);
    let readRequested = false;
    socket._read = () => {
      readRequested = true;
    };
    this.heldReads.push(() => {
      delete (socket as Partial<Pick<net.Socket, '_read'>>)._read;
      if (socket.destroyed) return;
      if (readRequested) socket._read(socket.readableHighWaterMark);
      else socket.read(0);
    });
    if (index > 0) {
      this.closesNeeded++;
      socket.on('close', () => this.maybeClose());
    }
    return socket;
  }

  /** Connects and sends the request. False when the request could not be sent now. */
  private connectAndSend(remoteFds: number[], fdMap: number[], startedAt: number): boolean {
    let fd: number;
    try {
      fd = this.binding.connect(this.plan.socketPath);
    } catch (error) {
      if (isNativeError(error) && error.code === 'EAGAIN' && Date.now() - startedAt < CONNECT_RETRY_LIMIT_MS) {
        // The server's accept backlog is full: it is busy, not gone.
        const timer = setTimeout(() => this.connectAndSend(remoteFds, fdMap, startedAt), 5);
        if (this.unrefed) timer.unref();
        return false;
      }
      for (const remote of remoteFds) this.binding.close(remote);
      this.failBeforeSpawn(connectError(error, this.plan.socketPath));
      return false;
    }
    this.socket = new SeqpacketSocket(fd, this.binding, {
      onMessage: (data, fds) => this.onMessage(data, fds),
      onEnd: (error) => this.onDisconnect(error),
    });
    if (this.unrefed) this.socket.unref();
    const { plan } = this;
    const payload = encodeExecPayload({
      file: plan.file, argv: plan.argv, env: plan.env, cwd: plan.cwd, fdMap,
      newSession: plan.newSession, serverEnv: plan.serverEnv, uid: plan.uid, gid: plan.gid,
    });
    if (payload.length > MAX_REQUEST_BYTES || fdMap.length > MAX_FDS) {
      for (const remote of remoteFds) this.binding.close(remote);
      this.socket.destroy();
      const what = payload.length > MAX_REQUEST_BYTES
        ? `${payload.length} bytes, more than ${MAX_REQUEST_BYTES}` : `${fdMap.length} stdio entries, more than ${MAX_FDS}`;
      this.failBeforeSpawn(new SidecarError('ERR_SIDECAR_REQUEST_TOO_LARGE',
        `spawn ${this.spawnfile}: the request is too large for the sidecar protocol (${what})`,
        { socket: plan.socketPath, errno: -7, syscall: `spawn ${this.spawnfile}` }));
      return false;
    }
    const records = encodeExecRecords(payload);
    this.socket.send(records[0], remoteFds);
    for (let i = 1; i < records.length; i++) this.socket.send(records[i]);
    for (const signal of this.pendingSignals.splice(0)) this.socket.send(encodeSignal(signal));
    return true;
  }

  /**
   * child_process.spawn returns with `pid` set, and tools rely on it. When the
   * whole request went out, block up to `startWait` ms for the server's
   * started (or failed) reply, as spawn itself blocks for its fork; a busy
   * server leaves pid to the 'spawn' event instead.
   */
  private awaitStartBriefly(): void {
    const socket = this.socket;
    if (this.plan.startWait === 0 || socket === undefined || socket.isDestroyed || !socket.isFlushed) return;
    // A server embedded in this very process answers from this event loop:
    // blocking it would only delay that answer.
    if (this.binding.peerCredentials(socket.fd).pid === process.pid) return;
    if (!this.binding.waitReadable(socket.fd, this.plan.startWait)) return;
    socket.receiveOne();
  }

  /** Runs fn now, or on the next tick while the constructor still runs. */
  private deliver(fn: () => void): void {
    if (this.constructing) process.nextTick(fn);
    else fn();
  }

  // ---- messages ------------------------------------------------------------

  private onMessage(data: Uint8Array, fds: number[]): void {
    // The server never sends fds; close any rather than leak them.
    for (const fd of fds) this.binding.close(fd);
    let message;
    try {
      message = decodeServerMessage(data);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.socket?.destroy();
      this.onDisconnect(undefined, new SidecarError('ERR_SIDECAR_PROTOCOL',
        `sidecar server at ${this.plan.socketPath} sent a malformed message: ${error.message}`,
        { socket: this.plan.socketPath }));
      return;
    }
    switch (message.type) {
      case MessageType.Started:
        if (this.pid !== undefined) break;
        this.pid = message.pid;
        rememberChild(this.pid, this);
        this.deliver(() => {
          this.emit('spawn');
          this.releaseReads();
        });
        break;
      case MessageType.Failed: {
        this.socket?.destroy();
        const error = this.failedError(message.failed);
        if (this.constructing && !ASYNC_SPAWN_ERRORS.has(error.code ?? '') && !(error instanceof SidecarError)) {
          // child_process throws these from spawn(); so do we, when we know in time.
          this.ended = true;
          this.heldReads = [];
          for (const stream of this.stdio) stream?.destroy();
          throw error;
        }
        this.failBeforeSpawn(error);
        break;
      }
      case MessageType.Exit:
        this.socket?.destroy();
        this.onExit(message.exit);
        break;
      default:
        break;
    }
  }

  private onDisconnect(cause?: NativeError, error?: Error): void {
    if (this.ended) return;
    error ??= new SidecarError('ERR_SIDECAR_DISCONNECTED',
      `connection to the sidecar server at ${this.plan.socketPath} ended before the program's exit was reported`
        + (cause !== undefined ? ` (${cause.code})` : ''),
      { socket: this.plan.socketPath }, cause);
    if (this.pid === undefined) {
      this.failBeforeSpawn(error);
      return;
    }
    // The server kills the program when its client goes, and its death signal
    // kills it when the server goes: report it as killed.
    this.emit('error', error);
    this.onExit({ exitCode: null, signal: 9, reason: 0 }, false);
  }

  private failedError(failed: FailedReply): Error & { code?: string } {
    // The server's own step ('chdir', 'execve', 'authorize'...) is kept, not
    // enumerable, so that callers such as the CLI decide by fact, not by text,
    // while the error's own keys stay child_process's.
    return Object.defineProperty(this.failedReplyError(failed), 'serverSyscall', { value: failed.syscall, configurable: true, writable: true });
  }

  private failedReplyError(failed: FailedReply): Error & { code?: string } {
    if (failed.code.startsWith('ERR_SIDECAR_')) {
      return new SidecarError(failed.code as 'ERR_SIDECAR_PROTOCOL',
        `spawn ${this.spawnfile}: ${failed.message} (sidecar server at ${this.plan.socketPath})`,
        { socket: this.plan.socketPath, errno: -Math.abs(failed.errno), syscall: `spawn ${this.spawnfile}` });
    }
    const errno = errnoNumber(failed.code) ?? failed.errno;
    if (!ASYNC_SPAWN_ERRORS.has(failed.code)) {
      // Node's shape for the errors spawn() throws: 'spawn <CODE>', no path.
      return errnoException(errno, 'spawn');
    }
    // Node words every spawn failure as 'spawn <file> <CODE>'; a working
    // directory missing on the server is the one case worth saying more.
    const detail = failed.syscall === 'chdir' ? failed.message : undefined;
    const error = errnoException(errno, `spawn ${this.spawnfile}`, detail);
    return Object.assign(error, { path: this.spawnfile, spawnargs: this.spawnargs.slice(1) });
  }

  /** Node's path for a spawn that failed: 'error', then 'close' with the negative errno. */
  private failBeforeSpawn(error: Error): void {
    if (this.constructing) {
      // e.g. sendmsg failed inside the constructor: the caller has no listener yet.
      process.nextTick(() => this.failBeforeSpawn(error));
      return;
    }
    if (this.ended) return;
    this.ended = true;
    const errno = (error as { errno?: unknown }).errno;
    this.exitCode = typeof errno === 'number' ? -Math.abs(errno) : -1;
    // As Node's onexit for a failed spawn: stdin destroyed, 'error', then
    // 'close' once the readable pipes reach their end (every far end is
    // closed: the server's copies with the failure, ours once sent).
    this.stdin?.destroy();
    this.releaseReads();
    this.emit('error', error);
    process.nextTick(() => this.flushStdio());
    this.maybeClose();
  }

  private onExit(exit: ExitReply, reasonKnown = true): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pid !== undefined) forgetChild(this.pid, this);
    if (exit.signal !== null) this.signalCode = signalName(exit.signal);
    else this.exitCode = exit.exitCode;
    this.exitReason = reasonKnown ? EXIT_REASON_NAMES[exit.reason] : null;
    this.stdin?.destroy();
    this.emit('exit', this.exitCode, this.signalCode);
    process.nextTick(() => this.flushStdio());
    this.maybeClose();
  }

  /** Lets pipes nobody reads drain to their end, so that 'close' can come. */
  private flushStdio(): void {
    for (const stream of this.stdio) {
      if (stream === null || !(stream as Readable).readable) continue;
      const state = (stream as Readable & { _readableState?: { readListening?: boolean } })._readableState;
      if (state?.readListening) continue;
      (stream as Readable).resume();
    }
  }

  private releaseReads(): void {
    for (const release of this.heldReads.splice(0)) release();
  }

  private maybeClose(): void {
    this.closesGot++;
    if (this.closesGot !== this.closesNeeded || this.closeEmitted) return;
    this.closeEmitted = true;
    this.emit('close', this.exitCode, this.signalCode);
  }

  // ---- the rest of ChildProcess's shape (types/index.d.ts) ------------------

  /** There is no IPC channel: absent, as on a child_process child spawned without 'ipc'. */
  declare readonly channel?: never;

  /**
   * There is no IPC channel to a remote program. child_process gives a child
   * without 'ipc' no send() at all; this one fails loudly instead: a callback
   * (the first function after `message`, as Node's send finds it) gets an
   * ERR_SIDECAR_UNSUPPORTED error on the next tick, as Node's send reports a
   * closed channel, and false is returned; without a callback it is thrown.
   */
  send(_message: unknown, ...rest: unknown[]): false {
    const error = new SidecarError('ERR_SIDECAR_UNSUPPORTED',
      'subprocess.send() is not supported by sidecar-exec: there is no IPC channel to a remote program');
    const callback = rest.slice(0, 3).find((arg): arg is (error: Error) => void => typeof arg === 'function');
    if (callback === undefined) throw error;
    process.nextTick(callback, error);
    return false;
  }

  /** As child_process's: `using child = remoteSpawn(...)` kills it (SIGTERM) unless it was killed already. */
  [Symbol.dispose](): void {
    if (!this.killed) this.kill();
  }
}

function connectError(error: unknown, socketPath: string): Error {
  if (!isNativeError(error)) return error as Error;
  const why: Record<string, string> = {
    ENOENT: 'no such socket file',
    ECONNREFUSED: 'nothing is listening on it',
    EACCES: 'permission denied',
    EAGAIN: 'the server is too busy to accept',
    ENOTSOCK: 'not a socket',
    ENAMETOOLONG: 'the path is longer than a unix socket address allows',
  };
  return new SidecarError('ERR_SIDECAR_CONNECT',
    `cannot connect to the sidecar server at ${socketPath}: ${error.code}${why[error.code] ? ` (${why[error.code]})` : ''}`,
    { socket: socketPath, errno: -Math.abs(error.errno), syscall: 'connect' }, error);
}
