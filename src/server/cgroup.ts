// Containment in cgroup v2: one cgroup per program under a parent the server
// makes in its own cgroup. The program is cloned into its cgroup
// (CLONE_INTO_CGROUP, native/spawn.cc), so nothing it starts, setsid'd or
// double-forked, can be outside it; cgroup.kill ends all of it at once.
// Plain file operations on cgroupfs, so in TypeScript; the native side only
// clones into the directory fd.

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { NativeBinding } from '../binding';
import { deliveredSignal } from './stop-signal';

const { SIGKILL } = os.constants.signals;

/** Empty cgroups kept for the next programs: a fresh one costs a mkdir, an rmdir and the kernel's set-up on the first clone into it. */
const POOL_SIZE = 32;

/** `\040`-style escapes of /proc/self/mountinfo (space, tab, newline, backslash). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The directory of this process's cgroup v2, found through the cgroup2
 * mount in /proc/self/mountinfo (wherever it is: /sys/fs/cgroup, or
 * /sys/fs/cgroup/unified in a hybrid layout) and the `0::` line of
 * /proc/self/cgroup. Undefined when there is none this process can see.
 */
export function ownCgroupDirectory(): string | undefined {
  try {
    return cgroupDirectoryFrom(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return undefined;
  }
}

/** ownCgroupDirectory() from the two files' text. */
export function cgroupDirectoryFrom(mountinfo: string, membership: string): string | undefined {
  const own = /^0::(\/.*)$/m.exec(membership)?.[1];
  if (own === undefined) return undefined;
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] !== 'cgroup2') continue;
    const fields = (before as string).split(' ');
    const root = unescapeMountField(fields[3] ?? '');
    const mountPoint = unescapeMountField(fields[4] ?? '');
    // A mount of a subtree (a container's) shows the cgroups below its root only.
    if (own !== root && !own.startsWith(root === '/' ? '/' : `${root}/`)) continue;
    const below = root === '/' ? own : own.slice(root.length);
    return below === '/' || below === '' ? mountPoint : `${mountPoint}${below}`;
  }
  return undefined;
}

/** True when `dir/file` is there (a control file of a given kernel version). */
function hasFile(dir: string, file: string): boolean {
  return fs.existsSync(`${dir}/${file}`);
}

/** Pids in a cgroup (cgroup.procs); empty once it is gone. */
export function cgroupPids(dir: string): number[] {
  let text: string;
  try {
    text = fs.readFileSync(`${dir}/cgroup.procs`, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line !== '').map(Number);
}

const POPULATED = /^populated 1$/m;

/** One program's cgroup. */
export class CgroupTree {
  /**
   * The directory's fd: open while the server holds this cgroup for a
   * running program (from take(), for the clone into it and to read its
   * cgroup.events at the exit without a path walk), and while it is the
   * parent's ready one; closed in the pool and for a remainder (what a
   * program left running outlives its connection, and the fd budget counts
   * connections).
   */
  fd = -1;
  /**
   * cgroup.kill was written. Such a cgroup is never reused: the kernel
   * (6.x, its kill sequence count) kills a process cloned into a cgroup
   * killed before, as if it had been there.
   */
  killed = false;

  constructor(readonly dir: string, private readonly binding: NativeBinding) {}

  /** Opens the directory; throws the open error (ENOENT: removed behind the server's back). */
  openFd(): void {
    this.fd = fs.openSync(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  }

  closeFd(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * True while a process of the program, of any generation, still runs
   * (cgroup.events). Read on every program's exit: through the directory's
   * fd, one native call. A cgroup that cannot be read (EMFILE...) counts as
   * running: taken for empty, it could be given to another client's program
   * with this one's processes still in it.
   */
  populated(): boolean {
    try {
      const events = this.fd >= 0 ? this.binding.readFileAt(this.fd, 'cgroup.events') : fs.readFileSync(`${this.dir}/cgroup.events`, 'latin1');
      return POPULATED.test(events);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ENOENT'; // ENOENT: removed, nothing runs in it
    }
  }

  /**
   * `signal` to every process of the cgroup. SIGKILL goes through
   * cgroup.kill, which also reaches what is forked meanwhile; other signals
   * go to each process through a pidfd opened first and checked to be in
   * this cgroup after, so that a pid reused meanwhile is never signalled.
   * `except`: a pid the caller signals itself.
   */
  signal(signal: number, except?: number): void {
    if (signal === SIGKILL && this.#killAll()) return;
    for (const pid of cgroupPids(this.dir)) if (pid !== except) this.#signalMember(pid, signal);
  }

  #killAll(): boolean {
    try {
      this.killed = true;
      fs.writeFileSync(`${this.dir}/cgroup.kill`, '1');
      return true;
    } catch {
      return false; // Linux < 5.14: one by one
    }
  }

  #signalMember(pid: number, signal: number): void {
    let pidfd: number;
    try {
      pidfd = this.binding.pidfdOpen(pid);
    } catch {
      return; // gone
    }
    try {
      if (cgroupPids(this.dir).includes(pid)) this.binding.pidfdSignal(pidfd, deliveredSignal(pid, signal));
    } catch {
      // exited meanwhile
    } finally {
      this.binding.close(pidfd);
    }
  }
}

/**
 * The server's parent cgroup: made at listen in the server's own cgroup,
 * named after the server's pid and a number, and removed at close once empty.
 */
export class CgroupParent {
  /** Empty cgroups for the next programs. */
  readonly #pool: CgroupTree[] = [];
  #next = 0;

  private constructor(readonly dir: string, private readonly binding: NativeBinding) {}

  /** A parent under `base`, or undefined when this process cannot make one there (not root, read-only). */
  static make(base: string, name: string, binding: NativeBinding): CgroupParent | undefined {
    if (!hasFile(base, 'cgroup.procs')) return undefined;
    const dir = `${base}/${name}`;
    try {
      fs.mkdirSync(dir, { mode: 0o755 });
    } catch {
      return undefined;
    }
    const parent = new CgroupParent(dir, binding);
    try {
      parent.#ready = parent.#fresh();
    } catch {
      // take() makes one when asked, and reports why it cannot.
    }
    return parent;
  }

  /**
   * The cgroup the next program is cloned into, its fd already open: made
   * ready at listen and again as a program's cgroup comes back (with the fd
   * it kept), so that neither the mkdir nor the open(2) of cgroupfs (a long
   * path, and locks that each exit's notification takes) is on a spawn's
   * way. One at most, so that the server holds one fd for it at rest,
   * whatever it has run.
   */
  #ready: CgroupTree | undefined;

  /** A cgroup for the next program, its fd open: the ready one, an empty one of the pool, or a new one. Throws the mkdir or open error. */
  take(): CgroupTree {
    const ready = this.#ready;
    this.#ready = undefined;
    if (ready !== undefined) return ready;
    const pooled = this.#pool.pop();
    if (pooled !== undefined) {
      try {
        pooled.openFd();
        return pooled;
      } catch {
        // Removed behind the server's back (or out of fds): not kept, a new one.
        removeCgroup(pooled.dir);
      }
    }
    return this.#fresh();
  }

  /** A new cgroup, its fd open. */
  #fresh(): CgroupTree {
    const tree = new CgroupTree(`${this.dir}/${this.#next++}`, this.binding);
    fs.mkdirSync(tree.dir, { mode: 0o755 });
    try {
      tree.openFd();
    } catch (error) {
      removeCgroup(tree.dir);
      throw error;
    }
    return tree;
  }

  /**
   * Gives back the cgroup of a program whose every process has exited: made
   * the ready one, kept for reuse, or removed. `knownEmpty`: the caller has
   * just read that it is empty (cgroup.events is not read again). A ready
   * one taken is made again here, whatever becomes of this one, so that the
   * server holds one at rest (none once closed, or while no cgroup can be
   * made; take() then says why).
   */
  give(tree: CgroupTree, knownEmpty = false): void {
    const reusable = !this.#closed && !tree.killed && (knownEmpty || !tree.populated());
    if (reusable && this.#ready === undefined) {
      this.#ready = this.#readied(tree);
      return;
    }
    tree.closeFd();
    if (reusable && this.#pool.length < POOL_SIZE) this.#pool.push(tree);
    else removeCgroup(tree.dir);
    this.refill();
  }

  /** `tree` (or, failing it, a new cgroup) with its fd open; undefined when none can be had now (take() will say why). */
  #readied(tree: CgroupTree | undefined): CgroupTree | undefined {
    if (tree !== undefined) {
      try {
        if (tree.fd < 0) tree.openFd();
        return tree;
      } catch {
        removeCgroup(tree.dir); // removed behind the server's back
      }
    }
    try {
      return this.#fresh();
    } catch {
      return undefined;
    }
  }

  /** No program starts any more (the server is closed): nothing is made ready or kept. */
  #closed = false;

  /** Makes a ready cgroup if none is (a program's cgroup was kept by what it left running). */
  refill(): void {
    if (this.#ready === undefined && !this.#closed) this.#ready = this.#readied(this.#pool.pop());
  }

  /**
   * The server is closed: the ready cgroup goes at once, fd and directory,
   * and cgroups given back from now on are removed. What programs left
   * running may keep the parent a while (remove()).
   */
  close(): void {
    this.#closed = true;
    const ready = this.#ready;
    this.#ready = undefined;
    if (ready !== undefined) {
      ready.closeFd();
      removeCgroup(ready.dir);
    }
  }

  /** Removes the pool and the parent; false while a cgroup below still holds processes (retry later). */
  remove(): boolean {
    this.close();
    for (const tree of this.#pool.splice(0)) removeCgroup(tree.dir);
    return removeCgroup(this.dir);
  }
}

/** rmdir of a cgroup; false while it still holds processes (EBUSY) or children. */
export function removeCgroup(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
