// Job control through `sidecar exec -t`: Ctrl-Z (SIGTSTP from the terminal,
// which reaches this client's process group and not the remote program's)
// must stop the remote program, then this client, as a shell's job stops as
// a whole; `fg` or `bg` continue the client with SIGCONT. remoteSpawn does
// most of it: it forwards SIGTSTP and SIGCONT to the program (the server
// stops what the kernel would stop in a group that is not orphaned: see
// src/server/stop-signal.ts), and without another listener it stops this
// process. With a terminal relay, raw mode must also be left for the stop
// and taken again after it, so this listens instead and stops the process
// itself.

/** What a terminal relay does around a stop: leave raw mode, and take it again. */
export interface SuspendHooks {
  suspend(): void;
  resume(): void;
}

/** Follows SIGTSTP and SIGCONT around `hooks`; returns the function that stops following. */
export function followJobControl(hooks: SuspendHooks): () => void {
  const onStop = (): void => {
    hooks.suspend();
    // SIGTSTP's own default action, now that a listener replaced it; SIGSTOP cannot be caught.
    process.kill(process.pid, 'SIGSTOP');
  };
  const onContinue = (): void => hooks.resume();
  process.on('SIGTSTP', onStop);
  process.on('SIGCONT', onContinue);
  return () => {
    process.removeListener('SIGTSTP', onStop);
    process.removeListener('SIGCONT', onContinue);
  };
}
