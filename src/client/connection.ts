// One remote spawn's connection to the server: connect (retrying while the
// server's backlog is full), send the request with its fds, forward signals,
// wait briefly for the start, and turn the server's records into replies.
// It knows the protocol; RemoteChildProcess knows only the replies.

import type { NativeBinding } from '../binding';
import {
  type ExitReply, type FailedReply, MessageType, ProtocolError, decodeServerMessage, encodeSignal,
} from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import {
  type NativeError, disconnected, isNativeError, malformedReply, startTimedOut, unexpectedServer,
} from '../errors';
import { peerRefusal, socketOwnerRefusal } from './expected-server';
import { requestRecords } from './request';
import { connectFailure } from './socket-path';
import type { SpawnPlan } from './spawn-options';

/** How long to retry connect() while the server's backlog is full (EAGAIN). */
export const CONNECT_RETRY_LIMIT_MS = 5000;
/** Pause between those tries. */
export const CONNECT_RETRY_MS = 5;

/** What the connection reports to its child process. */
export interface ConnectionEvents {
  /** `terminal`: the master of the program's terminal, owned by the callee (tty option only). */
  started(pid: number, terminal: number | undefined): void;
  failed(reply: FailedReply): void;
  exited(reply: ExitReply): void;
  /** The request never went out, or the server could not be followed any more (hang-up, bad record). */
  lost(error: Error): void;
}

export class Connection {
  private socket: SeqpacketSocket | undefined;
  private unrefed = false;
  /** Signals asked for before the connection existed. */
  private readonly pendingSignals: number[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  /** STARTED has arrived. */
  private started = false;
  /** Bounds the wait for the server's answer (startTimeout). */
  private startTimer: NodeJS.Timeout | undefined;

  /**
   * `remoteFds` travel with the request and are owned by the connection from
   * here on: sent, or closed if they cannot be.
   */
  constructor(
    private readonly plan: SpawnPlan,
    private readonly remoteFds: number[],
    private readonly fdMap: number[],
    private readonly binding: NativeBinding,
    private readonly events: ConnectionEvents,
  ) {
    if (plan.startTimeout > 0) {
      this.startTimer = setTimeout(() => {
        this.startTimer = undefined;
        // Closing gives the request up: a server that reads it later finds
        // its client gone and starts nothing.
        this.close();
        this.events.lost(startTimedOut(plan.file, plan.socketPath, plan.startTimeout));
      }, plan.startTimeout);
    }
  }

  /**
   * Connects and sends the request. True when the whole request is on its
   * way now; false when it waits for a retry or could not be made (then
   * `lost` has been called).
   */
  open(startedAt = Date.now()): boolean {
    const { plan } = this;
    const refusal = plan.expectUid === undefined ? undefined : socketOwnerRefusal(plan.socketPath, plan.expectUid);
    if (refusal !== undefined) return this.refuse(refusal);
    try {
      this.socket = SeqpacketSocket.connect(plan.socketPath, this.binding, {
        onMessage: (data, fds) => this.onRecord(data, fds),
        onEnd: (error) => this.onEnd(error),
      }, plan.terminal === null ? false : 'trusted');
    } catch (error) {
      if (isNativeError(error) && error.code === 'EAGAIN' && Date.now() - startedAt < CONNECT_RETRY_LIMIT_MS) {
        // The server's accept backlog is full: it is busy, not gone.
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.open(startedAt);
        }, CONNECT_RETRY_MS);
        if (this.unrefed) this.retryTimer.unref();
        return false;
      }
      this.closeRemoteFds();
      this.lose(connectFailure(error, plan.socketPath));
      return false;
    }
    if (this.unrefed) this.socket.unref();
    // Before anything is sent: the listener is who expectUid says.
    const impostor = plan.expectUid === undefined ? undefined : peerRefusal(this.socket.peerCredentials(), plan.expectUid);
    if (impostor !== undefined) return this.refuse(impostor);
    const records = requestRecords(plan, this.fdMap);
    if (records instanceof Error) {
      this.closeRemoteFds();
      this.socket.destroy();
      this.lose(records);
      return false;
    }
    this.socket.send(records[0], this.remoteFds.splice(0));
    for (let i = 1; i < records.length; i++) this.socket.send(records[i]);
    // Before 'spawn' these queue behind the request; the server applies them
    // as soon as the program exists.
    for (const signal of this.pendingSignals.splice(0)) this.socket.send(encodeSignal(signal));
    return true;
  }

  /**
   * Sends a signal number (0 only checks). False once the connection is
   * gone; a signal asked for while still connecting is sent after the request.
   */
  signal(number: number): boolean {
    const { socket } = this;
    if (socket === undefined) {
      if (number !== 0) this.pendingSignals.push(number);
      return true;
    }
    if (socket.isDestroyed) return false;
    if (number !== 0) socket.send(encodeSignal(number));
    return true;
  }

  /**
   * Blocks up to `ms` for the server's first reply and handles it now, so
   * that remoteSpawn can return with `pid` set, as child_process.spawn
   * blocks for its fork. A busy server leaves it to the event loop. Never
   * blocks for a server in this very process: it answers from this event
   * loop, so blocking would only delay that answer.
   */
  blockUntilStarted(ms: number): void {
    const { socket } = this;
    if (ms === 0 || socket === undefined || socket.isDestroyed || !socket.isFlushed) return;
    if (socket.peerCredentials().pid === process.pid) return;
    const { startTimeout } = this.plan;
    if (!socket.waitReadableBlocking(startTimeout > 0 ? Math.min(ms, startTimeout) : ms)) return;
    socket.receiveOne();
  }

  /**
   * Gives the request up before the program was reported started: `signal`
   * first, for a program that did start meanwhile (its STARTED still on the
   * way), then the hang-up, after which a server starts nothing for it.
   */
  abandon(signal: number): void {
    const { socket } = this;
    if (socket !== undefined && !socket.isDestroyed) socket.send(encodeSignal(signal));
    this.close();
  }

  /** Hangs up: the server then ends the program as its disconnect policy says. */
  close(): void {
    this.stopStartTimer();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.closeRemoteFds();
    this.socket?.destroy();
  }

  ref(): void {
    this.unrefed = false;
    this.startTimer?.ref();
    this.retryTimer?.ref();
    this.socket?.ref();
  }

  unref(): void {
    this.unrefed = true;
    this.startTimer?.unref();
    this.retryTimer?.unref();
    this.socket?.unref();
  }

  /** expectUid refused the server: nothing is sent, the fds are closed. */
  private refuse(why: string): false {
    this.closeRemoteFds();
    this.socket?.destroy();
    this.lose(unexpectedServer(this.plan.socketPath, why));
    return false;
  }

  private stopStartTimer(): void {
    if (this.startTimer !== undefined) clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  /** The request is over without an answer to wait for: no start timer outlives it. */
  private lose(error: Error): void {
    this.stopStartTimer();
    this.events.lost(error);
  }

  private closeRemoteFds(): void {
    for (const fd of this.remoteFds.splice(0)) this.binding.close(fd);
  }

  private onRecord(data: Uint8Array, fds: number[]): void {
    let message;
    // Only STARTED of a request for a terminal carries an fd: its master.
    const terminal = this.plan.terminal !== null && data[1] === MessageType.Started && fds.length === 1 ? fds.pop() : undefined;
    for (const fd of fds.splice(0)) this.binding.close(fd);
    try {
      message = decodeServerMessage(data);
      if (message.type === MessageType.Started && this.plan.terminal !== null && terminal === undefined) {
        throw new ProtocolError('started: no terminal came with it');
      }
    } catch (error) {
      if (terminal !== undefined) this.binding.close(terminal);
      if (!(error instanceof ProtocolError)) throw error;
      this.socket?.destroy();
      this.lose(malformedReply(this.plan.socketPath, error.message));
      return;
    }
    // STARTED once, then EXIT; or FAILED instead of both. Anything else is a
    // server that cannot be followed.
    const expected = this.started ? message.type === MessageType.Exit
      : message.type === MessageType.Started || message.type === MessageType.Failed;
    if (!expected) {
      if (terminal !== undefined) this.binding.close(terminal);
      this.socket?.destroy();
      this.lose(malformedReply(this.plan.socketPath, `message type ${message.type} ${this.started ? 'after' : 'before'} the program started`));
      return;
    }
    switch (message.type) {
      case MessageType.Started:
        this.started = true;
        this.stopStartTimer();
        this.events.started(message.pid, terminal);
        break;
      case MessageType.Failed:
        this.stopStartTimer();
        this.socket?.destroy();
        this.events.failed(message.failed);
        break;
      case MessageType.Exit:
        this.socket?.destroy();
        this.events.exited(message.exit);
        break;
      default:
        break;
    }
  }

  private onEnd(cause: NativeError | undefined): void {
    this.lose(disconnected(this.plan.socketPath, 'the program\'s exit was reported', cause));
  }
}
