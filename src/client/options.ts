// Normalises remoteSpawn's arguments once, early, into a plain object, with
// child_process's defaults and validation (nodejs/node lib/child_process.js
// normalizeSpawnArguments), plus the socket path.

import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RemoteSpawnOptions, StdioEntry } from '../../types/index';
import { SidecarError, invalidArgType, invalidArgValue, invalidSyncForkInput, unsupportedOption } from '../errors';

/** What one child fd becomes. */
export type StdioPlan =
  | { kind: 'pipe' }
  | { kind: 'ignore' }
  | { kind: 'fd'; fd: number }; // an fd of this process, passed as is ('inherit', integers, streams)

export interface SpawnPlan {
  socketPath: string;
  file: string;
  /** argv as the program sees it: argv0 (or file), then args. Also child.spawnargs. */
  argv: string[];
  env: string[];
  cwd: string;
  stdio: StdioPlan[];
  newSession: boolean;
  serverEnv: boolean;
}

/** child_process options that cannot work through a sidecar (yet), and why. */
const UNSUPPORTED: Record<string, string> = {
  uid: 'switching user is the server\'s policy and is not implemented yet',
  gid: 'switching group is the server\'s policy and is not implemented yet',
  shell: 'running through a shell is not implemented yet; spawn the shell explicitly',
  timeout: 'not implemented yet',
  signal: 'AbortSignal is not implemented yet',
  killSignal: 'not implemented yet',
  serialization: 'there is no IPC channel to a remote program',
};

function checkNoNul(value: string, name: string): void {
  if (value.includes('\u0000')) {
    throw invalidArgValue(name, value, 'must be a string without null bytes');
  }
}

function validateBoolean(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

function normalizeCwd(cwd: unknown): string {
  if (cwd === undefined || cwd === null) return process.cwd();
  let path: string;
  if (typeof cwd === 'string') path = cwd;
  else if (Buffer.isBuffer(cwd)) path = cwd.toString();
  else if (cwd instanceof URL) path = fileURLToPath(cwd);
  else throw invalidArgType('options.cwd', 'of type string or an instance of Buffer or URL', cwd);
  checkNoNul(path, 'options.cwd');
  return path;
}

function envPairs(env: unknown, serverEnv: boolean): string[] {
  if (env === undefined || env === null) {
    if (serverEnv) return [];
    env = process.env;
  } else if (typeof env !== 'object') {
    throw invalidArgType('options.env', 'of type object', env);
  }
  // Own properties only: a privileged remote spawner must not pick up values
  // from a prototype chain (child_process does; see docs/differences.md).
  const pairs: string[] = [];
  const source = env as Record<string, unknown>;
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value === undefined) continue;
    checkNoNul(name, `options.env['${name}']`);
    const text = String(value);
    checkNoNul(text, `options.env['${name}']`);
    if (name.length === 0 || name.includes('=')) continue; // cannot be expressed as NAME=value
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
    if (!Number.isInteger(entry) || entry < 0) throw invalidArgValue('stdio', entry);
    return { kind: 'fd', fd: entry };
  }
  if (typeof entry === 'string' || ArrayBuffer.isView(entry)) throw invalidSyncForkInput(entry);
  if (typeof entry === 'object') {
    const fd = streamFd(entry);
    if (fd !== undefined) return { kind: 'fd', fd };
  }
  throw invalidArgValue('stdio', entry);
}

export function normalizeStdio(stdio: unknown): StdioPlan[] {
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
  return entries.map((entry, index) => normalizeStdioEntry(entry as StdioEntry, index));
}

/** The socket path: options.connect, else $SIDECAR_SOCKET. */
export function resolveSocketPath(connect: unknown): string {
  if (connect !== undefined && connect !== null) {
    if (typeof connect !== 'string') throw invalidArgType('options.connect', 'of type string', connect);
    if (connect.length === 0) throw invalidArgValue('options.connect', connect, 'must not be empty');
    checkNoNul(connect, 'options.connect');
    return connect;
  }
  const fromEnv = process.env.SIDECAR_SOCKET;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new SidecarError('ERR_SIDECAR_NO_SOCKET',
    'No sidecar server socket: pass options.connect or set the SIDECAR_SOCKET environment variable');
}

/** Splits (command, args?, options?) as child_process.spawn does. */
export function normalizeSpawnArguments(command: unknown, args: unknown, options: unknown): SpawnPlan {
  if (typeof command !== 'string') throw invalidArgType('file', 'of type string', command);
  if (command.length === 0) throw invalidArgValue('file', command, 'cannot be empty');
  checkNoNul(command, 'file');

  let argList: string[];
  if (Array.isArray(args)) {
    argList = args.map((arg, index) => {
      if (typeof arg !== 'string') throw invalidArgType(`args[${index}]`, 'of type string', arg);
      checkNoNul(arg, `args[${index}]`);
      return arg;
    });
  } else if (args === undefined || args === null) {
    argList = [];
  } else if (typeof args !== 'object') {
    throw invalidArgType('args', 'of type object', args);
  } else {
    options = args;
    argList = [];
  }

  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidArgType('options', 'of type object', options);
  const opts = options as RemoteSpawnOptions & Record<string, unknown>;

  for (const name of Object.keys(UNSUPPORTED)) {
    if (opts[name] !== undefined && opts[name] !== false) throw unsupportedOption(name, UNSUPPORTED[name]);
  }

  if (opts.argv0 !== undefined && typeof opts.argv0 !== 'string') throw invalidArgType('options.argv0', 'of type string', opts.argv0);
  const argv0 = opts.argv0 ?? command;
  checkNoNul(argv0, 'options.argv0');

  const serverEnv = validateBoolean(opts.serverEnv, 'options.serverEnv');
  validateBoolean(opts.windowsHide, 'options.windowsHide');
  validateBoolean(opts.windowsVerbatimArguments, 'options.windowsVerbatimArguments');

  const plan: SpawnPlan = Object.assign(Object.create(null), {
    socketPath: resolveSocketPath(opts.connect),
    file: command,
    argv: [argv0, ...argList],
    env: envPairs(opts.env, serverEnv),
    cwd: normalizeCwd(opts.cwd),
    stdio: normalizeStdio(opts.stdio),
    newSession: validateBoolean(opts.detached, 'options.detached'),
    serverEnv,
  });
  return plan;
}

/** Signal number of a name or number, or undefined when there is no such signal. */
export function signalNumber(signal: unknown): number | undefined {
  const signals = os.constants.signals as Record<string, number>;
  if (typeof signal === 'number') {
    return Object.values(signals).includes(signal) ? signal : undefined;
  }
  if (typeof signal === 'string' && Object.hasOwn(signals, signal)) return signals[signal];
  return undefined;
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(os.constants.signals)) {
  // SIGIOT/SIGPOLL alias others: keep the first (canonical) name per number.
  if (!signalNames.has(number)) signalNames.set(number, name as NodeJS.Signals);
}

/** Name of a signal number, as child_process reports signalCode. */
export function signalName(signal: number): NodeJS.Signals {
  return signalNames.get(signal) ?? (`SIG${signal}` as NodeJS.Signals);
}
