// createServer(): the listening socket, accepting connections, and the
// server's lifecycle, counters and events. Each connection is a Session
// (./session.ts), admitted or turned away at accept by ./admission.ts; the
// socket file is ./socket-file.ts, the work queue ./work-queue.ts, and the
// budget of request bytes ./byte-budget.ts.

import * as util from 'node:util';
import type {
  PeerCredentials, ServerOptions, ServerStats, SidecarServer as SidecarServerContract, SidecarServerEvents,
} from '../../types/index';
import { type NativeBinding, type NativePoller, READABLE, getBinding } from '../binding';
import { invalidArgType, invalidArgValue, isNativeError } from '../errors';
import { NodeCompatibleEmitter } from '../emitter';
import { ExitReasonCode, encodeFailed } from '../protocol';
import { Admission, type Refusal, budgetConnections } from './admission';
import { ByteBudget } from './byte-budget';
import { Containment } from './containment';
import { type NormalizedServerOptions, normalizeServerOptions } from './options';
import { Session } from './session';
import type { SessionContext, SessionReport } from './session-context';
import { type SocketFile, createSocketFile, removeSocketFile } from './socket-file';
import { WorkQueue } from './work-queue';

/** How long accept() rests when the fd table is full, so that it does not spin. */
const ACCEPT_BACKOFF_MS = 100;

/** accept(2) errors that mean "out of fds or memory for now", not "broken". */
const ACCEPT_EXHAUSTED = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/**
 * Most connections accepted in one wake-up. A client that reconnects as fast
 * as it is turned away must not keep the loop in accept(): the listening
 * socket is polled level-triggered, so what is left is taken on the next
 * turn, after the other connections have had theirs.
 */
const ACCEPTS_PER_WAKE = 64;

const debug = util.debuglog('sidecar');

interface Listening {
  file: SocketFile;
  poller: NativePoller;
}

export class SidecarServer extends NodeCompatibleEmitter<SidecarServerEvents> implements SidecarServerContract {
  readonly #options: NormalizedServerOptions;
  readonly #binding: NativeBinding;
  readonly #queue: WorkQueue;
  readonly #admission: Admission;
  readonly #budget: ByteBudget;
  /** The host set maxConnections: it is warned if the fd limit cannot hold them (a default is fitted quietly). */
  readonly #maxConnectionsChosen: boolean;
  readonly #sessions = new Set<Session>();
  readonly #counters = { spawned: 0, failed: 0, denied: 0, detached: 0 };
  /** From listen until every program and what they left is gone. */
  #containment: Containment | undefined;
  #listener: Listening | undefined;
  /** The programs' /dev/null ('ignore' stdio entries): kept past the listener, until the last session is done. */
  #devNull = -1;
  #closing = false;
  #closeCallbacks: ((error?: Error) => void)[] = [];
  #backoff: NodeJS.Timeout | undefined;
  #closeTimers: NodeJS.Timeout[] = [];
  #unrefed = false;

  constructor(options?: ServerOptions, binding: NativeBinding = getBinding()) {
    super();
    this.#options = normalizeServerOptions(options);
    this.#maxConnectionsChosen = options?.maxConnections !== undefined && options.maxConnections !== Infinity;
    this.#binding = binding;
    this.#queue = new WorkQueue(this.#options.maxConcurrent, this.#options.maxQueued);
    this.#admission = new Admission(this.#options);
    this.#budget = new ByteBudget(this.#options.maxBufferedBytes);
  }

  stats(): ServerStats {
    return {
      connections: this.#sessions.size,
      running: this.#queue.running,
      queued: this.#queue.queued,
      bufferedBytes: this.#budget.held,
      maxConnections: this.#admission.maxConnections,
      ...this.#counters,
      lingering: this.#containment?.lingering ?? 0,
      containment: this.#containment?.mode ?? null,
    };
  }

  get listening(): boolean {
    return this.#listener !== undefined;
  }

  address(): string | null {
    return this.#listener?.file.path ?? null;
  }

  listen(path: string, callback?: () => void): this {
    if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
    if (path.length === 0 || path.includes('\0')) throw invalidArgValue('path', path, 'must be a non-empty path without NUL bytes');
    if (this.#listener !== undefined || this.#closing) {
      throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    }
    if (callback !== undefined) this.once('listening', callback);
    try {
      this.#listener = this.#bind(path);
    } catch (error) {
      process.nextTick(() => this.emit('error', error as Error));
      return this;
    }
    if (this.#unrefed) this.#listener.poller.unref();
    const { maxConnections, warning } = budgetConnections(this.#options, this.#maxConnectionsChosen);
    this.#admission.maxConnections = maxConnections;
    process.nextTick(() => {
      if (warning !== undefined) this.emit('warning', warning);
      this.emit('listening');
    });
    return this;
  }

  close(callback?: (error?: Error) => void): this {
    if (this.#listener === undefined && !this.#closing) {
      if (callback !== undefined) {
        const error = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
        process.nextTick(callback, error);
      }
      return this;
    }
    if (callback !== undefined) this.#closeCallbacks.push(callback);
    if (this.#closing) return this;
    this.#closing = true;
    this.#stopListening();
    for (const session of [...this.#sessions]) session.dropIfIdle();
    const { closeTimeout, killSignal } = this.#options;
    for (const session of this.#sessions) session.endDetached(killSignal);
    this.#containment?.killRemainders();
    if (closeTimeout !== Infinity && this.#sessions.size > 0) {
      // Programs still running after closeTimeout are ended (SIGKILL follows
      // killSignal if they linger: see Program.terminate).
      const timer = setTimeout(() => {
        for (const session of this.#sessions) session.killFor(ExitReasonCode.Close, killSignal);
      }, closeTimeout);
      if (this.#unrefed) timer.unref();
      this.#closeTimers.push(timer);
    }
    this.#maybeClosed();
    return this;
  }

  ref(): this {
    this.#unrefed = false;
    this.#listener?.poller.ref();
    return this;
  }

  unref(): this {
    this.#unrefed = true;
    this.#listener?.poller.unref();
    return this;
  }

  // ---- internals ---------------------------------------------------------------

  #bind(path: string): Listening {
    const binding = this.#binding;
    const devNull = binding.openReadWrite('/dev/null');
    let file: SocketFile | undefined;
    let poller: NativePoller | undefined;
    try {
      this.#containment ??= Containment.open(this.#options.containment, binding);
      debug('containment %s %s', this.#containment.mode, this.#containment.cgroupDirectory ?? '');
      file = createSocketFile(binding, path, this.#options);
      poller = new binding.Poller(file.fd, () => this.#acceptAll());
      poller.start(READABLE);
    } catch (error) {
      poller?.close();
      if (file !== undefined) {
        binding.closeOffLoop(file.fd); // clients may have connected already (see #stopListening)
        removeSocketFile(file);
      }
      binding.close(devNull);
      this.#containment?.close();
      this.#containment = undefined;
      throw error;
    }
    this.#devNull = devNull;
    return { file, poller };
  }

  /** What a session is handed: its dependencies, and the one outlet it reports through. */
  #sessionContext(report: (report: SessionReport) => void): SessionContext {
    const containment = this.#containment as Containment;
    return { binding: this.#binding, options: this.#options, queue: this.#queue, budget: this.#budget, devNull: this.#devNull, containment, report };
  }

  /** A session's report becomes an event, a counter, or both. */
  #onReport(session: Session, report: SessionReport): void {
    const counters = this.#counters;
    switch (report.type) {
      case 'request': this.emit('request', report.info); break;
      case 'spawn': counters.spawned++; counters.detached += Number(report.info.detached); this.emit('spawn', report.info); break;
      case 'exit': counters.detached -= Number(report.info.detached); this.emit('exit', report.info); break;
      case 'denied': counters.denied++; this.emit('denied', report.info); break;
      case 'failed': counters.failed++; this.emit('clientError', report.error, { credentials: report.credentials }); break;
      case 'stop': this.close(); break;
      case 'done':
        this.#sessions.delete(session);
        this.#admission.release(session.credentials);
        if (this.#closing) this.#maybeClosed();
        break;
    }
  }

  #acceptAll(): void {
    const listener = this.#listener;
    if (listener === undefined) return;
    for (let accepted = 0; accepted < ACCEPTS_PER_WAKE && this.#listener === listener; accepted++) {
      let fd: number;
      try {
        fd = this.#binding.accept(listener.file.fd);
      } catch (error) {
        if (isNativeError(error) && ACCEPT_EXHAUSTED.has(error.code)) {
          this.#backOff(listener);
          return;
        }
        this.emit('error', error as Error);
        return;
      }
      if (fd < 0) return;
      this.#admit(fd);
    }
  }

  /**
   * A new connection: judged on the credentials the kernel recorded for it
   * (SO_PEERCRED) before anything it sends is read, so that a refused peer
   * holds no slot, fd or buffer of the server's.
   */
  #admit(fd: number): void {
    let credentials: PeerCredentials;
    try {
      credentials = this.#binding.peerCredentials(fd);
    } catch {
      // A peer that cannot be told apart cannot be judged.
      this.#binding.close(fd);
      return;
    }
    const refusal = this.#admission.admit(credentials);
    if (refusal !== undefined) {
      this.#turnAway(fd, credentials, refusal);
      return;
    }
    const session: Session = new Session(fd, this.#sessionContext((report) => this.#onReport(session, report)), credentials);
    this.#sessions.add(session);
    this.emit('connection', { credentials: { ...credentials } });
  }

  /**
   * Out of fds: the pending connection stays queued in the kernel. Rest
   * instead of spinning on a socket that stays readable, then try again.
   */
  #backOff(listener: Listening): void {
    listener.poller.stop();
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      if (this.#listener === listener) {
        listener.poller.start(READABLE);
        this.#acceptAll();
      }
    }, ACCEPT_BACKOFF_MS);
    if (this.#unrefed) this.#backoff.unref();
  }

  /** Not admitted: one FAILED record saying why, then the door; counted and reported as a denial or a failure. */
  #turnAway(fd: number, credentials: PeerCredentials, { denied, reply }: Refusal): void {
    const record = encodeFailed(reply);
    try {
      this.#binding.send(fd, record, 0, record.length, []);
    } catch {
      // The client is gone already.
    }
    // Off the loop: records it queued unread may carry fds of any kind.
    this.#binding.closeOffLoop(fd);
    debug('turned away uid %d pid %d: %s', credentials.uid, credentials.pid, reply.message);
    if (denied) {
      this.#counters.denied++;
      this.emit('denied', { credentials, argv: [], reason: reply.message });
    } else {
      this.#counters.failed++;
      this.emit('clientError', Object.assign(new Error(reply.message), { code: reply.code, syscall: reply.syscall }), { credentials });
    }
  }

  #stopListening(): void {
    const listener = this.#listener;
    if (listener === undefined) return;
    this.#listener = undefined;
    if (this.#backoff !== undefined) clearTimeout(this.#backoff);
    this.#backoff = undefined;
    listener.poller.close();
    // Off the loop: connections never accepted go with it, and with them
    // the fds in their unread records.
    this.#binding.closeOffLoop(listener.file.fd);
    removeSocketFile(listener.file);
  }

  #maybeClosed(): void {
    if (!this.#closing || this.#sessions.size > 0) return;
    this.#closing = false;
    for (const timer of this.#closeTimers.splice(0)) clearTimeout(timer);
    if (this.#devNull >= 0) this.#binding.close(this.#devNull);
    this.#devNull = -1;
    this.#containment?.close();
    this.#containment = undefined;
    const callbacks = this.#closeCallbacks.splice(0);
    process.nextTick(() => {
      for (const callback of callbacks) callback();
      this.emit('close');
    });
  }
}

/** Creates a server; call listen() to start it. */
export function createServer(options?: ServerOptions): SidecarServer {
  return new SidecarServer(options);
}
