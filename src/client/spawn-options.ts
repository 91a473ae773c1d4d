// Normalises remoteSpawn's arguments once, early, into a plain object, with
// child_process's defaults and validation (nodejs/node lib/child_process.js
// normalizeSpawnArguments), plus the socket path.

import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RemoteSpawnOptions, StdioEntry } from '../../types/index';
import {
  errnoException, invalidArgType, invalidArgValue, invalidSyncForkInput, noSocket, outOfRange, unsupportedOption,
} from '../errors';
import { NO_ID, type TerminalSize } from '../protocol';
import { signalOption } from '../signals';
import {
  locatedNames, optionalBoolean, validateAbortSignal, validateNoNul, validateObject, validateTimeout,
} from '../validate';

/** What one child fd becomes. */
export type StdioPlan =
  | { kind: 'pipe' }
  | { kind: 'ignore' }
  | { kind: 'fd'; fd: number } // an fd of this process, passed as is ('inherit', integers, streams)
  | { kind: 'terminal' }; // a pipe of 0-2 under the tty option: the program's terminal

export interface SpawnPlan {
  socketPath: string;
  /** The program to run (the shell when `shell` is set). Also child.spawnfile. */
  file: string;
  /** argv as the program sees it: argv0 (or file), then args. */
  argv: string[];
  /** child.spawnargs: argv with the arguments as the caller gave them (child_process keeps non-strings). */
  spawnargs: string[];
  env: string[];
  cwd: string;
  stdio: StdioPlan[];
  newSession: boolean;
  serverEnv: boolean;
  /** Names whose caller's values stand as given, where the server would make them fit its side. */
  callerEnv: string[];
  /** The tty option: a pseudo-terminal of this size, or null. */
  terminal: TerminalSize | null;
  /** User and group to run as, or NO_ID (-1). */
  uid: number;
  gid: number;
  /** Milliseconds after which the program gets killSignal; 0 for never. */
  timeout: number;
  killSignal: number;
  abortSignal: AbortSignal | undefined;
  /** How long remoteSpawn may block for the started reply (so that pid is set on return). */
  startWait: number;
  /** Milliseconds the server may take to answer (started or failed) before the request is given up; 0 for no bound. */
  startTimeout: number;
  /** The uid the server's socket, its directory and its listener must have; undefined: any. */
  expectUid: number | undefined;
}

/** The size of a terminal asked for with `tty: true`, and of a size's missing half. */
export const DEFAULT_TERMINAL_SIZE: Readonly<TerminalSize> = { columns: 80, rows: 24 };

/** A window size's dimension, as the kernel's winsize holds it (0, "unknown", is not offered). */
export function terminalDimension(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw outOfRange(name, 'an integer from 1 to 65535', value);
  }
  return value;
}

function normalizeTerminal(tty: unknown): TerminalSize | null {
  if (tty === undefined || tty === null || tty === false) return null;
  if (tty === true) return { ...DEFAULT_TERMINAL_SIZE };
  const size = validateObject(tty, 'options.tty') as { columns?: unknown; rows?: unknown };
  return {
    columns: terminalDimension(size.columns, 'options.tty.columns', DEFAULT_TERMINAL_SIZE.columns),
    rows: terminalDimension(size.rows, 'options.tty.rows', DEFAULT_TERMINAL_SIZE.rows),
  };
}

/** Default of options.startWait, in milliseconds. */
export const DEFAULT_START_WAIT_MS = 50;

/** child_process options that cannot work through a sidecar, and why. */
const UNSUPPORTED: Record<string, string> = {
  serialization: 'there is no IPC channel to a remote program',
};

function normalizeCwd(cwd: unknown): string {
  if (cwd === undefined || cwd === null) return process.cwd();
  let path: string;
  if (typeof cwd === 'string') path = cwd;
  else if (Buffer.isBuffer(cwd)) path = cwd.toString();
  else if (cwd instanceof URL) path = fileURLToPath(cwd);
  else throw invalidArgType('options.cwd', 'of type string or an instance of Buffer or URL', cwd);
  if (path.includes('\u0000')) {
    throw invalidArgValue('options.cwd', path, 'must be a string, Uint8Array, or URL without null bytes');
  }
  // A relative cwd is the caller's, as child_process's chdir(2) takes it
  // from the parent's directory: it travels absolute, never to be taken as a
  // directory of the same name on the server. Joined, not normalised, so that
  // 'link/..' means what the kernel makes of it. '' keeps the server's own.
  if (path !== '' && !path.startsWith('/')) path = `${process.cwd()}/${path}`;
  return path;
}

/** The caller's environment as NAME=value strings: what travels with the request. */
function callerEnvironment(env: unknown, serverEnv: boolean): string[] {
  // child_process takes `options.env || process.env`; with serverEnv the base
  // is the server's, so only what the caller names travels.
  const source = (env || (serverEnv ? {} : process.env)) as Record<string, unknown>;
  // Own properties only: a privileged remote spawner must not pick up values
  // from a prototype chain (child_process does; see docs/differences.md).
  const pairs: string[] = [];
  for (const name of Object.keys(Object(source))) {
    const value = source[name];
    if (value === undefined) continue;
    validateNoNul(name, `options.env['${name}']`);
    const text = String(value);
    validateNoNul(text, `options.env['${name}']`);
    pairs.push(`${name}=${text}`);
  }
  return pairs;
}

/** The fd of a stream-like object (an opened fs stream, a net.Socket), if it has one. */
function streamFd(value: object): number | undefined {
  const handle = (value as { _handle?: { fd?: unknown } })._handle;
  if (handle !== null && typeof handle === 'object' && typeof handle.fd === 'number' && handle.fd >= 0) return handle.fd;
  const fd = (value as { fd?: unknown }).fd;
  if (typeof fd === 'number' && Number.isInteger(fd) && fd >= 0) return fd;
  return undefined;
}

function normalizeStdioEntry(entry: unknown, index: number): StdioPlan {
  if (entry === undefined || entry === null) return index < 3 ? { kind: 'pipe' } : { kind: 'ignore' };
  if (entry === 'pipe' || entry === 'overlapped') return { kind: 'pipe' };
  if (entry === 'ignore') return { kind: 'ignore' };
  if (entry === 'inherit') return { kind: 'fd', fd: index };
  if (entry === 'ipc') throw unsupportedOption('stdio', '\'ipc\' needs a local Node.js child');
  if (typeof entry === 'number') {
    if (!Number.isInteger(entry)) throw invalidArgValue('stdio', entry);
    // child_process (libuv) makes a pipe of a negative fd.
    return entry < 0 ? { kind: 'pipe' } : { kind: 'fd', fd: entry };
  }
  if (typeof entry === 'string' || ArrayBuffer.isView(entry)) throw invalidSyncForkInput(entry);
  if (typeof entry === 'object') {
    const fd = streamFd(entry);
    if (fd !== undefined) return { kind: 'fd', fd };
  }
  throw invalidArgValue('stdio', entry);
}

export function normalizeStdio(stdio: unknown, terminal = false): StdioPlan[] {
  let entries: unknown[];
  if (stdio === undefined || stdio === null) entries = ['pipe', 'pipe', 'pipe'];
  else if (typeof stdio === 'string') {
    if (stdio !== 'pipe' && stdio !== 'inherit' && stdio !== 'ignore' && stdio !== 'overlapped') {
      throw invalidArgValue('stdio', stdio);
    }
    entries = [stdio, stdio, stdio];
  } else if (Array.isArray(stdio)) {
    entries = [...stdio];
    while (entries.length < 3) entries.push(undefined);
  } else {
    throw invalidArgValue('stdio', stdio);
  }
  const plans = entries.map((entry, index) => normalizeStdioEntry(entry as StdioEntry, index));
  if (terminal) {
    for (let index = 0; index < 3; index++) if (plans[index].kind === 'pipe') plans[index] = { kind: 'terminal' };
  }
  return plans;
}

/** The socket path: options.connect, else $SIDECAR_SOCKET. */
export function resolveSocketPath(connect: unknown): string {
  if (connect !== undefined && connect !== null) {
    if (typeof connect !== 'string') throw invalidArgType('options.connect', 'of type string', connect);
    if (connect.length === 0) throw invalidArgValue('options.connect', connect, 'must not be empty');
    validateNoNul(connect, 'options.connect');
    return connect;
  }
  const fromEnv = process.env.SIDECAR_SOCKET;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw noSocket();
}

function validateId(value: unknown, name: string): number {
  if (value === undefined || value === null) return NO_ID;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
    throw invalidArgType(name, 'int32', value);
  }
  // libuv refuses negative ids with EINVAL as spawn() runs; say so before
  // anything travels.
  if (value < 0) throw errnoException(os.constants.errno.EINVAL, 'spawn');
  return value;
}

function validateStartWait(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_START_WAIT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 60_000) {
    throw outOfRange('options.startWait', 'an integer from 0 to 60000', value);
  }
  return value;
}

/** Longest delay setTimeout keeps (a larger one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function validateStartTimeout(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw outOfRange('options.startTimeout', `an integer from 0 to ${MAX_TIMER_MS}`, value);
  }
  return value;
}

/** The largest uid: uid_t is 32 bits and (uid_t)-1 means "no change" to the kernel. */
const MAX_UID = 2 ** 32 - 2;

function validateExpectUid(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw invalidArgType('options.expectUid', 'of type number', value);
  if (!Number.isInteger(value) || value < 0 || value > MAX_UID) {
    throw outOfRange('options.expectUid', `an integer from 0 to ${MAX_UID}`, value);
  }
  return value;
}

/** Splits (command, args?, options?) as child_process.spawn does. */
export function normalizeSpawnArguments(command: unknown, args: unknown, options: unknown): SpawnPlan {
  if (typeof command !== 'string') throw invalidArgType('file', 'of type string', command);
  validateNoNul(command, 'file');
  if (command.length === 0) throw invalidArgValue('file', command, 'cannot be empty');

  let argList: string[];
  let rawArgs: unknown[] | undefined;
  if (Array.isArray(args)) {
    // As child_process: only strings are checked; anything else travels as
    // String(value), and spawnargs keeps the values as given.
    rawArgs = args.slice();
    argList = args.map((arg, index) => {
      if (typeof arg === 'string') validateNoNul(arg, `args[${index}]`);
      return String(arg);
    });
  } else if (args === undefined || args === null) {
    argList = [];
  } else if (typeof args !== 'object') {
    throw invalidArgType('args', 'of type object', args);
  } else {
    options = args;
    argList = [];
  }

  if (options === undefined) options = {};
  const opts = validateObject(options, 'options') as RemoteSpawnOptions & Record<string, unknown>;

  for (const name of Object.keys(UNSUPPORTED)) {
    if (opts[name] !== undefined) throw unsupportedOption(name, UNSUPPORTED[name]);
  }

  const cwd = normalizeCwd(opts.cwd);
  const detached = optionalBoolean(opts.detached, 'options.detached', false, true);
  const uid = validateId(opts.uid, 'options.uid');
  const gid = validateId(opts.gid, 'options.gid');
  const { shell } = opts;
  if (shell !== undefined && shell !== null && typeof shell !== 'boolean' && typeof shell !== 'string') {
    throw invalidArgType('options.shell', 'one of type boolean or string', shell);
  }
  if (opts.argv0 !== undefined && opts.argv0 !== null) {
    if (typeof opts.argv0 !== 'string') throw invalidArgType('options.argv0', 'of type string', opts.argv0);
    validateNoNul(opts.argv0, 'options.argv0');
  }
  optionalBoolean(opts.windowsHide, 'options.windowsHide', false, true);
  optionalBoolean(opts.windowsVerbatimArguments, 'options.windowsVerbatimArguments', false, true);

  let file = command;
  if (shell) {
    // As child_process: the words joined by spaces, run by `<shell> -c`. The
    // shell is looked up on the server, so '/bin/sh' is the server's.
    validateNoNul(String(shell), 'options.shell');
    const line = [command, ...argList].join(' ');
    file = typeof shell === 'string' ? shell : '/bin/sh';
    argList = ['-c', line];
    rawArgs = undefined;
  }
  const argv0 = typeof opts.argv0 === 'string' ? opts.argv0 : file;

  const serverEnv = optionalBoolean(opts.serverEnv, 'options.serverEnv', false);
  if (opts.tty !== undefined && opts.tty !== null && typeof opts.tty !== 'boolean' && typeof opts.tty !== 'object') {
    throw invalidArgType('options.tty', 'one of type boolean or object', opts.tty);
  }
  const terminal = normalizeTerminal(opts.tty);
  const timeout = validateTimeout(opts.timeout);
  const abortSignal = validateAbortSignal(opts.signal, 'options.signal');
  const killSignal = sanitizeKillSignal(opts.killSignal);

  const plan: SpawnPlan = Object.assign(Object.create(null), {
    socketPath: resolveSocketPath(opts.connect),
    file,
    argv: [argv0, ...argList],
    spawnargs: [argv0, ...(rawArgs ?? argList)],
    env: callerEnvironment(opts.env, serverEnv),
    cwd,
    stdio: normalizeStdio(opts.stdio, terminal !== null),
    newSession: detached,
    serverEnv,
    callerEnv: [...locatedNames(opts.callerEnv, 'options.callerEnv')],
    terminal,
    uid,
    gid,
    timeout,
    killSignal,
    abortSignal,
    startWait: validateStartWait(opts.startWait),
    startTimeout: validateStartTimeout(opts.startTimeout),
    expectUid: validateExpectUid(opts.expectUid),
  });
  return plan;
}

/** Node's sanitizeKillSignal: options.killSignal as a number, SIGTERM when absent. */
export function sanitizeKillSignal(killSignal: unknown): number {
  return signalOption(killSignal, 'options.killSignal', os.constants.signals.SIGTERM);
}
