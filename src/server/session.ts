// One client connection on the server: receive the exec request and its fds,
// ask the policy, wait for a place in the work queue, start the program,
// forward signals, report its exit and why it ended. If the client goes away
// first, the program's process group is killed (the original tool's rule).

import * as os from 'node:os';
import * as util from 'node:util';
import type { ExitReason as ExitReasonName, PeerCredentials, ServerRequestInfo, SidecarServerEvents } from '../../types/index';
import type { NativeBinding, NativePoller } from '../binding';
import { READABLE } from '../binding';
import {
  type ClientMessage, type ExecRequest, EXIT_REASON_NAMES, ExitReason, MessageType, ProtocolError,
  decodeClientMessage, decodeExecPayload, encodeExit, encodeFailed, encodePong, encodeStarted, encodeStopping,
  type FailedReply,
} from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { isNativeError } from '../errors';
import { signalName } from '../client/options';
import { nativeSpawnOptions } from './launch';
import type { NormalizedServerOptions } from './options';
import { type Decision, decide } from './policy';

const debug = util.debuglog('sidecar');

const { EPROTO, E2BIG, EIO, EMFILE, EAGAIN, ETIMEDOUT, EPERM } = os.constants.errno;
const { SIGKILL } = os.constants.signals;

/** How long a program may ignore the server's signal before SIGKILL follows. */
export const KILL_ESCALATION_MS = 5000;

/** What a session needs from its server. */
export interface SessionHost {
  readonly binding: NativeBinding;
  readonly devNull: number;
  readonly options: NormalizedServerOptions;
  /** A client asked the server to stop (already checked: allowed). */
  requestStop(): void;
  /** Asks for a place to run: true runs now, false waits (launch() comes later), 'busy' is refused. */
  admit(session: Session): boolean | 'busy';
  /** A session that had a place (running or launching) gave it back. */
  release(session: Session): void;
  /** A queued session left the queue (its client went, or it timed out). */
  leaveQueue(session: Session): void;
  /** The session has released everything: no fd, no program left. */
  sessionDone(session: Session): void;
  count(what: 'spawned' | 'failed' | 'denied'): void;
  notify<E extends 'request' | 'spawn' | 'exit'>(event: E, info: Parameters<SidecarServerEvents[E]>[0]): void;
  notifyDenied(info: { credentials: PeerCredentials; argv: string[]; reason: string }): void;
  notifyClientError(error: Error, credentials: PeerCredentials): void;
}

const enum State {
  AwaitRequest,
  Receiving,
  Deciding,
  Queued,
  Running,
  Done,
}

export class Session {
  readonly credentials: PeerCredentials;
  private readonly socket: SeqpacketSocket;
  private state = State.AwaitRequest;
  /** Chunks of the request received so far: memory grows with what arrives, not with what is announced. */
  private chunks: Buffer[] = [];
  private announced = 0;
  private received = 0;
  private attached: number[] = [];
  private request: ExecRequest | undefined;
  private decision: Extract<Decision, { allow: true }> | undefined;
  private info: ServerRequestInfo | undefined;
  private pid = 0;
  private pidfd = -1;
  private startedAt = 0;
  private exitPoller: NativePoller | undefined;
  private clientGone = false;
  private clientSignalled = false;
  /** Set by the first kill the server decides on its own. */
  private serverReason: ExitReason | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private queueTimer: NodeJS.Timeout | undefined;

  constructor(fd: number, private readonly host: SessionHost) {
    let credentials: PeerCredentials = { pid: 0, uid: -1, gid: -1 };
    try {
      credentials = host.binding.peerCredentials(fd);
    } catch {
      // A peer that is already gone: the socket reports it right away.
    }
    this.credentials = credentials;
    this.socket = new SeqpacketSocket(fd, host.binding, {
      onMessage: (data, fds, truncated, fdsLost) => this.onMessage(data, fds, truncated, fdsLost),
      onEnd: () => this.onClientGone(),
    });
    const { handshakeTimeout } = host.options;
    if (handshakeTimeout > 0) {
      this.handshakeTimer = this.timer(handshakeTimeout, () => {
        if (this.state === State.AwaitRequest || this.state === State.Receiving) {
          this.refuse({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'handshake', message: `no complete request within ${handshakeTimeout} ms` });
        }
      });
    }
  }

  /** Whether a program is running for this session. */
  get running(): boolean {
    return this.state === State.Running;
  }

  /** Drops a session that has not started a program yet (server closing). */
  dropIfIdle(): void {
    if (this.state === State.Running || this.state === State.Done) return;
    if (this.state === State.Queued) this.host.leaveQueue(this);
    this.state = State.Done;
    this.closeAttached();
    this.socket.destroy();
    this.finish();
  }

  /** The server decided to end the program: `signal` now, SIGKILL if it lingers. */
  killFor(reason: ExitReason, signal: number): void {
    if (this.state !== State.Running) return;
    this.serverReason ??= reason;
    this.signalProgram(signal, true);
    if (signal !== SIGKILL) this.timer(KILL_ESCALATION_MS, () => this.signalProgram(SIGKILL, true));
  }

  // ---- messages --------------------------------------------------------------

  private onMessage(data: Uint8Array, fds: number[], truncated: boolean, fdsLost: boolean): void {
    if (fdsLost && this.state === State.AwaitRequest) {
      // Not the client's fault: this server has no fd left to receive them in.
      this.refuse({ errno: EMFILE, code: 'EMFILE', syscall: 'recvmsg', message: 'the server is out of file descriptors' });
      return;
    }
    try {
      if (truncated) throw new ProtocolError(`record larger than ${data.length} bytes`);
      if (fdsLost) throw new ProtocolError('fds attached to a message that takes none');
      const message = decodeClientMessage(data);
      if (fds.length > 0 && !(message.type === MessageType.Exec && this.state === State.AwaitRequest)) {
        throw new ProtocolError('fds attached to a message that takes none');
      }
      this.dispatch(message, fds);
    } catch (error) {
      for (const fd of fds) if (!this.attached.includes(fd)) this.host.binding.close(fd);
      if (!(error instanceof ProtocolError)) throw error;
      this.protocolError(error.message);
    }
  }

  private dispatch(message: ClientMessage, fds: number[]): void {
    const { options } = this.host;
    switch (message.type) {
      case MessageType.Exec:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('a second exec request');
        if (message.totalBytes > options.maxRequestBytes) {
          for (const fd of fds) this.host.binding.close(fd);
          this.refuse({
            errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request',
            message: `request of ${message.totalBytes} bytes exceeds this server's limit of ${options.maxRequestBytes}`,
          });
          return;
        }
        if (fds.length > options.maxFds) {
          for (const fd of fds) this.host.binding.close(fd);
          this.refuse({
            errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request',
            message: `${fds.length} fds passed, more than this server's limit of ${options.maxFds}`,
          });
          return;
        }
        this.attached = fds;
        this.announced = message.totalBytes;
        this.state = State.Receiving;
        this.append(message.chunk);
        return;
      case MessageType.ExecMore:
        if (this.state !== State.Receiving) throw new ProtocolError('request continuation without a request');
        this.append(message.chunk);
        return;
      case MessageType.Signal:
        if (this.state === State.Running) {
          this.clientSignalled = true;
          this.signalProgram(message.signal, false);
        } else if (this.state === State.AwaitRequest || this.state === State.Receiving) {
          throw new ProtocolError('signal before the program started');
        }
        // Deciding or Queued: the program does not exist yet; as with a local
        // child killed before it ran, the signal is simply moot.
        return;
      case MessageType.Stop:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('stop during a request');
        if (!options.allowStop || !this.mayStop()) {
          this.host.count('denied');
          this.host.notifyDenied({ credentials: this.credentials, argv: [], reason: 'stop refused' });
          this.refuse({ errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'stop', message: options.allowStop ? 'only the server\'s own user or root may stop it' : 'this server does not accept stop requests' });
          return;
        }
        this.state = State.Done;
        this.socket.send(encodeStopping());
        this.socket.end();
        this.finish();
        this.host.requestStop();
        return;
      case MessageType.Ping:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('ping during a request');
        this.state = State.Done;
        this.socket.send(encodePong());
        this.socket.end();
        this.finish();
        return;
    }
  }

  private mayStop(): boolean {
    return this.credentials.uid === 0 || this.credentials.uid === process.geteuid?.();
  }

  private append(chunk: Uint8Array): void {
    if (this.received + chunk.length > this.announced) throw new ProtocolError('request longer than announced');
    // Copied: the record's buffer is reused for the next record.
    this.chunks.push(Buffer.from(chunk));
    this.received += chunk.length;
    if (this.received === this.announced) {
      const payload = Buffer.concat(this.chunks, this.announced);
      this.chunks = [];
      this.onRequest(decodeExecPayload(payload, this.attached.length));
    }
  }

  // ---- deciding, queueing, launching ------------------------------------------

  private onRequest(request: ExecRequest): void {
    this.request = request;
    this.state = State.Deciding;
    this.clearTimer(this.handshakeTimer);
    const decision = decide(this.host.options, request, this.credentials);
    if (decision instanceof Promise) {
      decision.then((answer) => this.onDecision(answer), (error: unknown) => this.onDecision({
        allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: String(error),
      }));
    } else {
      this.onDecision(decision);
    }
  }

  private onDecision(decision: Decision): void {
    if (this.state !== State.Deciding) return; // the client left meanwhile
    const request = this.request as ExecRequest;
    if (!decision.allow) {
      debug('denied uid %d pid %d %s: %s', this.credentials.uid, this.credentials.pid, request.argv[0], decision.reason);
      this.closeAttached();
      this.host.count('denied');
      this.host.notifyDenied({ credentials: this.credentials, argv: request.argv, reason: decision.reason });
      this.refuse({ errno: EPERM, code: decision.code, syscall: decision.syscall, message: decision.reason }, false);
      return;
    }
    this.decision = decision;
    this.info = { credentials: this.credentials, argv: request.argv, cwd: decision.cwd, droppedEnv: decision.droppedEnv };
    debug('request uid %d pid %d %o', this.credentials.uid, this.credentials.pid, request.argv);
    this.host.notify('request', this.info);
    const admitted = this.host.admit(this);
    if (admitted === 'busy') {
      this.closeAttached();
      this.refuse({ errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: 'the server\'s queue is full' });
      return;
    }
    if (admitted) {
      this.launch();
      return;
    }
    this.state = State.Queued;
    const { queueTimeout } = this.host.options;
    if (queueTimeout > 0) {
      this.queueTimer = this.timer(queueTimeout, () => {
        if (this.state !== State.Queued) return;
        this.host.leaveQueue(this);
        this.closeAttached();
        this.refuse({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: `no place to run within queueTimeout (${queueTimeout} ms)` });
      });
    }
  }

  /** Starts the program; the host has given this session a place. */
  launch(): void {
    this.clearTimer(this.queueTimer);
    const { binding } = this.host;
    const request = this.request as ExecRequest;
    const decision = this.decision as Extract<Decision, { allow: true }>;
    let spawned;
    try {
      spawned = binding.spawn(nativeSpawnOptions(request, decision, this.attached, this.host.devNull, SIGKILL));
    } catch (error) {
      this.closeAttached();
      this.host.release(this);
      if (!isNativeError(error)) throw error;
      this.refuse({ errno: error.errno, code: error.code, syscall: error.syscall, message: spawnFailureMessage(error.syscall, error.code, request) });
      return;
    }
    // The program holds its own copies now; ours would keep pipes open.
    this.closeAttached();
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    this.startedAt = Date.now();
    this.state = State.Running;
    try {
      this.exitPoller = new binding.Poller(this.pidfd, () => this.onProgramExit());
      this.exitPoller.start(READABLE);
    } catch (error) {
      // Nobody could ever wait for it: end it now rather than leave it unwatched.
      this.exitPoller?.close();
      this.exitPoller = undefined;
      this.signalProgram(SIGKILL, true);
      this.reapBlocking();
      this.host.release(this);
      this.refuse({ errno: isNativeError(error) ? error.errno : EIO, code: isNativeError(error) ? error.code : 'EIO', syscall: 'uv_poll_start', message: String(error) });
      return;
    }
    this.host.count('spawned');
    debug('spawn pid %d %o', this.pid, request.argv);
    this.host.notify('spawn', { ...(this.info as ServerRequestInfo), pid: this.pid });
    const { maxRuntime, killSignal } = this.host.options;
    if (maxRuntime > 0) this.timer(maxRuntime, () => this.killFor(ExitReason.MaxRuntime, killSignal));
    if (this.clientGone) {
      this.onClientGone();
      return;
    }
    this.socket.send(encodeStarted(this.pid));
  }

  /**
   * Signals the program's group. The leader is not reaped while we are
   * Running, so its pid still names this group and cannot have been reused.
   * `alsoLeader`: also through the pidfd, for a program that left its group.
   */
  private signalProgram(signal: number, alsoLeader: boolean): void {
    const { binding } = this.host;
    let reachedGroup = true;
    try {
      binding.kill(-this.pid, signal);
    } catch {
      reachedGroup = false;
    }
    if (alsoLeader || !reachedGroup) {
      try {
        binding.pidfdSignal(this.pidfd, signal);
      } catch {
        // Exited already; its exit is on the way.
      }
    }
  }

  private onProgramExit(): void {
    const result = this.host.binding.waitPidfd(this.pidfd);
    if (result === null) return; // spurious wake-up
    this.exitPoller?.close();
    this.exitPoller = undefined;
    this.host.binding.close(this.pidfd);
    this.pidfd = -1;
    this.state = State.Done;
    const reason = this.serverReason ?? (result.signal !== null && this.clientSignalled ? ExitReason.ClientSignal : ExitReason.Exited);
    debug('exit pid %d code %s signal %s reason %s', this.pid, result.exitCode, result.signal, EXIT_REASON_NAMES[reason]);
    this.host.release(this);
    this.host.notify('exit', {
      ...(this.info as ServerRequestInfo), pid: this.pid, exitCode: result.exitCode,
      signal: result.signal === null ? null : signalName(result.signal),
      reason: EXIT_REASON_NAMES[reason] as ExitReasonName, durationMs: Date.now() - this.startedAt,
    });
    if (!this.clientGone) {
      this.socket.send(encodeExit({ exitCode: result.exitCode, signal: result.signal, reason }));
      this.socket.end();
    }
    this.finish();
  }

  /** Waits for a program that was just killed; only on the rare path where it cannot be polled. */
  private reapBlocking(): void {
    while (this.host.binding.waitPidfd(this.pidfd) === null) this.host.binding.waitReadable(this.pidfd, 1000);
    this.host.binding.close(this.pidfd);
    this.pidfd = -1;
  }

  private onClientGone(): void {
    this.clientGone = true;
    switch (this.state) {
      case State.Running: {
        const { disconnectSignal, disconnectGrace } = this.host.options;
        this.serverReason ??= ExitReason.Disconnect;
        this.signalProgram(disconnectSignal, true);
        if (disconnectSignal !== SIGKILL) this.timer(disconnectGrace, () => this.signalProgram(SIGKILL, true));
        return; // finish() once the program is reaped
      }
      case State.Queued:
        this.host.leaveQueue(this);
        break;
      default:
        break;
    }
    // Deciding included: an authorize() still pending finds the state changed
    // and drops its answer.
    this.state = State.Done;
    this.closeAttached();
    this.chunks = [];
    this.finish();
  }

  private protocolError(message: string): void {
    if (this.state === State.Running) {
      // A client that breaks the protocol mid-run is treated as gone.
      this.socket.destroy();
      this.onClientGone();
      return;
    }
    if (this.state === State.Queued) this.host.leaveQueue(this);
    this.closeAttached();
    this.chunks = [];
    this.refuse({ errno: EPROTO, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol', message });
  }

  /** Replies FAILED and hangs up; `counted`: a failure (denials are counted and reported apart). */
  private refuse(reply: FailedReply, counted = true): void {
    if (this.state === State.Done) return;
    this.state = State.Done;
    // Closed before the reply, so that the client's pipes reach their end.
    this.closeAttached();
    if (counted) {
      // Denials have their own event; every other failure before a program
      // ran (spawn errors included) is a client error to the host.
      this.host.count('failed');
      this.host.notifyClientError(Object.assign(new Error(reply.message), { code: reply.code, syscall: reply.syscall }), this.credentials);
    }
    this.socket.send(encodeFailed(reply));
    this.socket.end();
    this.finish();
  }

  private closeAttached(): void {
    for (const fd of this.attached.splice(0)) this.host.binding.close(fd);
  }

  private timer(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private clearTimer(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private finish(): void {
    if (this.state !== State.Done) this.state = State.Done;
    if (this.pidfd !== -1) return;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.host.sessionDone(this);
  }
}

function spawnFailureMessage(syscall: string, code: string, request: ExecRequest): string {
  if (syscall === 'chdir') {
    return `cannot change to the working directory ${JSON.stringify(request.cwd)} on the server: ${code}`;
  }
  return `${syscall} ${request.file}: ${code}`;
}

