// RemoteChildProcess: child_process's ChildProcess for a program that runs
// through a sidecar server. This file is the event and close state machine
// only; the stdio is made by ./stdio.ts and the server spoken to by
// ./connection.ts. The order follows Node's lib/internal/child_process.js
// literally: 'spawn' once started; a failed start emits 'error' then 'close'
// with a negative errno; 'exit' when the program ends; 'close' after 'exit'
// once every readable pipe has closed.

import * as os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type {
  ExitReason, RemoteChildProcess as RemoteChildProcessContract, RemoteChildProcessEvents,
} from '../../types/index';
import { type NativeBinding, getBinding } from '../binding';
import { type ExitReply, type FailedReply, exitReasonName } from '../protocol';
import { SidecarError, failedReplyError, isThrownBySpawn } from '../errors';
import { NodeCompatibleEmitter } from '../emitter';
import { signalName, terminatesByDefault, toSignalNumber } from '../signals';
import { Connection } from './connection';
import { followTerminalSignals } from './terminal-signals';
import { forgetChild, rememberChild } from './pids';
import { type SpawnPlan, terminalDimension } from './spawn-options';
import { type LocalStdio, createStdio } from './stdio';

const SIGKILL = 9;

export class RemoteChildProcess extends NodeCompatibleEmitter<RemoteChildProcessEvents> implements RemoteChildProcessContract {
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  exitReason: ExitReason | null = null;
  readonly connected = false;
  readonly spawnfile: string;
  readonly spawnargs: string[];
  /** Typed as child_process's (a tuple of five); holds one entry per stdio entry, three at least. */
  readonly stdio: RemoteChildProcessContract['stdio'];

  private readonly local: LocalStdio;
  private readonly connection: Connection;
  private ended = false; // exit or failure known: no more signals
  /** Given up before it was reported started; its 'exit' is on the next tick. */
  private abandoning = false;
  /** Stops forwarding the terminal's signals to it (not detached only). */
  private stopFollowing: () => void = () => undefined;
  private closesNeeded = 1; // 'exit' plus each readable pipe, as Node counts
  private closesGot = 0;
  private closeEmitted = false;
  /** True while the constructor runs: nothing may be emitted before the caller has the object. */
  private constructing = true;

  constructor(private readonly plan: SpawnPlan, binding: NativeBinding = getBinding()) {
    super();
    this.spawnfile = plan.file;
    this.spawnargs = plan.spawnargs;
    this.local = createStdio(plan.stdio, binding, plan.terminal);
    this.stdio = this.local.streams as RemoteChildProcess['stdio'];
    for (const readable of this.local.readables) {
      this.closesNeeded++;
      readable.on('close', () => this.maybeClose());
    }
    this.connection = new Connection(plan, this.local.remoteFds, this.local.fdMap, binding, {
      started: (pid, terminal) => this.onStarted(pid, terminal),
      failed: (reply) => this.onFailed(reply),
      exited: (reply) => this.onExit(reply),
      lost: (error) => this.onLost(error),
    });
    // In the caller's foreground process group, as a local child that is not detached.
    // A program on a terminal of its own gets SIGWINCH from that terminal,
    // when resize() sizes it, not from the caller's.
    if (!plan.newSession) {
      this.stopFollowing = followTerminalSignals(plan.terminal === null ? this : {
        deliverSignal: (number) => number === os.constants.signals.SIGWINCH || this.deliverSignal(number),
      });
    }
    try {
      if (this.connection.open()) this.connection.blockUntilStarted(plan.startWait);
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
    const number = signal === 0 ? 0 : toSignalNumber(signal);
    if (!this.deliverSignal(number)) return false;
    this.killed = true;
    return true;
  }

  /**
   * Sends a signal number (0 only checks) without marking the child killed:
   * process.kill(pid) does not either, and remoteKill() mirrors it. Before
   * the program is reported started, a signal that ends a program by
   * default gives the request up (see abandon()).
   */
  deliverSignal(number: number): boolean {
    if (this.abandoning) return true;
    if (this.ended) return false;
    if (this.pid === undefined && terminatesByDefault(number)) {
      this.abandon(number);
      return true;
    }
    return this.connection.signal(number);
  }

  ref(): void {
    this.connection.ref();
  }

  unref(): void {
    this.connection.unref();
  }

  /** There is no IPC channel to a remote program; present so that the shape is ChildProcess's. */
  disconnect(): void {
    this.emit('error', Object.assign(new Error('IPC channel is already disconnected'), { code: 'ERR_IPC_DISCONNECTED' }));
  }

  /**
   * A local child signalled while it starts dies of the signal (libuv's
   * child has default actions from before exec). Here the request is given
   * up: the signal is sent for a program that started meanwhile, the
   * connection closed, and, as for a killed local child, 'exit' with
   * (null, signal) comes later, then 'close'. The local ends of the pipes
   * are closed: the server may hold their far ends unread (stopped) for any
   * time. No program was seen, so `pid` stays undefined and `exitReason` null.
   */
  private abandon(signal: number): void {
    this.abandoning = true;
    this.connection.abandon(signal);
    this.local.dropHeldReads();
    process.nextTick(() => {
      this.abandoning = false;
      this.onExit({ exitCode: null, signal, reason: 0 }, false);
      this.closeReadables();
    });
  }

  private closeReadables(): void {
    for (const readable of this.local.readables) readable.destroy();
  }

  private markEnded(): void {
    this.ended = true;
    this.stopFollowing();
  }

  // ---- replies ---------------------------------------------------------------

  /** Runs fn now, or on the next tick while the constructor still runs. */
  private deliver(fn: () => void): void {
    if (this.constructing) process.nextTick(fn);
    else fn();
  }

  /** Sets the window size of the program's terminal (tty option); see types/index.d.ts. */
  resize(columns: number, rows: number): void {
    const size = {
      columns: terminalDimension(columns, 'columns', 0),
      rows: terminalDimension(rows, 'rows', 0),
    };
    this.local.terminal?.resize(size);
  }

  private onStarted(pid: number, terminal: number | undefined): void {
    if (this.pid !== undefined) return;
    this.pid = pid;
    if (terminal !== undefined) this.local.terminal?.attach(terminal);
    rememberChild(pid, this);
    this.deliver(() => {
      this.emit('spawn');
      this.local.releaseReads();
    });
  }

  private onFailed(reply: FailedReply): void {
    const error = failedReplyError(reply, {
      kind: 'spawn', socket: this.plan.socketPath, file: this.spawnfile, spawnargs: this.spawnargs,
    });
    if (this.constructing && isThrownBySpawn(error)) {
      // child_process throws these from spawn(); so do we, when we know in time.
      this.markEnded();
      this.local.dropHeldReads();
      for (const stream of this.stdio) stream?.destroy();
      this.local.terminal?.output.destroy();
      throw error;
    }
    this.failBeforeSpawn(error);
  }

  /** The server can no longer be followed: a failed start, or a program presumed killed. */
  private onLost(error: Error): void {
    if (this.ended) return;
    if (this.pid === undefined) {
      this.failBeforeSpawn(error);
      return;
    }
    // The server kills the program when its client goes, and its death signal
    // kills it when the server goes: report it as killed.
    this.emit('error', error);
    this.onExit({ exitCode: null, signal: SIGKILL, reason: 0 }, false);
  }

  /** Node's path for a spawn that failed: 'error', then 'close' with the negative errno. */
  private failBeforeSpawn(error: Error): void {
    if (this.constructing) {
      // e.g. sendmsg failed inside the constructor: the caller has no listener yet.
      process.nextTick(() => this.failBeforeSpawn(error));
      return;
    }
    if (this.ended) return;
    this.markEnded();
    const errno = (error as { errno?: unknown }).errno;
    this.exitCode = typeof errno === 'number' ? -Math.abs(errno) : -1;
    // As Node's onexit for a failed spawn: stdin destroyed, 'error', then
    // 'close' once the readable pipes reach their end (every far end is
    // closed: the server's copies with the failure, ours once sent).
    this.stdin?.destroy();
    this.local.releaseReads();
    this.local.terminal?.abandon();
    this.emit('error', error);
    process.nextTick(() => this.flushStdio());
    // A request given up (startTimeout) may still hold the far ends in a
    // server that never reads it: ours are closed, not waited for.
    if ((error as { code?: unknown }).code === 'ERR_SIDECAR_START_TIMEOUT') this.closeReadables();
    this.maybeClose();
  }

  private onExit(exit: ExitReply, reasonKnown = true): void {
    if (this.ended) return;
    this.markEnded();
    if (this.pid !== undefined) forgetChild(this.pid, this);
    if (exit.signal !== null) this.signalCode = signalName(exit.signal);
    else this.exitCode = exit.exitCode;
    this.exitReason = reasonKnown ? exitReasonName(exit.reason) : null;
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
