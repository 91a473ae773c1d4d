// What the CLI says to its user about itself: the usage text, the error that
// asks for it, and the one "sidecar: ..." line every message is.

export const USAGE = `usage:
  sidecar start [--mode MODE] [--group GID] [--parents] [--trust-directory] [--print-ready | --ready-fd N] [-v | -vv]
                [--allow-uid UID]... [--allow-gid GID]... [--allow-command NAME|PATH]... [--allow-env NAME]...
                [--max-concurrent N] [--max-queued N] [--queue-timeout MS] [--max-connections N]
                [--max-connections-per-uid N] [--max-buffered-bytes N]
                [--max-runtime MS] [--handshake-timeout MS] [--close-timeout MS] [--no-stop]
                [--no-detached] [--containment auto|cgroup|subreaper|none] PATH
  sidecar stop PATH
  sidecar ping PATH
  sidecar exec --connect PATH [--workdir DIR] [--env NAME[=VALUE]]... [--expect-uid UID] [--] PROGRAM [ARG]...`;

/** A mistake in the command line: reported with the usage text, exit 125. */
export class UsageError extends Error {}

/** One line on stderr, prefixed as the native client prefixes it, so scripts see the same text from both. */
export function say(message: string): void {
  process.stderr.write(`sidecar: ${message}\n`);
}
