// createServer(): the listening socket, accepting connections, and the
// server's lifecycle. Each connection is a Session (./session.ts).

import * as fs from 'node:fs';
import type {
  ServerOptions, SidecarServer as SidecarServerContract, SidecarServerEvents,
} from '../../types/index';
import { type NativeBinding, type NativePoller, READABLE, getBinding } from '../binding';
import { errnoException, invalidArgType, invalidArgValue, isNativeError } from '../errors';
import { NodeCompatibleEmitter } from '../emitter';
import { Session, type SessionHost } from './session';

const DEFAULT_MODE = 0o600;
const DEFAULT_BACKLOG = 511;
/** How long accept() rests when the fd table is full, so that it does not spin. */
const ACCEPT_BACKOFF_MS = 100;

interface NormalizedServerOptions {
  mode: number;
  allowStop: boolean;
  backlog: number;
}

function normalizeServerOptions(options: ServerOptions | undefined): NormalizedServerOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const normalized: NormalizedServerOptions = Object.assign(Object.create(null), {
    mode: DEFAULT_MODE, allowStop: true, backlog: DEFAULT_BACKLOG,
  });
  if (options.mode !== undefined) {
    if (!Number.isInteger(options.mode)) throw invalidArgType('options.mode', 'of type number', options.mode);
    if (options.mode < 0 || options.mode > 0o777) throw invalidArgValue('options.mode', options.mode, 'must be between 0 and 0o777');
    normalized.mode = options.mode;
  }
  if (options.allowStop !== undefined) {
    if (typeof options.allowStop !== 'boolean') throw invalidArgType('options.allowStop', 'of type boolean', options.allowStop);
    normalized.allowStop = options.allowStop;
  }
  if (options.backlog !== undefined) {
    if (!Number.isInteger(options.backlog) || options.backlog < 1) {
      throw invalidArgValue('options.backlog', options.backlog, 'must be a positive integer');
    }
    normalized.backlog = options.backlog;
  }
  return normalized;
}

interface Listening {
  path: string;
  fd: number;
  poller: NativePoller;
  /** Identity of the socket file we created, so close() removes only ours. */
  dev: number;
  ino: number;
}

export class SidecarServer extends NodeCompatibleEmitter<SidecarServerEvents> implements SidecarServerContract, SessionHost {
  readonly allowStop: boolean;
  devNull = -1;
  private readonly options: NormalizedServerOptions;
  private listener: Listening | undefined;
  private readonly sessions = new Set<Session>();
  private closing = false;
  private closeCallbacks: ((error?: Error) => void)[] = [];
  private backoff: NodeJS.Timeout | undefined;
  private unrefed = false;

  constructor(options: ServerOptions | undefined, readonly binding: NativeBinding = getBinding()) {
    super();
    this.options = normalizeServerOptions(options);
    this.allowStop = this.options.allowStop;
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

  sessionDone(session: Session): void {
    this.sessions.delete(session);
    if (this.closing) this.maybeClosed();
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
    const { binding, options } = this;
    try {
      return binding.listen(path, options.mode, options.backlog);
    } catch (error) {
      if (!isNativeError(error) || error.code !== 'EADDRINUSE' || !this.isStaleSocket(path)) {
        throw toListenError(error, path);
      }
    }
    fs.unlinkSync(path);
    try {
      return binding.listen(path, options.mode, options.backlog);
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
      this.sessions.add(new Session(fd, this));
    }
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
