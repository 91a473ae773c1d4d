// One request's way on the server, once it has arrived whole: the policy's
// decision, a place in the work queue, the program's start, its signals, and
// its exit with the reason it ended. The session that owns the run speaks the
// protocol; the run tells it what to say through three events and reports
// to the server through the session's context.

import * as os from 'node:os';
import * as util from 'node:util';
import type { PeerCredentials, ServerRequestInfo } from '../../types/index';
import type { WaitResult } from '../binding';
import { type ExecRequest, type FailedReply, ExitReasonCode, exitReasonName } from '../protocol';
import { isNativeError } from '../errors';
import { closeReceived } from '../transport/seqpacket';
import { isThenable } from '../validate';
import { signalName, terminatesByDefault } from '../signals';
import type { ProgramTree } from './containment';
import { type Decision, decide } from './policy';
import { Program, WatchError } from './program';
import type { SessionContext } from './session-context';
import { missingInterpreterMessage } from './interpreter';
import { nativeSpawnOptions, spawnFailureMessage } from './spawn-options';
import { TimerSet } from './timers';
import type { Ticket } from './work-queue';

// Guarded by debug.enabled on every request's path: a call with several
// arguments costs a spread and an iterator even when NODE_DEBUG is off.
const debug = util.debuglog('sidecar');

const { EAGAIN, ETIMEDOUT, EPERM } = os.constants.errno;
const { SIGKILL } = os.constants.signals;

/** What a run asks its session to tell the client. */
export interface RunEvents {
  /** The program runs: STARTED, with the master of its terminal (owned by the callee) when it has one. */
  started(pid: number, terminal: number | undefined): void;
  /** It will not run: FAILED, then hang up. `counted`: a failure, not a denial (those are reported apart). */
  refused(reply: FailedReply, counted: boolean): void;
  /** The program was reaped: EXIT with the reason. */
  exited(result: WaitResult, reason: ExitReasonCode): void;
  /** False once the client has hung up, even if its end has not been read yet. */
  clientStillThere(): boolean;
}

/** Where a run is. */
const enum Phase { Deciding, Queued, Running, Done }

export class Run {
  private phase = Phase.Deciding;
  private decision: Extract<Decision, { allow: true }> | undefined;
  private info: ServerRequestInfo | undefined;
  private ticket: Ticket | undefined;
  private program: Program | undefined;
  private clientGone = false;
  private clientSignalled = false;
  /** When the client last forwarded a signal that ends a program by default (Date.now()). */
  private warnedAt: number | undefined;
  /** Set by the first kill the server decides on its own. */
  private serverReason: ExitReasonCode | undefined;
  private readonly timers = new TimerSet();

  /** `attached`: the request's fds, owned by the run from now on. */
  constructor(
    private readonly context: SessionContext,
    private readonly credentials: PeerCredentials,
    private request: ExecRequest,
    private readonly attached: number[],
    private readonly events: RunEvents,
  ) {}

  /** True while its program has not been reaped. */
  get programRunning(): boolean {
    return this.program?.running ?? false;
  }

  /** A detached program (child_process's `detached`): a disconnect does not end it. */
  get detached(): boolean {
    return this.request.newSession;
  }

  /** Asks the policy; the rest follows from its answer. */
  start(): void {
    if (this.detached && !this.context.options.allowDetached) {
      const reason = 'this server does not run detached programs (allowDetached: false)';
      this.context.report({ type: 'denied', info: { credentials: this.credentials, argv: this.request.argv, reason } });
      this.refuse({ errno: EPERM, code: 'ERR_SIDECAR_DETACHED_REFUSED', syscall: 'detached', message: reason }, false);
      return;
    }
    const decision = decide(this.context.options, this.request, this.credentials);
    if (!isThenable<Decision>(decision)) this.onDecision(decision);
    else decision.then((answer) => this.onDecision(answer), (error: unknown) => this.onDecision({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: String(error) }));
  }

  /** A SIGNAL record: for the program if it runs; before that, as for a local child killed before it ran, moot. */
  signal(signal: number): void {
    if (this.phase !== Phase.Running || this.program === undefined) return;
    this.clientSignalled = true;
    if (terminatesByDefault(signal)) this.warnedAt = Date.now();
    this.program.signal(signal, false);
  }

  /** The server decided to end the program: `signal` now, SIGKILL if it lingers. */
  killFor(reason: ExitReasonCode, signal: number): void {
    if (this.phase !== Phase.Running || this.program === undefined) return;
    this.serverReason ??= reason;
    this.program.terminate(signal);
  }

  /**
   * The client is gone (or broke the protocol mid-run): a running program
   * gets the disconnect signal; anything before that is dropped. A program
   * whose client forwarded it a signal that ends programs (a Ctrl-C) less
   * than disconnectGrace ms before leaving is left to end of it, as a local
   * child whose parent died of the same Ctrl-C would be, and gets SIGKILL
   * only disconnectGrace ms after that signal: time for its trap.
   */
  clientLeft(): void {
    this.clientGone = true;
    if (this.phase === Phase.Running && this.program !== undefined && this.detached) {
      // Outlives its caller, as locally; nobody is told of its exit any more.
      debug('detached pid %d runs on without its client', this.program.pid);
      return;
    }
    if (this.phase === Phase.Running && this.program !== undefined) {
      const { disconnectSignal, disconnectGrace } = this.context.options;
      const left = this.warnedAt === undefined ? 0 : this.warnedAt + disconnectGrace - Date.now();
      if (left > 0) {
        debug('client gone after a signal: pid %d has %d ms', this.program.pid, left);
        this.timers.add(left, () => this.killFor(ExitReasonCode.Disconnect, SIGKILL));
        return;
      }
      this.serverReason ??= ExitReasonCode.Disconnect;
      this.program.terminate(disconnectSignal, disconnectGrace);
      return;
    }
    this.drop();
  }

  /**
   * Ends a run that has no program yet: leaves the queue, closes the fds, and
   * an authorize() still pending finds the phase changed and drops its answer.
   */
  drop(): void {
    if (this.phase === Phase.Running) return;
    if (this.phase === Phase.Queued) this.ticket?.done();
    this.end();
  }

  // ---- deciding, queueing, launching ------------------------------------------

  private onDecision(decision: Decision): void {
    if (this.phase !== Phase.Deciding) return; // the client left meanwhile
    const { request, credentials } = this;
    if (!decision.allow) {
      debug('denied uid %d pid %d %s: %s', credentials.uid, credentials.pid, request.argv[0], decision.reason);
      this.context.report({ type: 'denied', info: { credentials, argv: request.argv, reason: decision.reason } });
      this.refuse({ errno: EPERM, code: decision.code, syscall: decision.syscall, message: decision.reason }, false);
      return;
    }
    this.decision = decision;
    this.info = { credentials, argv: request.argv, cwd: decision.cwd, droppedEnv: decision.droppedEnv, searchPath: decision.searchPath, detached: this.detached };
    if (debug.enabled) debug('request uid %d pid %d %o PATH %s', credentials.uid, credentials.pid, request.argv, decision.searchPath);
    this.context.report({ type: 'request', info: this.info });
    this.phase = Phase.Queued;
    const ticket = this.context.queue.enter((granted) => this.launch(granted));
    if (ticket === undefined) {
      this.refuse({ errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: 'the server\'s queue is full' });
      return;
    }
    this.ticket = ticket;
    const { queueTimeout } = this.context.options;
    if (ticket.waiting && queueTimeout > 0) {
      this.timers.add(queueTimeout, () => {
        if (this.phase !== Phase.Queued) return;
        ticket.done();
        this.refuse({ errno: ETIMEDOUT, code: 'ERR_SIDECAR_BUSY', syscall: 'queue', message: `no place to run within queueTimeout (${queueTimeout} ms)` });
      });
    }
  }

  /** Starts the program; the queue has given this run a place. */
  private launch(ticket: Ticket): void {
    this.ticket = ticket;
    if (!this.events.clientStillThere()) {
      // The request was read after its client left (a server stopped for a
      // while reads what dead clients sent before their end): nobody waits
      // for the program, so it is not started. The session learns of the
      // end when it reads it.
      debug('not started, client gone: uid %d pid %d %o', this.credentials.uid, this.credentials.pid, this.request.argv);
      this.clientLeft();
      return;
    }
    const { binding, devNull, options, containment } = this.context;
    const { request } = this;
    let program: Program;
    // [master, terminal side] of the program's pseudo-terminal (tty option).
    let pty: [number, number] | undefined;
    if (request.terminal) {
      try {
        pty = binding.openPty(request.terminal.columns, request.terminal.rows, request.uid);
      } catch (error) {
        ticket.done();
        if (!isNativeError(error)) throw error;
        // Not the program's failure (an ENOENT here is /dev/ptmx, not the file asked for).
        this.refuse({
          errno: error.errno, code: 'ERR_SIDECAR_UNSUPPORTED', syscall: error.syscall,
          message: `the server cannot open a pseudo-terminal for the tty option: ${error.syscall} ${error.code}`,
        });
        return;
      }
    }
    let tree: ProgramTree | undefined;
    try {
      tree = containment.tree();
      const spawnOptions = nativeSpawnOptions(request, this.decision as Extract<Decision, { allow: true }>, this.attached, devNull, SIGKILL, pty?.[1]);
      program = Program.start(binding, spawnOptions, (result) => this.onProgramExit(result), tree);
    } catch (error) {
      if (pty !== undefined) binding.close(pty[0]);
      ticket.done();
      containment.discard(tree);
      if (!isNativeError(error)) throw error;
      // An ENOENT for a file that exists: the step that failed is the
      // lookup of its interpreter, not of the program.
      const interpreter = error.code === 'ENOENT' && error.syscall === 'execve'
        ? missingInterpreterMessage((this.decision as Extract<Decision, { allow: true }>).candidates) : undefined;
      const message = interpreter ?? (error instanceof WatchError ? error.message : spawnFailureMessage(error.syscall, error.code, request));
      this.refuse({ errno: error.errno, code: error.code, syscall: interpreter === undefined ? error.syscall : 'interpreter', message });
      return;
    } finally {
      // The program has its own copies: the terminal's other holders are the program's.
      if (pty !== undefined) binding.close(pty[1]);
    }
    // The program holds its own copies now; ours would keep pipes open. What
    // it was started from is not needed any more either: a running program
    // keeps only what its events report (a large environment is let go).
    this.closeAttached();
    this.decision = undefined;
    this.request = { ...request, env: [] };
    this.program = program;
    this.phase = Phase.Running;
    if (debug.enabled) debug('spawn pid %d %o', program.pid, request.argv);
    this.context.report({ type: 'spawn', info: { ...(this.info as ServerRequestInfo), pid: program.pid } });
    if (options.maxRuntime > 0) this.timers.add(options.maxRuntime, () => this.killFor(ExitReasonCode.MaxRuntime, options.killSignal));
    if (this.clientGone) {
      if (pty !== undefined) binding.close(pty[0]);
      this.clientLeft();
    } else {
      this.events.started(program.pid, pty?.[0]);
    }
  }

  private onProgramExit(result: WaitResult): void {
    const program = this.program as Program;
    this.phase = Phase.Done;
    const reason = this.serverReason ?? (result.signal !== null && this.clientSignalled ? ExitReasonCode.ClientSignal : ExitReasonCode.Exited);
    if (debug.enabled) debug('exit pid %d code %s signal %s reason %s', program.pid, result.exitCode, result.signal, exitReasonName(reason));
    this.ticket?.done();
    this.timers.clearAll();
    // Before the exit is reported: what is left of the tree is held (and
    // killed, if the server was ending it) when the client or close() learns
    // of the exit. Whether it is empty is looked at after the record is sent.
    const { containment, options: { maxRuntime } } = this.context;
    containment.exited(program.tree, this.serverReason !== undefined, maxRuntime > 0 ? program.startedAt + maxRuntime : Infinity);
    this.context.report({
      type: 'exit',
      info: {
        ...(this.info as ServerRequestInfo), pid: program.pid, exitCode: result.exitCode,
        signal: result.signal === null ? null : signalName(result.signal),
        reason: exitReasonName(reason), durationMs: Date.now() - program.startedAt,
      },
    });
    this.events.exited(result, reason);
    containment.settle();
  }

  private refuse(reply: FailedReply, counted = true): void {
    this.end();
    this.events.refused(reply, counted);
  }

  private end(): void {
    this.phase = Phase.Done;
    this.closeAttached();
    this.timers.clearAll();
  }

  private closeAttached(): void {
    closeReceived(this.context.binding, this.attached.splice(0));
  }
}
