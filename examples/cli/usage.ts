// What the CLI says to its user about itself: the usage text, the error that
// asks for it, and the one "sidecar: ..." line every message is.

/** exec's synopsis, under the name it is called by: `sidecar-client --help` prints the same words. */
export const EXEC_SYNOPSIS = (name: string): string => `${name} --connect PATH [-t | --tty] [--workdir DIR] [--env NAME[=VALUE]|PREFIX*]... [--expect-uid UID] [--start-timeout MS] [--caller-env NAME]... [--] PROGRAM [ARG]...`;

export const INSTALL_SHIMS_SYNOPSIS = 'sidecar install-shims [--connect PATH] [--env NAME|PREFIX*]... [--no-default-env] [--client FILE] DIR [NAME]...';

export const USAGE = `usage:
  sidecar start [--mode MODE] [--group GID] [--parents] [--trust-directory] [--print-ready | --ready-fd N] [-v | -vv]
                [--allow-uid UID]... [--allow-gid GID]... [--allow-command NAME|PATH]... [--allow-env NAME]...
                [--caller-env NAME]...
                [--max-concurrent N] [--max-queued N] [--queue-timeout MS] [--max-connections N]
                [--max-connections-per-uid N] [--max-buffered-bytes N]
                [--max-runtime MS] [--handshake-timeout MS] [--close-timeout MS] [--disconnect-grace MS] [--no-stop]
                [--no-detached] [--containment auto|cgroup|subreaper|none] PATH
  sidecar stop PATH
  sidecar ping PATH
  ${EXEC_SYNOPSIS('sidecar exec')}
  ${INSTALL_SHIMS_SYNOPSIS}`;

/** A mistake in the command line: reported with the usage text, exit 125. */
export class UsageError extends Error {}

/** One line on stderr, prefixed as the native client prefixes it, so scripts see the same text from both. */
export function say(message: string): void {
  process.stderr.write(`sidecar: ${message}\n`);
}
