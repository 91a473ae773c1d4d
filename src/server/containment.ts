// How a server holds the whole process tree of each program: a cgroup per
// program (./cgroup.ts) where the server can make one, else its first
// process as a child subreaper (./proc-tree.ts), or nothing but the process
// group ('none'). The policy lives here; the native side only clones into
// a cgroup or sets the subreaper flag.
//
// A tree outlives its first process when that process leaves children
// running (`sh -c 'sleep 9 &'`), as it would locally. The server keeps such
// a remainder (cgroup mode): maxRuntime and close() still end it, and its
// cgroup is given back once it is empty. A tree the server was ending
// (disconnect, maxRuntime, close) is killed whole when its first process
// exits.

import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import type { ContainmentMode } from '../../types/index';
import type { NativeBinding } from '../binding';
import { CgroupParent, type CgroupTree, ownCgroupDirectory } from './cgroup';
import { orphanReaper } from './orphans';
import { ProcTree } from './proc-tree';
import { deliveredSignal } from './stop-signal';

const { SIGKILL } = os.constants.signals;

/** How often remainders are looked at (empty: given back; past maxRuntime: killed). */
const LINGER_CHECK_MS = 1000;

/** One program's tree, as its Program sees it. */
export interface ProgramTree {
  /** Extra options of the native spawn. */
  readonly spawnOptions: { cgroupFd?: number; subreaper?: boolean };
  /** The program was cloned (`pid`), or could not be (undefined). */
  bind(pid: number | undefined): void;
  /** `signal` to every process of the tree, the first one included (through `leaderPidfd`). */
  signal(signal: number, leaderPidfd: number): void;
}

class CgroupProgramTree implements ProgramTree {
  #leader: number | undefined;
  constructor(readonly cgroup: CgroupTree, private readonly binding: NativeBinding) {}
  get spawnOptions() { return { cgroupFd: this.cgroup.fd }; }
  /** The cgroup's fd stays open after the clone: its cgroup.events is read through it when the program exits. */
  bind(pid: number | undefined): void {
    this.#leader = pid;
  }

  /**
   * The first process before the rest, as a local kill() signals the child
   * first: a shell that saw its children die of the signal first could
   * exit on that, with a status instead of the signal.
   */
  signal(signal: number, leaderPidfd: number): void {
    if (signal !== SIGKILL) {
      try {
        this.binding.pidfdSignal(leaderPidfd, this.#leader === undefined ? signal : deliveredSignal(this.#leader, signal));
      } catch {
        // exited; its exit is on the way
      }
    }
    this.cgroup.signal(signal, signal === SIGKILL ? undefined : this.#leader);
  }
}

class SubreaperProgramTree implements ProgramTree {
  #tree: ProcTree | undefined;
  constructor(private readonly binding: NativeBinding) {}
  get spawnOptions() { return { subreaper: true }; }
  bind(pid: number | undefined): void { if (pid !== undefined) this.#tree = new ProcTree(pid, this.binding); }
  signal(signal: number, leaderPidfd: number): void {
    if (this.#tree !== undefined) this.#tree.signal(signal, leaderPidfd);
  }
}

interface Remainder {
  cgroup: CgroupTree;
  /** Date.now() past which it is killed (maxRuntime counted from the program's start); Infinity: none. */
  deadline: number;
}

/** The containment of one server, from listen to close. */
export class Containment {
  readonly #remainders = new Set<Remainder>();
  #timer: NodeJS.Timeout | undefined;
  #reaping = false;

  private constructor(
    readonly mode: Exclude<ContainmentMode, 'auto'>,
    private readonly binding: NativeBinding,
    private readonly parent: CgroupParent | undefined,
  ) {}

  /**
   * The containment asked for, at listen. 'auto' is a cgroup where the
   * server can make one under its own, else a subreaper. Throws for
   * 'cgroup' when there is none to be had. As PID 1, orphans are reaped
   * whatever the mode.
   */
  static open(mode: ContainmentMode, binding: NativeBinding): Containment {
    let parent: CgroupParent | undefined;
    if (mode === 'auto' || mode === 'cgroup') {
      const base = ownCgroupDirectory();
      // The pid alone would not do: as PID 1 of a namespace, every server is 1.
      parent = base === undefined ? undefined : CgroupParent.make(base, `sidecar-exec.${process.pid}.${randomBytes(4).toString('hex')}`, binding);
      if (parent === undefined && mode === 'cgroup') {
        throw Object.assign(new Error(`containment 'cgroup': no cgroup v2 this process can write below its own (${base ?? 'no cgroup2 mount'})`), { code: 'EACCES', syscall: 'mkdir' });
      }
    }
    const chosen = parent !== undefined ? 'cgroup' : mode === 'none' ? 'none' : 'subreaper';
    const containment = new Containment(chosen, binding, parent);
    if (chosen === 'subreaper') binding.setChildSubreaper();
    if (chosen === 'subreaper' || process.pid === 1) {
      orphanReaper.use(binding);
      containment.#reaping = true;
    }
    return containment;
  }

  /** Where the server's cgroups are ('cgroup' mode), for logs and the operator. */
  get cgroupDirectory(): string | undefined {
    return this.parent?.dir;
  }

  /** A tree for the next program, or undefined ('none'). Throws the cgroup's mkdir error. */
  tree(): ProgramTree | undefined {
    if (this.parent !== undefined) return new CgroupProgramTree(this.parent.take(), this.binding);
    if (this.mode === 'subreaper') return new SubreaperProgramTree(this.binding);
    return undefined;
  }

  /** A program that never started: its tree goes back unused. */
  discard(tree: ProgramTree | undefined): void {
    if (tree instanceof CgroupProgramTree) this.parent?.give(tree.cgroup);
  }

  /**
   * The program's first process was reaped. `ending`: the server was ending
   * it (what is left is killed now). Else a remainder is kept until it is
   * empty, killed at `deadline` or at close. Called before the program's
   * exit is reported, so that close() and the client's 'exit' find what is
   * left already held (and killed, when ending); whether it is empty is
   * looked at by settle(), once the exit record is on its way.
   */
  exited(tree: ProgramTree | undefined, ending: boolean, deadline: number): void {
    if (!(tree instanceof CgroupProgramTree)) return;
    const { cgroup } = tree;
    if (ending) cgroup.signal(SIGKILL);
    this.#remainders.add({ cgroup, deadline });
  }

  /** After exited(): empty cgroups are given back, the others kept as remainders. */
  settle(): void {
    if (this.#remainders.size > 0) this.#check();
  }

  /** Programs' remainders still running. */
  get lingering(): number {
    return this.#remainders.size;
  }

  /** close(): every remainder is killed. */
  killRemainders(): void {
    for (const remainder of this.#remainders) remainder.cgroup.signal(SIGKILL);
    this.#check();
  }

  /** The server is closed: the parent goes once everything below it has exited (retried until then). */
  close(): void {
    if (this.#reaping) orphanReaper.release();
    this.#reaping = false;
    this.parent?.close();
    this.killRemainders();
    this.#closing = true;
    this.#check();
  }

  #closing = false;

  #check(): void {
    const now = Date.now();
    for (const remainder of this.#remainders) {
      if (!remainder.cgroup.populated()) {
        this.#remainders.delete(remainder);
        this.parent?.give(remainder.cgroup, true);
        continue;
      }
      // A remainder outlives its connection, so it holds no fd of the
      // server's (the fd budget counts connections): looked at by path
      // from now on.
      remainder.cgroup.closeFd();
      this.parent?.refill();
      if (now >= remainder.deadline) remainder.cgroup.signal(SIGKILL);
    }
    const done = this.#remainders.size === 0 && (!this.#closing || this.parent === undefined || this.parent.remove());
    if (done) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#check();
      }, this.#closing ? 100 : LINGER_CHECK_MS);
      this.#timer.unref();
    }
  }
}
