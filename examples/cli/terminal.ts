// `sidecar exec -t`: the local terminal for a program on a remote one. The
// local terminal goes into raw mode (every key, Ctrl-C included, reaches the
// remote terminal, whose line discipline makes of it what a local one would)
// and is restored on every way out; bytes are relayed both ways; a local
// window size change resizes the remote terminal.

import type { RemoteChildProcess, TerminalSize } from 'sidecar-exec';
import type { SuspendHooks } from './job-control';

/** Why `-t` cannot be honoured here, or undefined: stdin must be a terminal, as `docker exec -t` asks. */
export function terminalRefusal(): string | undefined {
  if (process.stdin.isTTY) return undefined;
  return '--tty needs a terminal on stdin (the input device is not a TTY); leave -t out for pipes and files';
}

/** The local window size, from whichever of stdout and stderr is a terminal. */
export function localSize(): TerminalSize {
  const stream = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
  return stream === undefined ? {} : { columns: stream.columns, rows: stream.rows };
}

/**
 * Relays between the local terminal and the program's. Returns hooks that
 * leave raw mode for a stop and take it again after (job-control.ts); the
 * terminal is restored at the program's 'close' and at exit.
 */
export function relayTerminal(child: RemoteChildProcess): SuspendHooks {
  const input = process.stdin;
  input.setRawMode(true);
  let restored = false;
  const onResize = (): void => {
    const { columns, rows } = localSize();
    if (columns !== undefined && rows !== undefined) child.resize(columns, rows);
  };
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.removeListener('SIGWINCH', onResize);
    input.unpipe();
    if (input.isTTY) input.setRawMode(false);
    // A paused stdin no longer keeps this process alive.
    input.pause();
  };
  process.on('SIGWINCH', onResize);
  // Node restores the terminal's modes as it exits, even on a signal it was
  // not listening for; this covers an exit through process.exit() as well.
  process.once('exit', restore);
  input.pipe(child.stdin as NodeJS.WritableStream);
  child.stdout?.pipe(process.stdout);
  child.on('close', restore);
  return {
    suspend() {
      if (!restored && input.isTTY) input.setRawMode(false);
    },
    resume() {
      if (!restored && input.isTTY) input.setRawMode(true);
    },
  };
}
