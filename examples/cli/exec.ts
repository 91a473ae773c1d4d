// `sidecar exec`: run PROGRAM on the server with this process's own stdin,
// stdout and stderr, forward the signals it can catch, and exit as the
// program did (exit-status.ts has every status and line).

import { remoteSpawn } from 'sidecar-exec';
import type { RemoteChildProcess } from 'sidecar-exec';
import type { LocatedEnvName } from 'sidecar-exec';
import { list, parseFlags, single } from './args';
import { EXIT_USAGE, endedByServerLine, failureExit, interruptedLine, programExit } from './exit-status';
import { EXEC_SYNOPSIS, say, UsageError } from './usage';
import { localSize, relayTerminal, terminalRefusal } from './terminal';
import { followJobControl } from './job-control';

/**
 * Signals `exec` catches. The terminal's (SIGINT, SIGQUIT, SIGHUP, SIGWINCH,
 * SIGCONT) reach the program through remoteSpawn itself, as they reach a
 * local child in the caller's process group; `exec` listens for those that
 * would end it so that it stays to report the program's exit, and forwards
 * the rest. SIGKILL and SIGSTOP cannot be caught; SIGTSTP is forwarded by
 * remoteSpawn, which then stops this process (job-control.ts does, around
 * a terminal's raw mode).
 */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'];
const KEPT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGHUP', 'SIGQUIT'];

/** Before the program started, these give the request up: nothing is left waiting for a server that may never answer. */
const GIVE_UP_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP']);

/**
 * The env overlay of `--env NAME=VALUE`, `--env NAME` (the caller's own
 * value) and `--env PREFIX*` (each of the caller's variables whose name
 * starts with PREFIX, as CCACHE_*).
 */
function envOverlay(entries: readonly string[]): Record<string, string> {
  // No prototype: a variable may be called __proto__ or constructor.
  const env: Record<string, string> = Object.create(null);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new UsageError(`--env needs NAME or NAME=VALUE: ${entry}`);
    if (eq === -1 && entry.endsWith('*')) {
      const prefix = entry.slice(0, -1);
      for (const [name, value] of Object.entries(process.env)) {
        if (name.startsWith(prefix) && value !== undefined) env[name] = value;
      }
    } else if (eq === -1) {
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
    values: ['connect', 'workdir', 'env', 'expect-uid', 'start-timeout', 'caller-env'],
    switches: ['help', 'tty'],
    short: { t: 'tty' },
    programFollows: true,
  });
  if (flags.switches.has('help')) {
    process.stdout.write(`usage: ${EXEC_SYNOPSIS('sidecar exec')}\n`);
    return;
  }
  const tty = flags.switches.has('tty');
  const socketPath = single(flags, 'connect') ?? process.env.SIDECAR_SOCKET;
  if (socketPath === undefined || socketPath === '') throw new UsageError('exec needs --connect PATH (or SIDECAR_SOCKET)');
  const [program, ...args] = flags.operands;
  if (program === undefined) throw new UsageError('exec needs a PROGRAM');
  const expectUid = single(flags, 'expect-uid');
  // The highest uid is 2^32 - 2: (uid_t)-1 means "no change" to the kernel.
  if (expectUid !== undefined && !(/^\d+$/.test(expectUid) && Number(expectUid) <= 0xfffffffe)) {
    throw new UsageError(`--expect-uid takes a numeric uid: ${expectUid}`);
  }
  const startTimeout = single(flags, 'start-timeout');
  if (startTimeout !== undefined && !(/^\d+$/.test(startTimeout) && Number(startTimeout) < 2 ** 31)) {
    throw new UsageError(`--start-timeout takes milliseconds, an integer below 2147483648: ${startTimeout}`);
  }
  const refusal = tty ? terminalRefusal() : undefined;
  if (refusal !== undefined) {
    say(refusal);
    process.exitCode = EXIT_USAGE;
    return;
  }

  // Handlers first: remoteSpawn may block briefly for the started reply, and
  // a signal that arrives meanwhile must still be handled (handlers run
  // from the event loop, after `child` is set).
  let child: RemoteChildProcess | undefined;
  let gaveUp = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (child.pid === undefined && GIVE_UP_SIGNALS.has(signal)) {
      // Not started: whatever the server does later, nothing waits for it.
      gaveUp = true;
      say(interruptedLine(program, signal));
      process.exitCode = programExit(null, signal);
      child.kill(signal);
      return;
    }
    if (FORWARDED_SIGNALS.includes(signal)) child.kill(signal);
  };
  const handled = [...FORWARDED_SIGNALS, ...KEPT_SIGNALS];
  const stopForwarding = (): void => {
    for (const signal of handled) process.removeListener(signal, onSignal);
  };
  for (const signal of handled) process.on(signal, onSignal);

  const options = {
    connect: socketPath,
    cwd: single(flags, 'workdir') ?? process.cwd(),
    env: envOverlay(flags.values.get('env') ?? []),
    serverEnv: true,
    // remoteSpawn names a wrong one (ERR_INVALID_ARG_VALUE): a usage error.
    callerEnv: list(flags, 'caller-env') as LocatedEnvName[] | undefined,
    stdio: tty ? 'pipe' : 'inherit',
    tty: tty ? localSize() : false,
    expectUid: expectUid === undefined ? undefined : Number(expectUid),
    startTimeout: startTimeout === undefined ? undefined : Number(startTimeout),
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
  const stopFollowing = tty ? followJobControl(relayTerminal(running)) : () => undefined;
  let failed = false;
  running.on('error', (error) => {
    failed = true;
    const { status, line } = failureExit(error, program, socketPath);
    say(line);
    process.exitCode = status;
  });
  running.on('exit', (code, signal) => {
    if (failed || gaveUp) return; // the server went away, or never answered: the status is set
    const ended = endedByServerLine(program, running.exitReason);
    if (ended !== undefined) say(ended);
    process.exitCode = programExit(code, signal);
  });
  running.on('close', () => {
    stopForwarding();
    stopFollowing();
  });
}
