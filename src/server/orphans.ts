// Reaping orphans. As PID 1 of a namespace (a container's entrypoint), or as
// a child subreaper (./proc-tree.ts), the server becomes the parent of every
// process whose own parent died first; each would stay a zombie until the
// server waits for it. Only orphans may be reaped: the host's own
// child_process children are waited for by libuv (waitpid by pid, on
// SIGCHLD), and a stolen exit status would never reach their 'exit'. So
// a zombie child is reaped only when it is not a program (those have their
// pidfd watcher) and it was already a zombie, the same process (its start
// time), at the previous sweep a second earlier: libuv reaps its own
// children in the same turn of the event loop as the SIGCHLD that reports
// them, and this runs on that loop, so one full sweep interval later a
// zombie is one nobody waits for. Each reap goes through a pidfd opened
// and checked first, so a reused pid is never waited for.

import * as fs from 'node:fs';
import type { NativeBinding } from '../binding';
import { statOf } from './proc-tree';

/** Between two sweeps: a zombie seen at two of them is reaped. */
export const SWEEP_MS = 1000;

/** Pids of the programs of every server of this process: their pidfd watchers reap them. */
export const programPids = new Set<number>();

/** Start time (clock ticks since boot) of a zombie, or undefined when `pid` is not a zombie. */
function zombieStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? fields[19] : undefined;
  } catch {
    return undefined;
  }
}

/** This process's children: /proc/self/task/TID/children, or a walk of /proc where that file is missing. */
function ownChildren(): number[] {
  const found: number[] = [];
  try {
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const text = fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim();
      if (text !== '') found.push(...text.split(' ').map(Number));
    }
    return found;
  } catch {
    // CONFIG_PROC_CHILDREN off
  }
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name) && statOf(Number(name))?.parent === process.pid) found.push(Number(name));
  }
  return found;
}

class OrphanReaper {
  #users = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Zombies seen at the last sweep, by pid, with their start time. */
  #seen = new Map<number, string>();
  #binding: NativeBinding | undefined;
  reaped = 0;

  /** One more server needs orphans reaped. */
  use(binding: NativeBinding): void {
    this.#binding = binding;
    if (this.#users++ > 0) return;
    this.#timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.#timer.unref();
  }

  /** That server is closed. */
  release(): void {
    if (--this.#users > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#seen.clear();
  }

  sweep(): void {
    const seen = new Map<number, string>();
    for (const pid of ownChildren()) {
      if (programPids.has(pid)) continue;
      const start = zombieStart(pid);
      if (start === undefined) continue;
      if (this.#seen.get(pid) === start) this.#reap(pid, start);
      else seen.set(pid, start);
    }
    this.#seen = seen;
  }

  #reap(pid: number, start: string): void {
    const binding = this.#binding as NativeBinding;
    let pidfd: number;
    try {
      pidfd = binding.pidfdOpen(pid);
    } catch {
      return; // reaped by its waiter meanwhile
    }
    try {
      if (zombieStart(pid) === start && statOf(pid)?.parent === process.pid) {
        binding.waitPidfd(pidfd);
        this.reaped++;
      }
    } catch {
      // reaped by someone else between the check and the wait
    } finally {
      binding.close(pidfd);
    }
  }
}

/** The one reaper of this process (orphans are the process's, whichever server made them). */
export const orphanReaper = new OrphanReaper();
