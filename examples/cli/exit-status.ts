// exec's exit status and its one stderr line, decided from facts: the
// error's code and, for a failure the server reported, the server-side step
// that failed (serverSyscall), never from the wording of a message. The
// statuses follow coreutils' env and timeout (125 sidecar itself failed, 126
// found but cannot run, 127 not found), and build/Release/sidecar-client
// carries the same rows, so that both clients answer a script alike.

import { constants } from 'node:os';
import type { ExitReason, RemoteFailureFacts } from 'sidecar-exec';

/** The server did not answer within --start-timeout: coreutils' timeout says 124 for a command that timed out. */
export const EXIT_TIMED_OUT = 124;
export const EXIT_USAGE = 125;
export const EXIT_CANNOT_RUN = 126;
export const EXIT_NOT_FOUND = 127;

/** What a failure row may look at, and what its line may name. */
interface Failure {
  readonly code: string | undefined;
  readonly serverSyscall: string | undefined;
  readonly message: string;
  readonly program: string;
  readonly socketPath: string;
}

interface Row {
  /** An exact code, a family ending in '*' (ERR_SIDECAR_*), or '*' for any. */
  readonly code: string;
  /** Only when the server's failing step tells two failures of one code apart. */
  readonly serverSyscall?: string;
  readonly status: number;
  readonly line: (failure: Failure) => string;
}

const asIs = (failure: Failure): string => failure.message;

/** The first row that matches decides; the last one matches anything. */
const FAILURES: readonly Row[] = [
  // The working directory is missing on the server, or not a directory, or
  // not searchable: the caller's setup is wrong, not the program (as
  // `env -C DIR` exits 125 whatever chdir said).
  { code: '*', serverSyscall: 'chdir', status: EXIT_USAGE, line: asIs },
  // The file exists, but the interpreter its #! line names does not: the
  // message names it, where "command not found" would mislead.
  { code: 'ENOENT', serverSyscall: 'interpreter', status: EXIT_NOT_FOUND, line: asIs },
  { code: 'ENOENT', status: EXIT_NOT_FOUND, line: (f) => `${f.program}: command not found on the server at ${f.socketPath}` },
  // The server's policy refused it, or went away mid-run: the program could not be run.
  { code: 'ERR_SIDECAR_DENIED', status: EXIT_CANNOT_RUN, line: asIs },
  { code: 'ERR_SIDECAR_DISCONNECTED', status: EXIT_CANNOT_RUN, line: asIs },
  // No answer within --start-timeout; nothing was started.
  { code: 'ERR_SIDECAR_START_TIMEOUT', status: EXIT_TIMED_OUT, line: asIs },
  // No server, a busy one, a broken exchange: sidecar itself failed.
  { code: 'ERR_SIDECAR_*', status: EXIT_USAGE, line: asIs },
  // Any other errno (EACCES, E2BIG, EPERM...): found but cannot run.
  { code: '*', status: EXIT_CANNOT_RUN, line: (f) => `cannot run ${f.program}: ${f.message}` },
];

function matches(row: Row, failure: Failure): boolean {
  if (row.serverSyscall !== undefined && row.serverSyscall !== failure.serverSyscall) return false;
  if (row.code === '*') return true;
  if (row.code.endsWith('*')) return failure.code?.startsWith(row.code.slice(0, -1)) === true;
  return row.code === failure.code;
}

/** Exit status and stderr line for a program that could not be run at all. */
export function failureExit(error: Error & { code?: unknown } & RemoteFailureFacts, program: string, socketPath: string): { status: number; line: string } {
  const failure: Failure = {
    code: typeof error.code === 'string' ? error.code : undefined,
    serverSyscall: error.serverSyscall,
    message: error.message,
    program,
    socketPath,
  };
  // The last row matches anything, so find() never comes back empty; the
  // fallback only tells the compiler so.
  const row = FAILURES.find((candidate) => matches(candidate, failure)) ?? FAILURES[FAILURES.length - 1];
  return { status: row.status, line: row.line(failure) };
}

/** The program's own status, or 128+N when signal N killed it. */
export function programExit(code: number | null, signal: string | null): number {
  if (signal === null) return code ?? 0;
  // Real-time signals have no name in os.constants: signalCode is 'SIG<n>'.
  return 128 + (constants.signals[signal as NodeJS.Signals] ?? Number(signal.slice(3)));
}

/** Why the server ended a program, when it did: said on stderr, as the native client says it. */
const ENDED_BY_SERVER: Partial<Record<ExitReason, string>> = {
  maxRuntime: 'it ran longer than the server allows',
  close: 'the server is closing',
};

export function endedByServerLine(program: string, reason: ExitReason | null): string | undefined {
  const why = reason === null ? undefined : ENDED_BY_SERVER[reason];
  return why === undefined ? undefined : `${program}: ended by the server (${why})`;
}

/** The line for a request given up because a signal came before the program started (exit 128+N). */
export function interruptedLine(program: string, signal: NodeJS.Signals): string {
  return `${program}: interrupted by ${signal} before it started; the request was given up`;
}
