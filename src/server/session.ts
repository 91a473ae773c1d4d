// One client connection on the server, as a protocol state machine: receive
// the exec request and its fds, ask the policy, wait for a place in the work
// queue, start the program, forward signals, report its exit and why it
// ended. If the client goes away first, the program's process group gets the
// disconnect signal (SIGKILL by default: a program whose caller is gone has
// nobody to report to, and its stdio belongs to that caller).
//
// A session depends on what its context hands it (binding, options, queue)
// and speaks back through one outlet, report(): it never calls into the
// server.

import * as os from 'node:os';
import * as util from 'node:util';
import type { PeerCredentials, ServerRequestInfo, SidecarServerEvents } from '../../types/index';
import type { NativeBinding, WaitResult } from '../binding';
import {
  type ClientMessage, type ExecRequest, type FailedReply, ExitReason, MessageType, ProtocolError, decodeClientMessage,
  decodeExecPayload, encodeExit, encodeFailed, encodePong, encodeStarted, encodeStopping, exitReasonName,
} from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { isNativeError } from '../errors';
import { signalName } from '../signals';
import { type Environment, parseEnvironment } from './environment';
import type { NormalizedServerOptions } from './options';
import { type Decision, decide } from './policy';
import { Program, WatchError } from './program';
import { nativeSpawnOptions } from './spawn-options';
import type { Ticket, WorkQueue } from './work-queue';

const debug = util.debuglog('sidecar');

const { EPROTO, E2BIG, EMFILE, EAGAIN, ETIMEDOUT, EPERM } = os.constants.errno;
const { SIGKILL } = os.constants.signals;

type EventInfo<E extends keyof SidecarServerEvents> = Parameters<SidecarServerEvents[E]>[0];

/** What a session tells its server: each becomes an event, a counter, or both. */
export type SessionReport =
  | { type: 'request'; info: EventInfo<'request'> }
  | { type: 'spawn'; info: EventInfo<'spawn'> }
  | { type: 'exit'; info: EventInfo<'exit'> }
  | { type: 'denied'; info: EventInfo<'denied'> }
  /** A failure before a program ran (protocol, limits, spawn errors): 'clientError'. */
  | { type: 'failed'; error: Error; credentials: PeerCredentials }
  /** An allowed client asked the server to stop. */
  | { type: 'stop' }
  /** The session has released everything: no fd, no program left. */
  | { type: 'done' };

/** What a session is given by its server. */
export interface SessionContext {
  readonly binding: NativeBinding;
  readonly options: NormalizedServerOptions;
  readonly queue: WorkQueue;
  /** The server's /dev/null, for the 'ignore' stdio entries. */
  readonly devNull: number;
  report(session: Session, report: SessionReport): void;
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
  private ticket: Ticket | undefined;
  private program: Program | undefined;
  private clientGone = false;
  private clientSignalled = false;
  /** Set by the first kill the server decides on its own. */
  private serverReason: ExitReason | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(fd: number, private readonly context: SessionContext) {
    this.socket = new SeqpacketSocket(fd, context.binding, {
      onMessage: (data, fds, truncated, fdsLost) => this.onMessage(data, fds, truncated, fdsLost),
      onEnd: () => this.onClientGone(),
    });
    let credentials: PeerCredentials = { pid: 0, uid: -1, gid: -1 };
    try {
      credentials = this.socket.peerCredentials();
    } catch {
      // A peer that is already gone: the socket reports it right away.
    }
    this.credentials = credentials;
    const { handshakeTimeout } = context.options;
    if (handshakeTimeout > 0) {
      this.handshakeTimer = this.timer(handshakeTimeout, () => {
        if (this.state === State.AwaitRequest || this.state === State.Receiving) {
          this.refuse({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'handshake', message: `no complete request within ${handshakeTimeout} ms` });
        }
      });
    }
  }

  /** Drops a session that has not started a program yet (server closing). */
  dropIfIdle(): void {
    if (this.state === State.Running || this.state === State.Done) return;
    this.ticket?.done();
    this.state = State.Done;
    this.closeAttached();
    this.socket.destroy();
    this.finish();
  }

  /** The server decided to end the program: `signal` now, SIGKILL if it lingers. */
  killFor(reason: ExitReason, signal: number): void {
    if (this.state !== State.Running || this.program === undefined) return;
    this.serverReason ??= reason;
    this.program.terminate(signal);
  }

  private report(report: SessionReport): void {
    this.context.report(this, report);
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
      for (const fd of fds) if (!this.attached.includes(fd)) this.context.binding.close(fd);
      if (!(error instanceof ProtocolError)) throw error;
      this.protocolError(error.message);
    }
  }

  private dispatch(message: ClientMessage, fds: number[]): void {
    switch (message.type) {
      case MessageType.Exec:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('a second exec request');
        this.onExec(message.totalBytes, message.chunk, fds);
        return;
      case MessageType.ExecMore:
        if (this.state !== State.Receiving) throw new ProtocolError('request continuation without a request');
        this.append(message.chunk);
        return;
      case MessageType.Signal:
        if (this.state === State.Running) {
          this.clientSignalled = true;
          this.program?.signal(message.signal, false);
        } else if (this.state === State.AwaitRequest || this.state === State.Receiving) {
          throw new ProtocolError('signal before the program started');
        }
        // Deciding or Queued: the program does not exist yet; as with a local
        // child killed before it ran, the signal is simply moot.
        return;
      case MessageType.Stop:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('stop during a request');
        this.onStop();
        return;
      case MessageType.Ping:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('ping during a request');
        this.answerAndEnd(encodePong());
        return;
    }
  }

  private onExec(totalBytes: number, chunk: Uint8Array, fds: number[]): void {
    const { maxRequestBytes, maxFds } = this.context.options;
    let tooLarge: string | undefined;
    if (totalBytes > maxRequestBytes) tooLarge = `request of ${totalBytes} bytes exceeds this server's limit of ${maxRequestBytes}`;
    else if (fds.length > maxFds) tooLarge = `${fds.length} fds passed, more than this server's limit of ${maxFds}`;
    if (tooLarge !== undefined) {
      for (const fd of fds) this.context.binding.close(fd);
      this.refuse({ errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request', message: tooLarge });
      return;
    }
    this.attached = fds;
    this.announced = totalBytes;
    this.state = State.Receiving;
    this.append(chunk);
  }

  private onStop(): void {
    const { allowStop } = this.context.options;
    const mayStop = this.credentials.uid === 0 || this.credentials.uid === process.geteuid?.();
    if (!allowStop || !mayStop) {
      this.report({ type: 'denied', info: { credentials: this.credentials, argv: [], reason: 'stop refused' } });
      this.refuse({
        errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'stop',
        message: allowStop ? 'only the server\'s own user or root may stop it' : 'this server does not accept stop requests',
      });
      return;
    }
    this.answerAndEnd(encodeStopping());
    this.report({ type: 'stop' });
  }

  /** One reply to an admin request, then the door. */
  private answerAndEnd(reply: Uint8Array): void {
    this.state = State.Done;
    this.socket.send(reply);
    this.socket.end();
    this.finish();
  }

  private append(chunk: Uint8Array): void {
    if (this.received + chunk.length > this.announced) throw new ProtocolError('request longer than announced');
    // Copied: the record's buffer is reused for the next record.
    this.chunks.push(Buffer.from(chunk));
    this.received += chunk.length;
    if (this.received === this.announced) {
      const payload = Buffer.concat(this.chunks, this.announced);
      this.chunks = [];
      const request = decodeExecPayload(payload, this.attached.length);
      this.onRequest(request, parseEnvironment(request.env));
    }
  }

  // ---- deciding, queueing, launching ------------------------------------------

  private onRequest(request: ExecRequest, env: Environment): void {
    this.request = request;
    this.state = State.Deciding;
    this.clearTimer(this.handshakeTimer);
    const decision = decide(this.context.options, request, env, this.credentials);
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
      this.report({ type: 'denied', info: { credentials: this.credentials, argv: request.argv, reason: decision.reason } });
      this.refuse({ errno: EPERM, code: decision.code, syscall: decision.syscall, message: decision.reason }, false);
      return;
    }
    this.decision = decision;
    this.info = { credentials: this.credentials, argv: request.argv, cwd: decision.cwd, droppedEnv: decision.droppedEnv };
    debug('request uid %d pid %d %o', this.credentials.uid, this.credentials.pid, request.argv);
    this.report({ type: 'request', info: this.info });
    this.state = State.Queued;
    const ticket = this.context.queue.enter((granted) => this.launch(granted));
    if (ticket === undefined) {
      this.closeAttached();
      this.refuse({ errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: 'the server\'s queue is full' });
      return;
    }
    this.ticket = ticket;
    const { queueTimeout } = this.context.options;
    if (ticket.waiting && queueTimeout > 0) {
      this.timer(queueTimeout, () => {
        if (this.state !== State.Queued) return;
        ticket.done();
        this.closeAttached();
        this.refuse({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: `no place to run within queueTimeout (${queueTimeout} ms)` });
      });
    }
  }

  /** Starts the program; the queue has given this session a place. */
  private launch(ticket: Ticket): void {
    this.ticket = ticket;
    const { binding, devNull, options } = this.context;
    const request = this.request as ExecRequest;
    const decision = this.decision as Extract<Decision, { allow: true }>;
    let program: Program;
    try {
      program = Program.start(binding, nativeSpawnOptions(request, decision, this.attached, devNull, SIGKILL),
        (result) => this.onProgramExit(result));
    } catch (error) {
      this.closeAttached();
      ticket.done();
      if (error instanceof WatchError) {
        this.refuse({ errno: error.errno, code: error.code, syscall: 'uv_poll_start', message: error.message });
        return;
      }
      if (!isNativeError(error)) throw error;
      this.refuse({ errno: error.errno, code: error.code, syscall: error.syscall, message: spawnFailureMessage(error.syscall, error.code, request) });
      return;
    }
    // The program holds its own copies now; ours would keep pipes open.
    this.closeAttached();
    this.program = program;
    this.state = State.Running;
    debug('spawn pid %d %o', program.pid, request.argv);
    this.report({ type: 'spawn', info: { ...(this.info as ServerRequestInfo), pid: program.pid } });
    if (options.maxRuntime > 0) this.timer(options.maxRuntime, () => this.killFor(ExitReason.MaxRuntime, options.killSignal));
    if (this.clientGone) {
      this.onClientGone();
      return;
    }
    this.socket.send(encodeStarted(program.pid));
  }

  private onProgramExit(result: WaitResult): void {
    const program = this.program as Program;
    this.state = State.Done;
    const reason = this.serverReason ?? (result.signal !== null && this.clientSignalled ? ExitReason.ClientSignal : ExitReason.Exited);
    debug('exit pid %d code %s signal %s reason %s', program.pid, result.exitCode, result.signal, exitReasonName(reason));
    this.ticket?.done();
    this.report({
      type: 'exit',
      info: {
        ...(this.info as ServerRequestInfo), pid: program.pid, exitCode: result.exitCode,
        signal: result.signal === null ? null : signalName(result.signal),
        reason: exitReasonName(reason), durationMs: Date.now() - program.startedAt,
      },
    });
    if (!this.clientGone) {
      this.socket.send(encodeExit({ exitCode: result.exitCode, signal: result.signal, reason }));
      this.socket.end();
    }
    this.finish();
  }

  private onClientGone(): void {
    this.clientGone = true;
    if (this.state === State.Running && this.program !== undefined) {
      const { disconnectSignal, disconnectGrace } = this.context.options;
      this.serverReason ??= ExitReason.Disconnect;
      this.program.terminate(disconnectSignal, disconnectGrace);
      return; // finish() once the program is reaped
    }
    // Queued: leave the line. Deciding: an authorize() still pending finds the
    // state changed and drops its answer.
    if (this.state === State.Queued) this.ticket?.done();
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
    if (this.state === State.Queued) this.ticket?.done();
    this.closeAttached();
    this.chunks = [];
    this.refuse({ errno: EPROTO, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol', message });
  }

  /** Replies FAILED and hangs up; `counted`: a failure (denials are reported apart). */
  private refuse(reply: FailedReply, counted = true): void {
    if (this.state === State.Done) return;
    this.state = State.Done;
    // Closed before the reply, so that the client's pipes reach their end.
    this.closeAttached();
    if (counted) {
      // Every failure before a program ran (spawn errors included) is a
      // client error to the host.
      const error = Object.assign(new Error(reply.message), { code: reply.code, syscall: reply.syscall });
      this.report({ type: 'failed', error, credentials: this.credentials });
    }
    this.socket.send(encodeFailed(reply));
    this.socket.end();
    this.finish();
  }

  private closeAttached(): void {
    for (const fd of this.attached.splice(0)) this.context.binding.close(fd);
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
    this.state = State.Done;
    if (this.program?.running) return;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.report({ type: 'done' });
  }
}

function spawnFailureMessage(syscall: string, code: string, request: ExecRequest): string {
  if (syscall === 'chdir') {
    return `cannot change to the working directory ${JSON.stringify(request.cwd)} on the server: ${code}`;
  }
  return `${syscall} ${request.file}: ${code}`;
}
