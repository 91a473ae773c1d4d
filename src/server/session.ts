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
import type { PeerCredentials, ServerRequestInfo } from '../../types/index';
import type { WaitResult } from '../binding';
import {
  type ClientMessage, type ExecRequest, type FailedReply, ExitReasonCode, MessageType, ProtocolError, decodeClientMessage,
  decodeExecPayload, encodeExit, encodeFailed, encodePong, encodeStarted, encodeStopping, exitReasonName,
} from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { isNativeError } from '../errors';
import { isThenable } from '../validate';
import { signalName } from '../signals';
import { type Environment, parseEnvironment } from './environment';
import { type Decision, decide, stopRefusal } from './policy';
import { Program, WatchError } from './program';
import { RequestAssembly, overLimits } from './request-assembly';
import { nativeSpawnOptions, spawnFailureMessage } from './spawn-options';
import { TimerSet } from './timers';
import type { SessionContext } from './session-context';
import type { Ticket } from './work-queue';

const debug = util.debuglog('sidecar');

const { EPROTO, E2BIG, EMFILE, EAGAIN, ETIMEDOUT, EPERM } = os.constants.errno;
const { SIGKILL } = os.constants.signals;

/** The credentials of a peer that was gone before they could be read (the socket reports its end at once). */
const UNKNOWN_PEER: PeerCredentials = Object.freeze({ pid: 0, uid: -1, gid: -1 });

/** The session's states, in the order a request goes through them. */
const enum State { AwaitRequest, Receiving, Deciding, Queued, Running, Done }

export class Session {
  readonly credentials: PeerCredentials;
  private readonly socket: SeqpacketSocket;
  private state = State.AwaitRequest;
  private assembly: RequestAssembly | undefined;
  private attached: number[] = [];
  private request: ExecRequest | undefined;
  private decision: Extract<Decision, { allow: true }> | undefined;
  private info: ServerRequestInfo | undefined;
  private ticket: Ticket | undefined;
  private program: Program | undefined;
  private clientGone = false;
  private clientSignalled = false;
  /** Set by the first kill the server decides on its own. */
  private serverReason: ExitReasonCode | undefined;
  private readonly timers = new TimerSet();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private doneReported = false;

  constructor(fd: number, private readonly context: SessionContext) {
    this.socket = new SeqpacketSocket(fd, context.binding, {
      onMessage: (data, fds, truncated, fdsLost) => this.onMessage(data, fds, truncated, fdsLost),
      onEnd: () => this.onClientGone(),
      onClose: () => this.maybeDone(),
    });
    this.credentials = this.socket.peerCredentials(UNKNOWN_PEER);
    const { handshakeTimeout } = context.options;
    if (handshakeTimeout > 0) {
      this.handshakeTimer = this.timers.add(handshakeTimeout, () => {
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
    this.closeAttached();
    this.socket.destroy();
    this.finish();
  }

  /** The server decided to end the program: `signal` now, SIGKILL if it lingers. */
  killFor(reason: ExitReasonCode, signal: number): void {
    if (this.state !== State.Running || this.program === undefined) return;
    this.serverReason ??= reason;
    this.program.terminate(signal);
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
    const tooLarge = overLimits(totalBytes, fds.length, this.context.options);
    if (tooLarge !== undefined) {
      for (const fd of fds) this.context.binding.close(fd);
      this.refuse({ errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request', message: tooLarge });
      return;
    }
    this.attached = fds;
    this.assembly = new RequestAssembly(totalBytes);
    this.state = State.Receiving;
    this.append(chunk);
  }

  private onStop(): void {
    const refusal = stopRefusal(this.context.options, this.credentials);
    if (refusal !== undefined) {
      this.context.report({ type: 'denied', info: { credentials: this.credentials, argv: [], reason: 'stop refused' } });
      this.refuse({ errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'stop', message: refusal });
      return;
    }
    this.answerAndEnd(encodeStopping());
    this.context.report({ type: 'stop' });
  }

  /** One reply to an admin request, then the door. */
  private answerAndEnd(reply: Uint8Array): void {
    this.state = State.Done;
    this.socket.send(reply);
    this.socket.end();
    this.finish();
  }

  private append(chunk: Uint8Array): void {
    const payload = (this.assembly as RequestAssembly).add(chunk);
    if (payload === undefined) return;
    this.assembly = undefined;
    const request = decodeExecPayload(payload, this.attached.length);
    this.onRequest(request, parseEnvironment(request.env));
  }

  // ---- deciding, queueing, launching ------------------------------------------

  private onRequest(request: ExecRequest, env: Environment): void {
    this.request = request;
    this.state = State.Deciding;
    this.timers.clear(this.handshakeTimer);
    const decision = decide(this.context.options, request, env, this.credentials);
    if (!isThenable<Decision>(decision)) this.onDecision(decision);
    else decision.then((answer) => this.onDecision(answer), (error: unknown) => this.onDecision({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: String(error) }));
  }

  private onDecision(decision: Decision): void {
    if (this.state !== State.Deciding) return; // the client left meanwhile
    const request = this.request as ExecRequest;
    if (!decision.allow) {
      debug('denied uid %d pid %d %s: %s', this.credentials.uid, this.credentials.pid, request.argv[0], decision.reason);
      this.context.report({ type: 'denied', info: { credentials: this.credentials, argv: request.argv, reason: decision.reason } });
      this.refuse({ errno: EPERM, code: decision.code, syscall: decision.syscall, message: decision.reason }, false);
      return;
    }
    this.decision = decision;
    this.info = { credentials: this.credentials, argv: request.argv, cwd: decision.cwd, droppedEnv: decision.droppedEnv };
    debug('request uid %d pid %d %o', this.credentials.uid, this.credentials.pid, request.argv);
    this.context.report({ type: 'request', info: this.info });
    this.state = State.Queued;
    const ticket = this.context.queue.enter((granted) => this.launch(granted));
    if (ticket === undefined) {
      this.refuse({ errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: 'the server\'s queue is full' });
      return;
    }
    this.ticket = ticket;
    const { queueTimeout } = this.context.options;
    if (ticket.waiting && queueTimeout > 0) {
      this.timers.add(queueTimeout, () => {
        if (this.state !== State.Queued) return;
        ticket.done();
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
      if (!isNativeError(error)) throw error;
      const message = error instanceof WatchError ? error.message : spawnFailureMessage(error.syscall, error.code, request);
      this.refuse({ errno: error.errno, code: error.code, syscall: error.syscall, message });
      return;
    }
    // The program holds its own copies now; ours would keep pipes open.
    this.closeAttached();
    this.program = program;
    this.state = State.Running;
    debug('spawn pid %d %o', program.pid, request.argv);
    this.context.report({ type: 'spawn', info: { ...(this.info as ServerRequestInfo), pid: program.pid } });
    if (options.maxRuntime > 0) this.timers.add(options.maxRuntime, () => this.killFor(ExitReasonCode.MaxRuntime, options.killSignal));
    if (this.clientGone) {
      this.onClientGone();
      return;
    }
    this.socket.send(encodeStarted(program.pid));
  }

  private onProgramExit(result: WaitResult): void {
    const program = this.program as Program;
    this.state = State.Done;
    const reason = this.serverReason ?? (result.signal !== null && this.clientSignalled ? ExitReasonCode.ClientSignal : ExitReasonCode.Exited);
    debug('exit pid %d code %s signal %s reason %s', program.pid, result.exitCode, result.signal, exitReasonName(reason));
    this.ticket?.done();
    this.context.report({
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
      this.serverReason ??= ExitReasonCode.Disconnect;
      this.program.terminate(disconnectSignal, disconnectGrace);
      return; // finish() once the program is reaped
    }
    // Queued: leave the line. Deciding: an authorize() still pending finds the
    // state changed and drops its answer.
    if (this.state === State.Queued) this.ticket?.done();
    this.state = State.Done;
    this.closeAttached();
    this.assembly?.discard();
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
    this.assembly?.discard();
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
      this.context.report({ type: 'failed', error, credentials: this.credentials });
    }
    this.socket.send(encodeFailed(reply));
    this.socket.end();
    this.finish();
  }

  private closeAttached(): void {
    for (const fd of this.attached.splice(0)) this.context.binding.close(fd);
  }

  private finish(): void {
    this.state = State.Done;
    this.maybeDone();
  }

  /**
   * Reports 'done' once the session holds nothing: ended, its program reaped,
   * and its socket closed (a last reply may wait for the client to read).
   */
  private maybeDone(): void {
    if (this.doneReported || this.state !== State.Done || this.program?.running || !this.socket.isDestroyed) return;
    this.doneReported = true;
    this.timers.clearAll();
    this.context.report({ type: 'done' });
  }
}
