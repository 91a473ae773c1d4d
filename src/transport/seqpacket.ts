// One connected SOCK_SEQPACKET socket on the event loop: records in, records
// out (with fds), end of stream. Shared by the client and the server.
//
// Ownership: the socket owns its fd; nobody else calls the binding on it
// (peer credentials and blocking readiness waits go through here). fds handed
// to send() belong to this object from then on and are closed once their
// record is sent or the socket is destroyed, so no caller has to track
// in-flight descriptors. fds received are handed to onMessage, whose callee
// owns them, unless the socket was made with `receivesFds: false`, when it
// closes them itself.
//
// A socket that receives fds is a server's end, whose peer is a client and
// untrusted: what that peer sent is closed off the event loop
// (binding.closeOffLoop), the fds it attached and this socket itself, whose
// unread records may still hold fds that the kernel releases with it. The
// peer chooses those fds, and the last close of some (a TCP socket lingering
// on unsent data) waits as long as the peer likes. The socket itself goes
// through binding.closeConnection, which closes it at once when, shut down,
// it holds no unread record (the usual end of a request: then nothing of
// the peer's is released with it, and no closer thread wakes up). A socket that receives
// none is a client's, whose peer is the server it chose to trust: it closes
// at once, and a client's process gets no closer thread. A client that asked
// for a terminal receives its master (`receivesFds: 'trusted'`): fds are
// handed on, and everything is closed at once as for a client. fds sent are
// this process's own and are closed at once.

import { type NativeBinding, type NativePoller, type PeerCredentials, READABLE, WRITABLE } from '../binding';
import { MAX_RECORD_BYTES } from '../protocol';
import { type NativeError, errnoName, isNativeError } from '../errors';

export interface SeqpacketHandlers {
  /**
   * One record. `data` is valid only during the call: copy what you keep.
   * `truncated`: the record was longer than MAX_RECORD_BYTES. `fdsLost`: the
   * kernel dropped attached fds (MSG_CTRUNC), which with a buffer sized for
   * the kernel's maximum means this process is out of fds (EMFILE); the
   * record's fds are then already closed.
   */
  onMessage(data: Uint8Array, fds: number[], truncated: boolean, fdsLost: boolean): void;
  /** The peer hung up (error undefined) or the socket failed. Called once, after which the socket is destroyed. */
  onEnd(error?: NativeError): void;
  /** The socket is closed, by whatever path (destroy, end once flushed, hang-up, failure). Called once. */
  onClose?(): void;
}

interface PendingRecord {
  data: Uint8Array;
  fds: number[];
}

// Records are handled synchronously as they arrive, so one receive buffer
// serves every socket of this process (a buffer each would cost 64 KiB per
// connection).
let sharedReceiveBuffer: Uint8Array | undefined;

/**
 * Closes fds a peer sent, off the event loop: whoever owns them (this
 * socket, or the callee of onMessage) closes them through here and nowhere
 * else.
 */
export function closeReceived(binding: NativeBinding, fds: readonly number[]): void {
  for (const fd of fds) binding.closeOffLoop(fd);
}

export class SeqpacketSocket {
  private readonly poller: NativePoller;
  private readonly queue: PendingRecord[] = [];
  private destroyed = false;
  private ending = false;
  private events = READABLE;
  private resetSeen = false;
  private failing = false;

  /**
   * Takes ownership of a connected socket fd. `receivesFds: false`: this
   * side never expects descriptors, so any that arrive are closed here and
   * onMessage gets none. 'trusted': fds are handed on, from a peer this
   * side trusts, and closed at once where they are closed here.
   */
  constructor(
    private readonly fd: number,
    private readonly binding: NativeBinding,
    private readonly handlers: SeqpacketHandlers,
    private readonly receivesFds: boolean | 'trusted' = true,
  ) {
    this.poller = new binding.Poller(fd, (status, events) => this.onPoll(status, events));
    this.poller.start(this.events);
  }

  /**
   * Connects to the listening socket at `path`. Throws the native error
   * (EAGAIN: backlog full, ECONNREFUSED, ENOENT...); nothing is left open then.
   */
  static connect(path: string, binding: NativeBinding, handlers: SeqpacketHandlers, receivesFds: boolean | 'trusted' = true): SeqpacketSocket {
    return new SeqpacketSocket(binding.connect(path), binding, handlers, receivesFds);
  }

  /**
   * The peer's credentials as the kernel recorded them at connect time
   * (SO_PEERCRED). With `fallback`, that is returned instead of throwing when
   * they cannot be read (a peer already gone).
   */
  peerCredentials(fallback?: PeerCredentials): PeerCredentials {
    try {
      return this.binding.peerCredentials(this.fd);
    } catch (error) {
      if (fallback === undefined) throw error;
      return { ...fallback };
    }
  }

  /**
   * True when the peer has hung up (or shut down its writing side, or the
   * connection failed), even while records it sent before are unread.
   */
  peerHungUp(): boolean {
    if (this.destroyed) return true;
    return this.binding.peerHungUp(this.fd);
  }

  /**
   * Blocks this thread up to `ms` until a record (or the end) can be read.
   * For the rare places that must wait synchronously (a spawn that returns
   * with its pid set); everything else waits on the event loop.
   */
  waitReadableBlocking(ms: number): boolean {
    if (this.destroyed) return false;
    return this.binding.waitReadable(this.fd, ms);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** True when every record sent so far has reached the kernel. */
  get isFlushed(): boolean {
    return this.queue.length === 0;
  }

  /**
   * Reads and dispatches at most one record now, outside the poll callback.
   * Whatever follows stays for the event loop, so its order is kept.
   */
  receiveOne(): void {
    this.readRecords(1);
  }

  /** Queues one record; fds are owned by the socket from now on. */
  send(data: Uint8Array, fds: number[] = []): void {
    if (this.destroyed || this.ending) {
      this.closeAll(fds);
      return;
    }
    this.queue.push({ data, fds });
    if (this.queue.length === 1) this.flush();
  }

  /** Closes the socket once every queued record is sent. */
  end(): void {
    if (this.destroyed) return;
    this.ending = true;
    if (this.queue.length === 0) this.destroy();
  }

  /** Closes now; queued records and their fds are dropped. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.poller.close();
    for (const record of this.queue.splice(0)) this.closeAll(record.fds);
    if (this.receivesFds === true) this.binding.closeConnection(this.fd);
    else this.binding.close(this.fd);
    this.handlers.onClose?.();
  }

  ref(): void {
    this.poller.ref();
  }

  unref(): void {
    this.poller.unref();
  }

  /** Closes fds of our own (those of records we send), or the few a trusted peer sent. */
  private closeAll(fds: number[]): void {
    for (const fd of fds) this.binding.close(fd);
  }

  private setEvents(events: number): void {
    if (events !== this.events && !this.destroyed) {
      this.events = events;
      this.poller.start(events);
    }
  }

  private flush(): void {
    while (this.queue.length > 0 && !this.destroyed) {
      const record = this.queue[0];
      let sent: number;
      try {
        sent = this.binding.send(this.fd, record.data, 0, record.data.length, record.fds);
      } catch (error) {
        this.fail(error);
        return;
      }
      if (sent < 0) {
        this.setEvents(READABLE | WRITABLE);
        return;
      }
      this.queue.shift();
      this.closeAll(record.fds);
    }
    this.setEvents(READABLE);
    if (this.ending) this.destroy();
  }

  private onPoll(status: number, events: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      // libuv reports a socket error (POLLERR) this way and stops polling.
      this.fail(Object.assign(new Error(`poll failed: ${status}`), { errno: -status, code: errnoName(-status), syscall: 'poll' }));
      return;
    }
    if ((events & WRITABLE) !== 0) this.flush();
    if ((events & READABLE) !== 0) this.readRecords(Infinity);
  }

  private readRecords(limit: number): void {
    sharedReceiveBuffer ??= new Uint8Array(MAX_RECORD_BYTES);
    const buffer = sharedReceiveBuffer;
    for (let count = 0; count < limit && !this.destroyed; count++) {
      let received;
      try {
        received = this.binding.receive(this.fd, buffer);
      } catch (error) {
        // A peer that closed with our records unread leaves ECONNRESET to be
        // read once; what it sent before (a FAILED reply, say) comes after.
        if (isNativeError(error) && error.code === 'ECONNRESET' && !this.resetSeen) {
          this.resetSeen = true;
          continue;
        }
        this.fail(error);
        return;
      }
      if (received === null) return;
      if (received.bytes === 0 && received.fds.length === 0) {
        this.finish(undefined);
        return;
      }
      if (this.receivesFds === false && received.fds.length > 0) {
        this.closeAll(received.fds);
        received.fds = [];
      }
      if (received.fdsTruncated) {
        // Some descriptors were lost in the kernel: the record cannot be used.
        if (this.receivesFds === true) closeReceived(this.binding, received.fds);
        else this.closeAll(received.fds);
        this.handlers.onMessage(buffer.subarray(0, received.bytes), [], received.truncated, true);
        continue;
      }
      this.handlers.onMessage(buffer.subarray(0, received.bytes), received.fds, received.truncated, false);
    }
  }

  private fail(error: unknown): void {
    if (!this.failing) {
      // The peer may have hung up right after replying (a server that turns
      // a request away): deliver what it sent before reporting the failure.
      this.failing = true;
      this.readRecords(Infinity);
    }
    if (this.destroyed) return;
    this.finish(isNativeError(error) ? error : Object.assign(new Error(String(error)), { errno: 5, code: 'EIO', syscall: 'socket' }));
  }

  private finish(error: NativeError | undefined): void {
    if (this.destroyed) return;
    this.destroy();
    this.handlers.onEnd(error);
  }
}
