// One client connection on the server, as a protocol state machine: receive
// the exec request and its fds, hand the whole request to a Run (./run.ts:
// policy, queue, program), tell the client what the run says (STARTED,
// FAILED, EXIT), forward its signals, and answer PING and STOP. If the client
// goes away first, its run's program gets the disconnect signal (SIGKILL by
// default: a program whose caller is gone has nobody to report to, and its
// stdio belongs to that caller).
//
// A session depends on what its context hands it (binding, options, queue)
// and speaks back through one outlet, report(): it never calls into the
// server.

import * as os from 'node:os';
import type { PeerCredentials } from '../../types/index';
import type { WaitResult } from '../binding';
import {
  type ClientMessage, type ExecRequest, type FailedReply, ExitReasonCode, MessageType, ProtocolError,
  decodeClientMessage, decodeExecPayload, encodeExit, encodeFailed, encodePong, encodeStarted, encodeStopping,
} from '../protocol';
import { SeqpacketSocket, closeReceived } from '../transport/seqpacket';
import { stopRefusal } from './policy';
import type { ByteClaim } from './byte-budget';
import { OverBudget, RequestAssembly, overLimits } from './request-assembly';
import { Run } from './run';
import type { SessionContext } from './session-context';
import { TimerSet } from './timers';

const { EPROTO, E2BIG, EMFILE, ETIMEDOUT, EPERM, EAGAIN } = os.constants.errno;

/** The session's states, in the order a request goes through them; Running: a run exists, in any of its phases. */
const enum State { AwaitRequest, Receiving, Running, Done }

export class Session {
  private readonly socket: SeqpacketSocket;
  private state = State.AwaitRequest;
  private assembly: RequestAssembly | undefined;
  /** The request's bytes in the server's budget: from the first byte until its program starts or the session ends. */
  private claim: ByteClaim | undefined;
  /** The request's fds until its run takes them. */
  private attached: number[] = [];
  private run: Run | undefined;
  private clientGone = false;
  private readonly timers = new TimerSet();
  private doneReported = false;

  /** `credentials`: the peer's, read by the server when it admitted the connection. */
  constructor(fd: number, private readonly context: SessionContext, readonly credentials: PeerCredentials) {
    this.socket = new SeqpacketSocket(fd, context.binding, {
      onMessage: (data, fds, truncated, fdsLost) => this.onMessage(data, fds, truncated, fdsLost),
      onEnd: () => this.onClientGone(),
      onClose: () => this.maybeDone(),
    });
    const { handshakeTimeout } = context.options;
    if (handshakeTimeout > 0) {
      this.timers.add(handshakeTimeout, () => {
        if (this.state === State.AwaitRequest || this.state === State.Receiving) {
          this.refuse({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'handshake', message: `no complete request within ${handshakeTimeout} ms` });
        }
      });
    }
  }

  /** Drops a session that has not started a program yet (server closing). */
  dropIfIdle(): void {
    if (this.state === State.Done || this.run?.programRunning) return;
    this.run?.drop();
    this.closeAttached();
    this.socket.destroy();
    this.finish();
  }

  /** The server is closing: a detached program whose client has gone has nobody to wait for, so it ends now. */
  endDetached(signal: number): void {
    if (this.clientGone && this.run?.detached === true) this.run.killFor(ExitReasonCode.Close, signal);
  }

  /** The server decided to end the program: `signal` now, SIGKILL if it lingers. */
  killFor(reason: ExitReasonCode, signal: number): void {
    this.run?.killFor(reason, signal);
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
      closeReceived(this.context.binding, fds.filter((fd) => !this.attached.includes(fd)));
      if (error instanceof OverBudget) {
        this.assembly?.discard();
        const { limit } = this.context.budget;
        this.refuse({ errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'request', message: `the server holds as many bytes of requests as it may (${limit})` });
        return;
      }
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
        if (this.state === State.AwaitRequest || this.state === State.Receiving) throw new ProtocolError('signal before the program started');
        this.run?.signal(message.signal);
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
      closeReceived(this.context.binding, fds);
      this.refuse({ errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request', message: tooLarge });
      return;
    }
    this.attached = fds;
    this.claim = this.context.budget.claim();
    this.assembly = new RequestAssembly(totalBytes, this.claim);
    this.state = State.Receiving;
    this.append(chunk);
  }

  private append(chunk: Uint8Array): void {
    const payload = (this.assembly as RequestAssembly).add(chunk);
    if (payload === undefined) return;
    this.assembly = undefined;
    this.onRequest(decodeExecPayload(payload, this.attached.length));
  }

  /** The whole request is here: a run takes it (and its fds) from now on. */
  private onRequest(request: ExecRequest): void {
    this.state = State.Running;
    this.timers.clearAll(); // the handshake is over
    const attached = this.attached;
    this.attached = [];
    this.run = new Run(this.context, this.credentials, request, attached, {
      started: (pid, terminal) => {
        // The run has let go of the request: its bytes are free for others.
        this.claim?.release();
        // The terminal's master is the client's: it goes with STARTED (the
        // socket closes this process's copy once sent) and is never read here.
        const fds = terminal === undefined ? [] : [terminal];
        if (!this.clientGone) this.socket.send(encodeStarted(pid), fds);
        else for (const fd of fds) this.context.binding.close(fd);
      },
      refused: (reply, counted) => this.refuse(reply, counted),
      exited: (result, reason) => this.onExit(result, reason),
      clientStillThere: () => !this.clientGone && !this.socket.peerHungUp(),
    });
    this.run.start();
  }

  private onExit(result: WaitResult, reason: ExitReasonCode): void {
    if (!this.clientGone) {
      this.socket.send(encodeExit({ exitCode: result.exitCode, signal: result.signal, reason }));
      this.socket.end();
    }
    this.finish();
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

  // ---- endings ---------------------------------------------------------------

  private onClientGone(): void {
    this.clientGone = true;
    this.run?.clientLeft();
    if (this.run?.programRunning) return; // finish() once the program is reaped
    this.closeAttached();
    this.assembly?.discard();
    this.finish();
  }

  private protocolError(message: string): void {
    if (this.run?.programRunning) {
      // A client that breaks the protocol mid-run is treated as gone.
      this.socket.destroy();
      this.onClientGone();
      return;
    }
    this.run?.drop();
    this.closeAttached();
    this.assembly?.discard();
    this.refuse({ errno: EPROTO, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol', message });
  }

  /** Replies FAILED and hangs up; `counted`: a failure (denials are reported apart). */
  private refuse(reply: FailedReply, counted = true): void {
    if (this.state === State.Done) return;
    this.state = State.Done;
    // Handed to the closer before the reply, so that the client's pipes
    // reach their end (a moment after it, as the closer's thread runs).
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
    closeReceived(this.context.binding, this.attached.splice(0));
  }

  private finish(): void {
    this.state = State.Done;
    this.claim?.release();
    this.maybeDone();
  }

  /**
   * Reports 'done' once the session holds nothing: ended, its program reaped,
   * and its socket closed (a last reply may wait for the client to read).
   */
  private maybeDone(): void {
    if (this.doneReported || this.state !== State.Done || this.run?.programRunning || !this.socket.isDestroyed) return;
    this.doneReported = true;
    this.timers.clearAll();
    this.context.report({ type: 'done' });
  }
}
