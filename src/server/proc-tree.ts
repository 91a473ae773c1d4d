// Containment without a cgroup: the program's first process is made a child
// subreaper (native/spawn.cc), so that whatever it starts, setsid'd or
// double-forked, stays its descendant while it lives, and the tree is found
// by walking /proc by parent pid. It holds only while the first process
// lives: what is still running when it exits goes to the next subreaper up
// (the server, which then reaps it: ./orphans.ts), no longer told apart.

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { NativeBinding } from '../binding';
import { deliveredSignal } from './stop-signal';

const { SIGKILL, SIGSTOP } = os.constants.signals;

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
   * `signal` to the first process (through `leaderPidfd`) and to every
   * process below it. Each descendant through a pidfd opened first and
   * checked after (its parent must still be one of the tree), so a pid
   * reused meanwhile is never signalled; the first process is signalled
   * before them, as a local kill() would signal the child first, so that
   * it does not end on its children's deaths before its own signal.
   * SIGKILL stops the first process first: stopped, it keeps its orphans
   * below it and cannot exit on its own, while its descendants are killed
   * round after round until none is left (a child forked between a walk and
   * its kill is found by the next walk); it is killed last.
   */
  signal(signal: number, leaderPidfd: number): void {
    if (signal !== SIGKILL) {
      const held = this.#open();
      this.#signalLeader(leaderPidfd, deliveredSignal(this.leader, signal));
      for (const [pidfd, pid] of held) this.#send(pidfd, deliveredSignal(pid, signal));
      return;
    }
    this.#signalLeader(leaderPidfd, SIGSTOP);
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const held = this.#open();
      if (held.length === 0) break;
      for (const [pidfd] of held) this.#send(pidfd, SIGKILL);
    }
    this.#signalLeader(leaderPidfd, SIGKILL);
  }

  #signalLeader(pidfd: number, signal: number): void {
    try {
      this.binding.pidfdSignal(pidfd, signal);
    } catch {
      // exited; its exit is on the way
    }
  }

  /** [pidfd, pid] of the descendants, each checked after it was opened. */
  #open(): [number, number][] {
    const members = descendantsOf(this.leader);
    const tree = new Set([this.leader, ...members]);
    const held: [number, number][] = [];
    for (const pid of members) {
      let pidfd: number;
      try {
        pidfd = this.binding.pidfdOpen(pid);
      } catch {
        continue; // gone
      }
      const parent = parentOf(pid);
      if (parent !== undefined && tree.has(parent)) held.push([pidfd, pid]);
      else this.binding.close(pidfd);
    }
    return held;
  }

  /** Signals through a pidfd and closes it. */
  #send(pidfd: number, signal: number): void {
    try {
      this.binding.pidfdSignal(pidfd, signal);
    } catch {
      // exited meanwhile
    } finally {
      this.binding.close(pidfd);
    }
  }
}
