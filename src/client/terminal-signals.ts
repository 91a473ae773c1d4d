// The terminal's signals for remote children. A terminal sends SIGINT,
// SIGQUIT, SIGTSTP, SIGCONT, SIGHUP and SIGWINCH to its whole foreground
// process group, so a local child that is not detached gets them along with
// its parent. A remote program is in no group of the caller's: while one
// runs, this process listens for those signals and forwards each one to it,
// as kill() does (a SIGNAL record).
//
// Listening must not change what the host does. The listeners exist only
// while such a child exists (counted over every child of this process), and
// for LINGER_MS after the last one ended: a child started meanwhile (a
// build starts its next step as the last one ends) keeps them instead of
// removing and adding them again, which costs libuv a signal handler's
// set-up and tear-down per signal (about 40 us for the six, on each spawn of
// such a sequence). A listener with no child left to forward to does what
// the host would do without it (below). A listener is put first, so that it sees the host's own listeners, `once`
// ones included, before they run; when the host has none, Node's default is
// what the host expects: after forwarding, the listener is removed (Node
// then restores the default action) and the signal raised again, so that
// the process ends (SIGINT, SIGQUIT, SIGHUP) or stops (SIGTSTP) by it, as
// without this module. SIGCONT and SIGWINCH do nothing by default: they are
// only forwarded.
//
// The records are sent before the signal is raised again: send() hands a
// record to the kernel at once when nothing is queued before it. Something
// is queued only when the request itself has not reached the server whole,
// and then no program exists that the signal could reach.

import * as os from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** What receives the forwarded signals: a RemoteChildProcess. */
export interface SignalTarget {
  deliverSignal(number: number): boolean;
}

/** The signals a terminal sends to its foreground process group. */
export const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGTSTP', 'SIGCONT', 'SIGHUP', 'SIGWINCH'];

/** Those whose default action ends or stops the process, raised again when the host does not listen. */
const RAISED_AGAIN: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGQUIT', 'SIGTSTP', 'SIGHUP']);

const targets = new Set<SignalTarget>();
const listeners = new Map<NodeJS.Signals, () => void>();
/** How long the listeners outlive the last child that follows them. */
export const LINGER_MS = 50;
/**
 * The listeners' removal, checked LINGER_MS after the last child ended. One
 * timer serves a whole sequence of children: each end only notes the time,
 * and the timer, when due, looks again if a child ended since.
 */
let removal: NodeJS.Timeout | undefined;
/** Date.now() when the last child ended with no other left. */
let lastEnded = 0;

/**
 * Forwards the terminal's signals to `target` until the returned function
 * is called (idempotent). Only the main thread receives signals; a child
 * made in a worker is left alone.
 */
export function followTerminalSignals(target: SignalTarget): () => void {
  if (!isMainThread) return () => undefined;
  targets.add(target);
  for (const name of TERMINAL_SIGNALS) if (!listeners.has(name)) listen(name);
  return () => {
    if (!targets.delete(target) || targets.size > 0) return;
    lastEnded = Date.now();
    if (removal === undefined) scheduleRemoval(LINGER_MS);
  };
}

function scheduleRemoval(ms: number): void {
  removal = setTimeout(maybeStopListening, ms);
  // Nothing to keep the process alive for: listeners die with it.
  removal.unref();
}

function maybeStopListening(): void {
  removal = undefined;
  if (targets.size > 0) return; // the child that ends last schedules again
  const idle = Date.now() - lastEnded;
  // The wall clock is enough: the listeners are removed only while no child
  // runs, when the host's own handling is right anyway; a clock set back
  // (idle < 0) ends the linger rather than stretch it.
  if (idle >= 0 && idle < LINGER_MS) {
    scheduleRemoval(LINGER_MS - idle);
    return;
  }
  for (const [name, listener] of listeners) process.removeListener(name, listener);
  listeners.clear();
}

/** How many children follow the terminal's signals now (for tests and leak checks). */
export function followingCount(): number {
  return targets.size;
}

function listen(name: NodeJS.Signals): void {
  const listener = (): void => onSignal(name, listener);
  listeners.set(name, listener);
  process.prependListener(name, listener);
}

function onSignal(name: NodeJS.Signals, listener: () => void): void {
  const number = os.constants.signals[name];
  // A copy: a child may end (and leave the set) as it is signalled.
  for (const target of [...targets]) target.deliverSignal(number);
  if (!RAISED_AGAIN.has(name) || process.listenerCount(name) > 1) return;
  // Nobody else listens: do what Node does without a listener.
  process.removeListener(name, listener);
  listeners.delete(name);
  if (name === 'SIGINT') restoreTerminalMode();
  process.kill(process.pid, name);
  // Only a stop returns here, once continued: listen again if children remain.
  if (targets.size > 0 && !listeners.has(name)) listen(name);
}

/**
 * Node's own SIGINT handler (the one a listener replaces) puts a terminal
 * in raw mode back to the mode it found before dying; the default action
 * that follows a removed listener does not. The process is about to end, so
 * reading process.stdin (which creates it) costs nothing.
 */
function restoreTerminalMode(): void {
  const stdin = process.stdin as NodeJS.ReadStream | undefined;
  if (stdin?.isTTY === true && stdin.isRaw) stdin.setRawMode(false);
}
