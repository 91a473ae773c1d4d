// createServer(): the listening socket, accepting connections, and the
// server's lifecycle. Each connection is a Session (./session.ts).

import * as fs from 'node:fs';
import * as os from 'node:os';
import type {
  PeerCredentials, ServerOptions, ServerStats, SidecarServer as SidecarServerContract,
  SidecarServerEvents,
} from '../../types/index';
import { type NativeBinding, type NativePoller, READABLE, getBinding } from '../binding';
import { errnoException, invalidArgType, invalidArgValue, isNativeError } from '../errors';
import { NodeCompatibleEmitter } from '../emitter';
import { ExitReason, encodeFailed } from '../protocol';
import { type NormalizedServerOptions, normalizeServerOptions } from './options';
import { Session, type SessionHost } from './session';

/** How long accept() rests when the fd table is full, so that it does not spin. */
const ACCEPT_BACKOFF_MS = 100;

interface Listening {
  path: string;
  fd: number;
  poller: NativePoller;
  /** Identity of the socket file we created, so close() removes only ours. */
  dev: number;
  ino: number;
}

export class SidecarServer extends NodeCompatibleEmitter<SidecarServerEvents> implements SidecarServerContract, SessionHost {
  devNull = -1;
  readonly options: NormalizedServerOptions;
  private listener: Listening | undefined;
  private readonly sessions = new Set<Session>();
  /** The work queue: sessions waiting for a place, in arrival order. */
  private readonly queue: Session[] = [];
  private runningCount = 0;
  private readonly counters = { spawned: 0, failed: 0, denied: 0 };
  private closing = false;
  private closeCallbacks: ((error?: Error) => void)[] = [];
  private backoff: NodeJS.Timeout | undefined;
  private closeTimers: NodeJS.Timeout[] = [];
  private unrefed = false;

  constructor(options: ServerOptions | undefined, readonly binding: NativeBinding = getBinding()) {
    super();
    this.options = normalizeServerOptions(options);
  }

  stats(): ServerStats {
    return {
      connections: this.sessions.size,
      running: this.runningCount,
      queued: this.queue.length,
      ...this.counters,
    };
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  address(): string | null {
    return this.listener?.path ?? null;
  }

  listen(path: string, callback?: () => void): this {
    if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
    if (path.length === 0 || path.includes('\0')) throw invalidArgValue('path', path, 'must be a non-empty path without NUL bytes');
    if (this.listener !== undefined || this.closing) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    if (callback !== undefined) this.once('listening', callback);
    try {
      this.listener = this.bind(path);
    } catch (error) {
      process.nextTick(() => this.emit('error', error as Error));
      return this;
    }
    if (this.unrefed) this.listener.poller.unref();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  close(callback?: (error?: Error) => void): this {
    if (this.listener === undefined && !this.closing) {
      if (callback !== undefined) {
        const error = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
        process.nextTick(callback, error);
      }
      return this;
    }
    if (callback !== undefined) this.closeCallbacks.push(callback);
    if (this.closing) return this;
    this.closing = true;
    this.stopListening();
    for (const session of [...this.sessions]) session.dropIfIdle();
    const { closeTimeout, killSignal } = this.options;
    if (closeTimeout !== Infinity && this.sessions.size > 0) {
      // Programs still running after closeTimeout are ended (SIGKILL follows
      // killSignal if they linger: see Session.killFor).
      const timer = setTimeout(() => {
        for (const session of this.sessions) session.killFor(ExitReason.Close, killSignal);
      }, closeTimeout);
      if (this.unrefed) timer.unref();
      this.closeTimers.push(timer);
    }
    this.maybeClosed();
    return this;
  }

  ref(): this {
    this.unrefed = false;
    this.listener?.poller.ref();
    return this;
  }

  unref(): this {
    this.unrefed = true;
    this.listener?.poller.unref();
    return this;
  }

  // SessionHost

  requestStop(): void {
    this.close();
  }

  admit(session: Session): boolean | 'busy' {
    if (this.runningCount < this.options.maxConcurrent && this.queue.length === 0) {
      this.runningCount++;
      return true;
    }
    if (this.queue.length >= this.options.maxQueued) return 'busy';
    this.queue.push(session);
    return false;
  }

  release(_session: Session): void {
    this.runningCount--;
    // FIFO: the longest-waiting request runs next.
    while (this.runningCount < this.options.maxConcurrent && this.queue.length > 0) {
      const next = this.queue.shift() as Session;
      this.runningCount++;
      next.launch();
    }
  }

  leaveQueue(session: Session): void {
    const index = this.queue.indexOf(session);
    if (index !== -1) this.queue.splice(index, 1);
  }

  sessionDone(session: Session): void {
    this.sessions.delete(session);
    if (this.closing) this.maybeClosed();
  }

  count(what: 'spawned' | 'failed' | 'denied'): void {
    this.counters[what]++;
  }

  notify<E extends 'request' | 'spawn' | 'exit'>(event: E, info: Parameters<SidecarServerEvents[E]>[0]): void {
    (this.emit as (event: string, info: unknown) => boolean)(event, info);
  }

  notifyDenied(info: { credentials: PeerCredentials; argv: string[]; reason: string }): void {
    this.emit('denied', info);
  }

  notifyClientError(error: Error, credentials: PeerCredentials): void {
    this.emit('clientError', error, { credentials });
  }

  // internals

  private bind(path: string): Listening {
    const { binding } = this;
    this.devNull = binding.openReadWrite('/dev/null');
    let fd: number;
    try {
      fd = this.listenReplacingStale(path);
    } catch (error) {
      binding.close(this.devNull);
      this.devNull = -1;
      throw error;
    }
    let poller: NativePoller | undefined;
    try {
      const stat = fs.statSync(path);
      poller = new binding.Poller(fd, () => this.acceptAll());
      poller.start(READABLE);
      return { path, fd, poller, dev: stat.dev, ino: stat.ino };
    } catch (error) {
      poller?.close();
      binding.close(fd);
      binding.close(this.devNull);
      this.devNull = -1;
      fs.rmSync(path, { force: true });
      throw error;
    }
  }

  /** listen(), replacing a socket file that nothing listens on any more. */
  private listenReplacingStale(path: string): number {
    const fd = this.listenOrReplace(path);
    const { group, mode } = this.options;
    if (group !== undefined) {
      // The file was made 0600 by listen(): set the group first, then open it
      // up, so that no other group can connect in between.
      try {
        fs.chownSync(path, -1, group);
        fs.chmodSync(path, mode);
      } catch (error) {
        this.binding.close(fd);
        fs.rmSync(path, { force: true });
        throw error;
      }
    }
    return fd;
  }

  private listenOrReplace(path: string): number {
    const { binding, options } = this;
    const mode = options.group === undefined ? options.mode : 0o600;
    try {
      return binding.listen(path, mode, options.backlog);
    } catch (error) {
      if (!isNativeError(error) || error.code !== 'EADDRINUSE' || !this.isStaleSocket(path)) {
        throw toListenError(error, path);
      }
    }
    fs.unlinkSync(path);
    try {
      return binding.listen(path, mode, options.backlog);
    } catch (error) {
      throw toListenError(error, path);
    }
  }

  private isStaleSocket(path: string): boolean {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(path);
    } catch {
      return false;
    }
    if (!stat.isSocket()) return false; // never remove a file that is not a socket
    try {
      this.binding.close(this.binding.connect(path));
      return false; // someone listens: a live server
    } catch (error) {
      return isNativeError(error) && error.code === 'ECONNREFUSED';
    }
  }

  private acceptAll(): void {
    const listener = this.listener;
    if (listener === undefined) return;
    for (;;) {
      let fd: number;
      try {
        fd = this.binding.accept(listener.fd);
      } catch (error) {
        if (isNativeError(error) && (error.code === 'EMFILE' || error.code === 'ENFILE' || error.code === 'ENOBUFS' || error.code === 'ENOMEM')) {
          // Out of fds: the pending connection stays queued. Rest instead of
          // spinning on a socket that stays readable, then try again.
          listener.poller.stop();
          this.backoff = setTimeout(() => {
            this.backoff = undefined;
            if (this.listener === listener) {
              listener.poller.start(READABLE);
              this.acceptAll();
            }
          }, ACCEPT_BACKOFF_MS);
          if (this.unrefed) this.backoff.unref();
          return;
        }
        this.emit('error', error as Error);
        return;
      }
      if (fd < 0) return;
      if (this.sessions.size >= this.options.maxConnections) {
        this.turnAway(fd);
        continue;
      }
      const session = new Session(fd, this);
      this.sessions.add(session);
      this.emit('connection', { credentials: session.credentials });
    }
  }

  /** Over maxConnections: one FAILED record, then the door. */
  private turnAway(fd: number): void {
    const reply = encodeFailed({ errno: os.constants.errno.EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'accept', message: 'the server has too many connections' });
    try {
      this.binding.send(fd, reply, 0, reply.length, []);
    } catch {
      // The client is gone already.
    }
    this.binding.close(fd);
    this.counters.failed++;
  }

  private stopListening(): void {
    const listener = this.listener;
    if (listener === undefined) return;
    this.listener = undefined;
    if (this.backoff !== undefined) clearTimeout(this.backoff);
    this.backoff = undefined;
    listener.poller.close();
    this.binding.close(listener.fd);
    try {
      const stat = fs.lstatSync(listener.path);
      if (stat.dev === listener.dev && stat.ino === listener.ino) fs.unlinkSync(listener.path);
    } catch {
      // Already removed by someone else: nothing of ours to clean.
    }
  }

  private maybeClosed(): void {
    if (!this.closing || this.sessions.size > 0) return;
    this.closing = false;
    for (const timer of this.closeTimers.splice(0)) clearTimeout(timer);
    if (this.devNull >= 0) this.binding.close(this.devNull);
    this.devNull = -1;
    const callbacks = this.closeCallbacks.splice(0);
    process.nextTick(() => {
      for (const callback of callbacks) callback();
      this.emit('close');
    });
  }
}

function toListenError(error: unknown, path: string): Error {
  if (!isNativeError(error)) return error as Error;
  const wrapped = errnoException(error.errno, error.syscall === 'bind' || error.syscall === 'listen' ? 'listen' : error.syscall);
  wrapped.message = `${wrapped.message} ${path}`;
  return Object.assign(wrapped, { address: path });
}

/** Creates a server; call listen() to start it. */
export function createServer(options?: ServerOptions): SidecarServer {
  return new SidecarServer(options);
}
