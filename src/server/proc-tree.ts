// Containment without a cgroup: the program's first process is made a child
// subreaper (native/spawn.cc), so that whatever it starts, setsid'd or
// double-forked, stays its descendant while it lives, and the tree is found
// by walking /proc by parent pid. It holds only while the first process
// lives: what is still running when it exits goes to the next subreaper up
// (the server, which then reaps it: ./orphans.ts), no longer told apart.

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { NativeBinding } from '../binding';

const { SIGKILL } = os.constants.signals;

/** Rounds of SIGKILL before giving up on a tree that keeps forking (each round kills what the last one saw). */
const KILL_ROUNDS = 100;

/** State and parent pid from /proc/PID/stat (after the command, which may hold spaces and parentheses). */
export function statOf(pid: number): { state: string; parent: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state as string, parent: Number(parent) };
  } catch {
    return undefined;
  }
}

/** The parent of a live process; undefined for one gone or a zombie (dead, waiting to be reaped, with no children). */
export function parentOf(pid: number): number | undefined {
  const stat = statOf(pid);
  return stat === undefined || stat.state === 'Z' || stat.state === 'X' ? undefined : stat.parent;
}

/** Every live process below `root` (not `root` itself), from one pass over /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const parent = parentOf(pid);
    if (parent === undefined) continue;
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [pid]);
    else list.push(pid);
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const next: number[] = [];
    for (const pid of queue) for (const child of children.get(pid) ?? []) next.push(child);
    found.push(...next);
    queue = next;
  }
  return found;
}

/** One program's tree, below its first process (the subreaper). */
export class ProcTree {
  constructor(readonly leader: number, private readonly binding: NativeBinding) {}

  /**
   * `signal` to every descendant of the first process (the caller signals
   * the first process itself, through its own pidfd). Each through a pidfd
   * opened first and checked after: its parent must still be one of the
   * tree, so a pid reused meanwhile is never signalled. SIGKILL repeats
   * until the first process has no descendant left, so that a child forked
   * between the walk and the kill is found by the next walk (as an orphan,
   * it stays below the subreaper).
   */
  signal(signal: number): void {
    for (let round = 0; round < (signal === SIGKILL ? KILL_ROUNDS : 1); round++) {
      const members = descendantsOf(this.leader);
      if (members.length === 0) return;
      const tree = new Set([this.leader, ...members]);
      for (const pid of members) this.#signalMember(pid, signal, tree);
    }
  }

  #signalMember(pid: number, signal: number, tree: ReadonlySet<number>): void {
    let pidfd: number;
    try {
      pidfd = this.binding.pidfdOpen(pid);
    } catch {
      return;
    }
    try {
      const parent = parentOf(pid);
      if (parent !== undefined && tree.has(parent)) this.binding.pidfdSignal(pidfd, signal);
    } catch {
      // exited meanwhile
    } finally {
      this.binding.close(pidfd);
    }
  }
}
