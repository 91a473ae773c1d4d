// `sidecar start PATH`: a server in the foreground. Each flag is one
// createServer option; readiness is a line on stdout or on an fd; SIGINT or
// SIGTERM stops it gracefully, a second one at once.

import { closeSync, constants as fsConstants, existsSync, fchmodSync, fchownSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createServer } from 'sidecar-exec';
import type { ContainmentMode, LocatedEnvName, ServerOptions } from 'sidecar-exec';
import { list, parseFlags, single } from './args';
import type { Flags } from './args';
import { logRequests } from './request-log';
import { say, UsageError } from './usage';

type NumericOption = 'maxConcurrent' | 'maxQueued' | 'queueTimeout' | 'maxConnections' | 'maxConnectionsPerUid' | 'maxBufferedBytes'
  | 'maxRuntime' | 'handshakeTimeout' | 'closeTimeout' | 'disconnectGrace';

/** Numeric flags of `start`, and the server options they set. */
const START_NUMBERS: Readonly<Record<string, NumericOption>> = {
  'max-concurrent': 'maxConcurrent',
  'max-queued': 'maxQueued',
  'queue-timeout': 'queueTimeout',
  'max-connections': 'maxConnections',
  'max-connections-per-uid': 'maxConnectionsPerUid',
  'max-buffered-bytes': 'maxBufferedBytes',
  'max-runtime': 'maxRuntime',
  'handshake-timeout': 'handshakeTimeout',
  'close-timeout': 'closeTimeout',
  'disconnect-grace': 'disconnectGrace',
};

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

const CONTAINMENTS: readonly ContainmentMode[] = ['auto', 'cgroup', 'subreaper', 'none'];

function integerFlag(flags: Flags, name: string): number | undefined {
  const text = single(flags, name);
  if (text === undefined) return undefined;
  if (text === 'inf' || text === 'Infinity') return Infinity;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a non-negative integer: ${text}`);
  return Number(text);
}

function idList(flags: Flags, name: string): number[] | undefined {
  return list(flags, name)?.map((id) => {
    if (!/^\d+$/.test(id)) throw new UsageError(`--${name} takes numeric ids: ${id}`);
    return Number(id);
  });
}

/** The server options the flags ask for. */
function serverOptions(flags: Flags): ServerOptions {
  const options: ServerOptions = {
    allowStop: !flags.switches.has('no-stop'),
    allowDetached: !flags.switches.has('no-detached'),
    allowUids: idList(flags, 'allow-uid'),
    allowGids: idList(flags, 'allow-gid'),
    allowCommands: list(flags, 'allow-command'),
    allowEnv: list(flags, 'allow-env'),
    callerEnv: list(flags, 'caller-env') as LocatedEnvName[] | undefined,
    trustDirectory: flags.switches.has('trust-directory'),
    // A foreground server should not hang on a program that never ends.
    closeTimeout: 10_000,
  };
  const modeText = single(flags, 'mode');
  if (modeText !== undefined) {
    if (!/^[0-7]{1,4}$/.test(modeText)) throw new UsageError(`--mode must be octal, as 0660: ${modeText}`);
    options.mode = Number.parseInt(modeText, 8);
    if (options.mode > 0o777) throw new UsageError(`--mode must be at most 0777: ${modeText}`);
  }
  const containment = single(flags, 'containment');
  if (containment !== undefined) {
    if (!CONTAINMENTS.includes(containment as ContainmentMode)) throw new UsageError(`--containment must be one of ${CONTAINMENTS.join(', ')}: ${containment}`);
    options.containment = containment as ContainmentMode;
  }
  const group = single(flags, 'group');
  if (group !== undefined) {
    if (!/^\d+$/.test(group)) throw new UsageError(`--group takes a numeric gid: ${group}`);
    options.group = Number(group);
  }
  for (const [flag, option] of Object.entries(START_NUMBERS)) {
    const value = integerFlag(flags, flag);
    if (value !== undefined) options[option] = value;
  }
  return options;
}

/**
 * The mode of a directory --parents makes: the owner's, plus search and read
 * for the group (with --group, or a socket mode that lets the group in) and
 * for others where the socket's mode lets them in, so that they can reach
 * the socket. Never write for anyone else: they could move the socket aside
 * (listen() would refuse such a directory anyway).
 */
function parentMode(options: ServerOptions): number {
  const mode = options.mode ?? 0o600;
  return 0o700 | (options.group !== undefined || (mode & 0o070) !== 0 ? 0o050 : 0) | ((mode & 0o007) !== 0 ? 0o005 : 0);
}

/**
 * --parents: makes the missing directories above the socket, one by one,
 * each 0700 first, then given the socket's group and its mode through an fd
 * opened without following a link, so that a name swapped in meanwhile
 * cannot turn the chown or chmod onto another file. Existing directories are
 * left as they are: listen() refuses them if another user controls them.
 */
function makeParents(socketPath: string, options: ServerOptions): void {
  const missing: string[] = [];
  for (let dir = dirname(resolve(socketPath)); !existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
  for (const dir of missing) {
    // Not recursive: a directory someone else made in the meantime is an error (EEXIST).
    mkdirSync(dir, { mode: 0o700 });
    const fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    try {
      if (fstatSync(fd).uid !== process.geteuid?.()) throw Object.assign(new Error(`${dir} was replaced while it was made`), { code: 'EEXIST' });
      if (options.group !== undefined) fchownSync(fd, -1, options.group);
      fchmodSync(fd, parentMode(options));
    } finally {
      closeSync(fd);
    }
  }
}

export function start(argv: readonly string[]): void {
  const flags = parseFlags(argv, {
    values: ['mode', 'group', 'allow-uid', 'allow-gid', 'allow-command', 'allow-env', 'caller-env', 'ready-fd', 'containment', ...Object.keys(START_NUMBERS)],
    // `-v` and `-vv` (parseArgs reads -vv as -v twice; --vv is the long spelling).
    switches: ['parents', 'trust-directory', 'no-stop', 'no-detached', 'print-ready', 'v', 'vv'],
  });
  const [socketPath] = flags.operands;
  if (flags.operands.length !== 1 || socketPath === undefined) throw new UsageError('start takes exactly one PATH');
  const options = serverOptions(flags);
  const readyFd = integerFlag(flags, 'ready-fd');
  const verbosity = (flags.switches.get('v') ?? 0) + 2 * (flags.switches.get('vv') ?? 0);
  if (flags.switches.has('parents')) makeParents(socketPath, options);

  const server = createServer(options);
  server.on('error', (error) => {
    say(`cannot listen on ${socketPath}: ${error.message}`);
    if ((error as { code?: unknown }).code === 'ERR_SIDECAR_UNSAFE_DIRECTORY') say('--trust-directory listens there all the same');
    process.exitCode = 1;
    server.close();
  });
  // Always said: the server runs, but with less than it was asked for.
  server.on('warning', (warning) => say(`warning: ${warning.message}`));
  server.on('close', () => {
    for (const signal of STOP_SIGNALS) process.removeAllListeners(signal);
  });
  if (verbosity > 0) logRequests(server, verbosity);
  // The first signal stops accepting and lets running programs finish (up
  // to the close timeout); a second one exits now, and the programs die with
  // the server (their parent-death signal).
  let stopping = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (stopping) process.exit(128 + constants.signals[signal]);
      stopping = true;
      server.close();
    });
  }
  server.listen(socketPath, () => {
    // Readiness, as s6-ipcserver -1: a line once the socket accepts.
    if (flags.switches.has('print-ready')) process.stdout.write(`${socketPath}\n`);
    if (readyFd !== undefined) {
      writeSync(readyFd, '\n');
      closeSync(readyFd);
    }
  });
}
