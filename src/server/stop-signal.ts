// The terminal's stop signals for a program alone in its session. Every
// program gets a session of its own, so its process group is orphaned (no
// member has a parent in another group of the same session), and the kernel
// discards SIGTSTP, SIGTTIN and SIGTTOU sent to a process of an orphaned
// group when the signal's action is the default one, to stop: nobody would
// be there to continue it. A local child is in its parent's group, which is
// not orphaned, and stops. So a stop signal goes to each process as the
// kernel would deliver it in such a group: to one that catches or ignores
// it, as sent (its handler runs, or nothing happens); to one whose action is
// the default, as SIGSTOP, which stops it there too and which SIGCONT ends.

import * as fs from 'node:fs';
import * as os from 'node:os';

const { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU } = os.constants.signals;
const STOP_SIGNALS: ReadonlySet<number> = new Set([SIGTSTP, SIGTTIN, SIGTTOU]);

/** The hex signal mask of one `/proc/PID/status` field (SigIgn, SigCgt), or undefined. */
function maskOf(status: string, field: string): bigint | undefined {
  const match = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  return match === null ? undefined : BigInt(`0x${match[1]}`);
}

/**
 * What to send `pid` for `signal`: SIGSTOP for a stop signal whose action
 * in that process is the default, else `signal` itself (a process that is
 * gone, or whose status cannot be read, gets `signal`: its delivery fails
 * or is discarded as it would have been).
 */
export function deliveredSignal(pid: number, signal: number): number {
  if (!STOP_SIGNALS.has(signal)) return signal;
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return signal;
  }
  const ignored = maskOf(status, 'SigIgn');
  const caught = maskOf(status, 'SigCgt');
  if (ignored === undefined || caught === undefined) return signal;
  const bit = 1n << BigInt(signal - 1);
  return (ignored & bit) === 0n && (caught & bit) === 0n ? SIGSTOP : signal;
}
