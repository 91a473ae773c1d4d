// The remote programs this process has running, by pid, so that pid-based
// kill helpers (tree-kill, zx, concurrently) can reach them: remoteKill().

import type { RemoteChildProcess } from './child';
import { errnoException, unknownSignal } from '../errors';
import { signalNumber } from './options';
import * as os from 'node:os';

const running = new Map<number, Set<RemoteChildProcess>>();

export function rememberChild(pid: number, child: RemoteChildProcess): void {
  let children = running.get(pid);
  if (children === undefined) running.set(pid, children = new Set());
  children.add(child);
}

export function forgetChild(pid: number, child: RemoteChildProcess): void {
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
  if (typeof pid !== 'number' || !Number.isInteger(pid)) {
    throw Object.assign(new TypeError(`The "pid" argument must be of type number. Received ${typeof pid}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  const number = signal === 0 ? 0 : signalNumber(signal);
  if (number === undefined) throw unknownSignal(signal);
  const children = running.get(pid);
  if (children === undefined || children.size === 0) throw errnoException(os.constants.errno.ESRCH, 'kill');
  let delivered = false;
  for (const child of children) delivered = child.deliverSignal(number) || delivered;
  if (!delivered) throw errnoException(os.constants.errno.ESRCH, 'kill');
  return true;
}
