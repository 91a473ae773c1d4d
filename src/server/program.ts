// A running program on the server: started through the native spawn, watched
// through its pidfd, signalled as a process group, and reaped exactly once.
// The leader is not reaped before its exit is handled, so its pid names its
// group all along and cannot have been reused.

import * as os from 'node:os';
import type { NativeBinding, NativePoller, NativeSpawnOptions, WaitResult } from '../binding';
import { READABLE } from '../binding';
import { isNativeError } from '../errors';
import type { ProgramTree } from './containment';
import { programPids } from './orphans';
import { deliveredSignal } from './stop-signal';

const { SIGKILL } = os.constants.signals;

/** How long a program may ignore the server's signal before SIGKILL follows. */
export const KILL_ESCALATION_MS = 5000;

/** The program started but could not be watched (it has been killed and reaped). */
export class WatchError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall = 'uv_poll_start';

  constructor(cause: unknown) {
    super(String(cause), { cause });
    this.errno = isNativeError(cause) ? cause.errno : os.constants.errno.EIO;
    this.code = isNativeError(cause) ? cause.code : 'EIO';
  }
}

export class Program {
  private exitPoller: NativePoller | undefined;
  private pidfd: number;
  private escalation: NodeJS.Timeout | undefined;
  private escalationDeadline = 0;
  readonly startedAt = Date.now();

  /**
   * Starts the program; `onExit` runs once, after it was reaped. Throws the
   * native error when it could not be started or watched (then nothing of it
   * is left: a program that cannot be watched is killed and reaped here).
   */
  static start(binding: NativeBinding, options: NativeSpawnOptions, onExit: (result: WaitResult) => void, tree?: ProgramTree): Program {
    let spawned: ReturnType<NativeBinding['spawn']>;
    try {
      spawned = binding.spawn(tree === undefined ? options : { ...options, ...tree.spawnOptions });
    } catch (error) {
      tree?.bind(undefined);
      throw error;
    }
    tree?.bind(spawned.pid);
    return new Program(binding, spawned.pid, spawned.pidfd, onExit, tree);
  }

  private constructor(
    private readonly binding: NativeBinding,
    readonly pid: number,
    pidfd: number,
    private readonly onExit: (result: WaitResult) => void,
    /** Every process of the program (./containment.ts); without it, its process group. */
    readonly tree: ProgramTree | undefined,
  ) {
    this.pidfd = pidfd;
    programPids.add(pid);
    try {
      this.exitPoller = new binding.Poller(pidfd, () => this.onReadable());
      this.exitPoller.start(READABLE);
    } catch (error) {
      // Nobody could ever wait for it: end it now rather than leave it unwatched.
      this.exitPoller?.close();
      this.exitPoller = undefined;
      this.signal(SIGKILL, true);
      this.reapBlocking();
      throw new WatchError(error);
    }
  }

  /** True until it has been reaped. */
  get running(): boolean {
    return this.pidfd !== -1;
  }

  /**
   * Signals every process of the program's tree when it has one; else its
   * group. `alsoLeader`: also through the pidfd, for a
   * program that left its group; the pidfd is used anyway when the group is
   * gone.
   */
  signal(signal: number, alsoLeader: boolean): void {
    if (!this.running) return;
    if (this.tree !== undefined) {
      // Each process of the tree once, wherever it went (setsid'd or double-forked).
      this.tree.signal(signal, this.pidfd);
      return;
    }
    // Without a tree, the group gets what its first process would get.
    const delivered = deliveredSignal(this.pid, signal);
    let reachedGroup = true;
    try {
      this.binding.kill(-this.pid, delivered);
    } catch {
      reachedGroup = false;
    }
    if (alsoLeader || !reachedGroup) {
      try {
        this.binding.pidfdSignal(this.pidfd, delivered);
      } catch {
        // Exited already; its exit is on the way.
      }
    }
  }

  /** `signal` now (group and leader), and SIGKILL if it is still there `graceMs` later. */
  terminate(signal: number, graceMs: number = KILL_ESCALATION_MS): void {
    this.signal(signal, true);
    if (signal === SIGKILL || !this.running) return;
    // Several reasons may ask (maxRuntime, then a disconnect): the earliest SIGKILL wins.
    const deadline = Date.now() + graceMs;
    if (this.escalation !== undefined && this.escalationDeadline <= deadline) return;
    if (this.escalation !== undefined) clearTimeout(this.escalation);
    this.escalationDeadline = deadline;
    this.escalation = setTimeout(() => this.signal(SIGKILL, true), graceMs);
    this.escalation.unref();
  }

  private onReadable(): void {
    const result = this.binding.waitPidfd(this.pidfd);
    if (result === null) return; // spurious wake-up
    this.release();
    this.onExit(result);
  }

  private release(): void {
    this.exitPoller?.close();
    this.exitPoller = undefined;
    if (this.escalation !== undefined) clearTimeout(this.escalation);
    this.escalation = undefined;
    this.binding.close(this.pidfd);
    this.pidfd = -1;
    programPids.delete(this.pid);
  }

  /** Waits for a program that was just killed; only on the rare path where it cannot be polled. */
  private reapBlocking(): void {
    while (this.binding.waitPidfd(this.pidfd) === null) this.binding.waitReadable(this.pidfd, 1000);
    this.binding.close(this.pidfd);
    this.pidfd = -1;
    programPids.delete(this.pid);
  }
}
