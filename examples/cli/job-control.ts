// Job control through `sidecar exec`: Ctrl-Z (SIGTSTP from the terminal, which
// reaches this client's process group and not the remote program's) stops
// the remote program's process group first, then this client, as a shell's
// job would stop as a whole; `fg` or `bg` continue the client with SIGCONT,
// which exec forwards, so the remote program continues with it.

import type { RemoteChildProcess } from 'sidecar-exec';

/** What a terminal relay does around a stop: leave raw mode, and take it again. */
export interface SuspendHooks {
  suspend(): void;
  resume(): void;
}

/** Follows SIGTSTP for `child`; returns the function that stops following. */
export function followJobControl(child: RemoteChildProcess, hooks?: SuspendHooks): () => void {
  const onStop = (): void => {
    // remoteSpawn has forwarded SIGTSTP already, for a program that handles
    // it (its listener runs first). SIGSTOP because the program's group,
    // alone in its session on the server, is orphaned, and the kernel
    // discards a SIGTSTP that would stop such a group. The SIGNAL record is
    // written before this process stops (sendmsg is synchronous here).
    child.kill('SIGSTOP');
    hooks?.suspend();
    // SIGTSTP's own default action, now that a handler replaced it; SIGSTOP cannot be caught.
    process.kill(process.pid, 'SIGSTOP');
  };
  const onContinue = (): void => hooks?.resume();
  process.on('SIGTSTP', onStop);
  process.on('SIGCONT', onContinue);
  return () => {
    process.removeListener('SIGTSTP', onStop);
    process.removeListener('SIGCONT', onContinue);
  };
}
