// Signal names and numbers, shared by both wings as Node shares
// convertToValidSignal: the client validates kill() and killSignal with it,
// the server validates its own signal options and names a program's death.

import * as os from 'node:os';
import { invalidArgType, unknownSignal } from './errors/node';

const signals = os.constants.signals as Record<string, number>;

const names = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(signals)) {
  // SIGIOT/SIGPOLL alias others: keep the first (canonical) name per number.
  if (!names.has(number)) names.set(number, name as NodeJS.Signals);
}

/** Signal number of a name or number, or undefined when there is no such signal. */
export function signalNumber(signal: unknown): number | undefined {
  if (typeof signal === 'number') return names.has(signal) ? signal : undefined;
  // child_process upper-cases names: kill('sigint') works.
  if (typeof signal === 'string' && Object.hasOwn(signals, signal.toUpperCase())) return signals[signal.toUpperCase()];
  return undefined;
}

/** Name of a signal number, as child_process reports signalCode ('SIG<n>' for real-time signals). */
export function signalName(signal: number): NodeJS.Signals {
  return names.get(signal) ?? (`SIG${signal}` as NodeJS.Signals);
}

/** A signal given as a name or number, validated (ERR_UNKNOWN_SIGNAL) and turned into its number. */
export function toSignalNumber(signal: unknown): number {
  const number = signalNumber(signal);
  if (number === undefined) throw unknownSignal(signal);
  return number;
}

/**
 * An optional signal option (`options.killSignal`...), as Node's
 * sanitizeKillSignal: a name or number, `fallback` when absent.
 */
export function signalOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' && typeof value !== 'number') throw invalidArgType(name, 'one of type string or number', value);
  return toSignalNumber(value);
}

const { SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH } = os.constants.signals;
/** Signals whose default action is not to end the process: ignore, stop or continue (signal(7)). */
const NOT_TERMINATING = new Set([SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH]);

/**
 * True when a program that keeps the default action dies of this signal:
 * every signal but those that are ignored, stop or continue by default
 * (real-time signals included). A program whose client sent one of these
 * is being ended, and may be running a trap for it.
 */
export function terminatesByDefault(signal: number): boolean {
  return signal > 0 && !NOT_TERMINATING.has(signal);
}
