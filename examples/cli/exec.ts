// `sidecar exec`: run PROGRAM on the server with this process's own stdin,
// stdout and stderr, forward the signals it can catch, and exit as the
// program did (exit-status.ts has every status and line).

import { remoteSpawn } from 'sidecar-exec';
import type { RemoteChildProcess } from 'sidecar-exec';
import { parseFlags, single } from './args';
import { EXIT_USAGE, endedByServerLine, failureExit, programExit } from './exit-status';
import { say, UsageError } from './usage';
import { localSize, relayTerminal, terminalRefusal } from './terminal';
import { followJobControl } from './job-control';

/** Signals `exec` catches and forwards; SIGKILL and SIGSTOP cannot be caught. */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGALRM', 'SIGCONT',
];

/** The env overlay of `--env NAME=VALUE` and `--env NAME` (the caller's own value). */
function envOverlay(entries: readonly string[]): Record<string, string> {
  // No prototype: a variable may be called __proto__ or constructor.
  const env: Record<string, string> = Object.create(null);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new UsageError(`--env needs NAME or NAME=VALUE: ${entry}`);
    if (eq === -1) {
      const own = process.env[entry];
      if (own !== undefined) env[entry] = own;
    } else {
      env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  }
  return env;
}

export function exec(argv: readonly string[]): void {
  const flags = parseFlags(argv, {
    values: ['connect', 'workdir', 'env', 'expect-uid'], switches: ['tty'], short: { t: 'tty' }, programFollows: true,
  });
  const tty = flags.switches.has('tty');
  const socketPath = single(flags, 'connect') ?? process.env.SIDECAR_SOCKET;
  if (socketPath === undefined || socketPath === '') throw new UsageError('exec needs --connect PATH (or SIDECAR_SOCKET)');
  const [program, ...args] = flags.operands;
  if (program === undefined) throw new UsageError('exec needs a PROGRAM');
  const expectUid = single(flags, 'expect-uid');
  if (expectUid !== undefined && !/^\d+$/.test(expectUid)) throw new UsageError(`--expect-uid takes a numeric uid: ${expectUid}`);
  const refusal = tty ? terminalRefusal() : undefined;
  if (refusal !== undefined) {
    say(refusal);
    process.exitCode = EXIT_USAGE;
    return;
  }

  // Handlers first: remoteSpawn may block briefly for the started reply, and
  // a signal that arrives meanwhile must still be forwarded (handlers run
  // from the event loop, after `child` is set).
  let child: RemoteChildProcess | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    // On a terminal, a window change is the terminal's own (resize below).
    if (tty && signal === 'SIGWINCH') return;
    child?.kill(signal);
  };
  const stopForwarding = (): void => {
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

  const options = {
    connect: socketPath,
    cwd: single(flags, 'workdir') ?? process.cwd(),
    env: envOverlay(flags.values.get('env') ?? []),
    serverEnv: true,
    stdio: tty ? 'pipe' : 'inherit',
    tty: tty ? localSize() : false,
    expectUid: expectUid === undefined ? undefined : Number(expectUid),
  } as const;
  try {
    child = remoteSpawn(program, args, options);
  } catch (error) {
    // As child_process, errors other than ENOENT/EACCES (E2BIG, EPERM) are
    // thrown; anything not about the spawn is the caller's (sidecar.ts).
    stopForwarding();
    if ((error as { syscall?: unknown }).syscall !== 'spawn') throw error;
    const { status, line } = failureExit(error as Error, program, socketPath);
    say(line);
    process.exitCode = status;
    return;
  }

  const running = child;
  const stopFollowing = followJobControl(running, tty ? relayTerminal(running) : undefined);
  let failed = false;
  running.on('error', (error) => {
    failed = true;
    const { status, line } = failureExit(error, program, socketPath);
    say(line);
    process.exitCode = status;
  });
  running.on('exit', (code, signal) => {
    if (failed) return; // the server went away: its error already set the status
    const ended = endedByServerLine(program, running.exitReason);
    if (ended !== undefined) say(ended);
    process.exitCode = programExit(code, signal);
  });
  running.on('close', () => {
    stopForwarding();
    stopFollowing();
  });
}
