// The remote programs this process has running, by pid, so that pid-based
// kill helpers (tree-kill, zx, concurrently) can reach them: remoteKill().
// It stores only what can take a signal, not the child class, so that the
// import runs one way (child-process.ts -> pids.ts).

import * as os from 'node:os';
import { errnoException, invalidArgType } from '../errors';
import { toSignalNumber } from '../signals';

/** A running remote program as remoteKill() reaches it. */
export interface Signalable {
  /** Sends a signal number (0 only checks); false once the program is known gone. */
  deliverSignal(signal: number): boolean;
}

const running = new Map<number, Set<Signalable>>();

export function rememberChild(pid: number, child: Signalable): void {
  let children = running.get(pid);
  if (children === undefined) running.set(pid, children = new Set());
  children.add(child);
}

export function forgetChild(pid: number, child: Signalable): void {
  const children = running.get(pid);
  if (children === undefined) return;
  children.delete(child);
  if (children.size === 0) running.delete(pid);
}

/**
 * process.kill() for remote programs: sends `signal` to the running program
 * this process started with that pid (on any server; pids of two servers can
 * coincide, and then each gets it). Signal 0 only checks that one runs.
 * Throws ESRCH, as process.kill does, when none does.
 */
export function remoteKill(pid: number, signal: NodeJS.Signals | number = 'SIGTERM'): true {
  if (typeof pid !== 'number' || !Number.isInteger(pid)) throw invalidArgType('pid', 'of type number', pid);
  const number = signal === 0 ? 0 : toSignalNumber(signal);
  const children = running.get(pid);
  if (children === undefined || children.size === 0) throw errnoException(os.constants.errno.ESRCH, 'kill');
  let delivered = false;
  for (const child of children) delivered = child.deliverSignal(number) || delivered;
  if (!delivered) throw errnoException(os.constants.errno.ESRCH, 'kill');
  return true;
}

/** Whether a remote program this process started runs with that pid. */
export function isRemotePid(pid: number): boolean {
  return running.has(pid);
}
