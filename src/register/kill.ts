// process.kill() for the preload: a pid of a remote program this process has
// running is the server's pid, not one of this host, so it is signalled
// through the server (remoteKill); a negative one names that program's
// process group, which the server signals too (every program leads its own).
// Every other pid goes to the original process.kill.

import * as util from 'node:util';
import { isRemotePid, remoteKill } from '../client/pids';

const debug = util.debuglog('sidecar');

type Kill = typeof process.kill;

/** The remote pid a process.kill() pid argument names, or null for a local one. */
function remoteTarget(pid: unknown): number | null {
  if (typeof pid !== 'number' || !Number.isInteger(pid)) return null;
  // 0 and -1 name this process's group and every process: never remote.
  const target = pid < -1 ? -pid : pid;
  return target > 0 && isRemotePid(target) ? target : null;
}

export function wrapKill(original: Kill): Kill {
  const kill = function (this: unknown, pid: number, signal?: string | number): true {
    const target = remoteTarget(pid);
    if (debug.enabled) debug('register: process.kill %d -> %s', pid, target === null ? 'local' : 'remote');
    if (target === null) return Reflect.apply(original, this, [pid, signal]) as true;
    return remoteKill(target, signal as NodeJS.Signals | number | undefined);
  };
  Object.defineProperty(kill, 'name', { value: original.name });
  return kill;
}
