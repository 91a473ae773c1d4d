// One client connection on the server: receive the exec request and its fds,
// start the program, forward signals, report its exit. If the client goes away
// first, the program's process group is killed (the original tool's rule).

import * as os from 'node:os';
import type { NativeBinding, NativePoller } from '../binding';
import { READABLE } from '../binding';
import {
  type ClientMessage, type ExecRequest, ExitReason, MAX_FDS, NO_ID, MAX_REQUEST_BYTES, MessageType, ProtocolError,
  decodeClientMessage, decodeExecPayload, encodeExit, encodeFailed, encodeStarted, encodeStopping,
} from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { type NativeError, isNativeError } from '../errors';
import { credentialsAllowed, nativeSpawnOptions } from './launch';

const EPROTO = os.constants.errno.EPROTO;
const E2BIG = os.constants.errno.E2BIG;
const EIO = os.constants.errno.EIO;
const EMFILE = os.constants.errno.EMFILE;
const SIGKILL = os.constants.signals.SIGKILL;

/** What a session needs from its server. */
export interface SessionHost {
  readonly binding: NativeBinding;
  readonly devNull: number;
  readonly allowStop: boolean;
  /** A client asked the server to stop. */
  requestStop(): void;
  /** The session has released everything: no fd, no program left. */
  sessionDone(session: Session): void;
}

const enum State {
  AwaitRequest,
  Receiving,
  Running,
  Done,
}

export class Session {
  private readonly socket: SeqpacketSocket;
  private state = State.AwaitRequest;
  /** Chunks of the request received so far: memory grows with what arrives, not with what is announced. */
  private chunks: Buffer[] = [];
  private announced = 0;
  private received = 0;
  private attached: number[] = [];
  private pid = 0;
  private pidfd = -1;
  private exitPoller: NativePoller | undefined;
  private clientGone = false;

  constructor(fd: number, private readonly host: SessionHost) {
    this.socket = new SeqpacketSocket(fd, host.binding, {
      onMessage: (data, fds, truncated, fdsLost) => this.onMessage(data, fds, truncated, fdsLost),
      onEnd: () => this.onClientGone(),
    });
  }

  /** Whether a program is running for this session. */
  get running(): boolean {
    return this.state === State.Running;
  }

  /** Drops a session that has not started a program yet (server closing). */
  dropIfIdle(): void {
    if (this.state === State.AwaitRequest || this.state === State.Receiving) {
      this.closeAttached();
      this.socket.destroy();
      this.finish();
    }
  }

  private onMessage(data: Uint8Array, fds: number[], truncated: boolean, fdsLost: boolean): void {
    if (fdsLost && this.state === State.AwaitRequest) {
      // Not the client's fault: this server has no fd left to receive them in.
      this.fail({ errno: EMFILE, code: 'EMFILE', syscall: 'recvmsg', message: 'the server is out of file descriptors' });
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
    switch (message.type) {
      case MessageType.Exec:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('a second exec request');
        if (message.totalBytes > MAX_REQUEST_BYTES) {
          for (const fd of fds) this.host.binding.close(fd);
          this.fail({
            errno: E2BIG, code: 'ERR_SIDECAR_REQUEST_TOO_LARGE', syscall: 'request',
            message: `request of ${message.totalBytes} bytes exceeds the limit of ${MAX_REQUEST_BYTES}`,
          });
          return;
        }
        if (fds.length > MAX_FDS) throw new ProtocolError(`${fds.length} fds attached, more than ${MAX_FDS}`);
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
        if (this.state === State.Running) this.signalGroup(message.signal);
        else if (this.state !== State.Done) throw new ProtocolError('signal before the program started');
        return;
      case MessageType.Stop:
        if (this.state !== State.AwaitRequest) throw new ProtocolError('stop during a request');
        if (!this.host.allowStop) {
          this.fail({ errno: os.constants.errno.EPERM, code: 'EPERM', syscall: 'stop', message: 'this server does not accept stop requests' });
          return;
        }
        this.socket.send(encodeStopping());
        this.socket.end();
        this.finish();
        this.host.requestStop();
        return;
    }
  }

  private append(chunk: Uint8Array): void {
    if (this.received + chunk.length > this.announced) throw new ProtocolError('request longer than announced');
    // Copied: the record's buffer is reused for the next record.
    this.chunks.push(Buffer.from(chunk));
    this.received += chunk.length;
    if (this.received === this.announced) {
      const payload = Buffer.concat(this.chunks, this.announced);
      this.chunks = [];
      this.start(decodeExecPayload(payload, this.attached.length));
    }
  }

  private start(request: ExecRequest): void {
    const { binding } = this.host;
    if (!credentialsAllowed(request)) {
      this.closeAttached();
      this.fail({
        errno: os.constants.errno.EPERM, code: 'EPERM', syscall: request.uid !== NO_ID ? 'setuid' : 'setgid',
        message: 'this server does not switch user or group',
      });
      return;
    }
    let spawned;
    try {
      spawned = binding.spawn(nativeSpawnOptions(request, this.attached, this.host.devNull, process.env, SIGKILL));
    } catch (error) {
      this.closeAttached();
      if (!isNativeError(error)) throw error;
      this.fail({ errno: error.errno, code: error.code, syscall: error.syscall, message: spawnFailureMessage(error, request) });
      return;
    }
    // The program holds its own copies now; ours would keep pipes open.
    this.closeAttached();
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    this.state = State.Running;
    try {
      this.exitPoller = new binding.Poller(this.pidfd, () => this.onProgramExit());
      this.exitPoller.start(READABLE);
    } catch (error) {
      // Nobody could ever wait for it: end it now rather than leave it unwatched.
      this.exitPoller?.close();
      binding.pidfdSignal(this.pidfd, SIGKILL);
      binding.kill(-this.pid, SIGKILL);
      this.reapBlocking();
      this.fail({ errno: isNativeError(error) ? error.errno : EIO, code: isNativeError(error) ? error.code : 'EIO', syscall: 'uv_poll_start', message: String(error) });
      return;
    }
    this.socket.send(encodeStarted(this.pid));
  }

  private signalGroup(signal: number): void {
    try {
      // The group leader is not reaped while we are Running, so its pid still
      // names this group and cannot have been reused.
      this.host.binding.kill(-this.pid, signal);
    } catch {
      // The program left its group (setpgid/setsid of its own): reach it alone.
      try {
        this.host.binding.pidfdSignal(this.pidfd, signal);
      } catch {
        // Already exited; its exit is on the way.
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
    if (!this.clientGone) {
      this.socket.send(encodeExit({ exitCode: result.exitCode, signal: result.signal, reason: ExitReason.Exited }));
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
    if (this.state === State.Running) {
      this.signalGroup(SIGKILL);
      // Also the program itself, in case it moved to a group of its own.
      try {
        this.host.binding.pidfdSignal(this.pidfd, SIGKILL);
      } catch {
        // Exited already; its exit is being reported.
      }
      return; // finish() once the program is reaped
    }
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
    this.closeAttached();
    this.chunks = [];
    this.fail({ errno: EPROTO, code: 'ERR_SIDECAR_PROTOCOL', syscall: 'protocol', message });
  }

  private fail(reply: { errno: number; code: string; syscall: string; message: string }): void {
    this.state = State.Done;
    this.socket.send(encodeFailed(reply));
    this.socket.end();
    this.finish();
  }

  private closeAttached(): void {
    for (const fd of this.attached.splice(0)) this.host.binding.close(fd);
  }

  private finish(): void {
    if (this.state !== State.Done) this.state = State.Done;
    if (this.pidfd === -1) this.host.sessionDone(this);
  }
}

function spawnFailureMessage(error: NativeError, request: ExecRequest): string {
  if (error.syscall === 'chdir') {
    return `cannot change to the working directory ${JSON.stringify(request.cwd)} on the server: ${error.code}`;
  }
  return `${error.syscall} ${request.file}: ${error.code}`;
}
