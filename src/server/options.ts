// createServer's options: defaults in one place, validated once.

import * as os from 'node:os';
import type { AuthorizeFunction, ContainmentMode, ServerOptions } from '../../types/index';
import { invalidArgType, invalidArgValue } from '../errors';
import { MAX_FDS, MAX_REQUEST_BYTES } from '../protocol';
import { signalOption } from '../signals';
import { integerOption, locatedNames, optionalBoolean, validateFunction } from '../validate';

export interface NormalizedServerOptions {
  mode: number;
  group: number | undefined;
  trustDirectory: boolean;
  allowStop: boolean;
  backlog: number;
  authorize: AuthorizeFunction | undefined;
  allowUids: ReadonlySet<number> | undefined;
  allowGids: ReadonlySet<number> | undefined;
  allowCommands: ReadonlySet<string> | undefined;
  allowEnv: ReadonlySet<string> | undefined;
  callerEnv: ReadonlySet<string>;
  allowSetuid: { uids: ReadonlySet<number>; gids: ReadonlySet<number> };
  maxConcurrent: number;
  maxQueued: number;
  queueTimeout: number;
  maxConnections: number;
  maxConnectionsPerUid: number;
  maxRequestBytes: number;
  maxBufferedBytes: number;
  maxFds: number;
  handshakeTimeout: number;
  maxRuntime: number;
  killSignal: number;
  disconnectSignal: number;
  disconnectGrace: number;
  closeTimeout: number;
  allowDetached: boolean;
  containment: ContainmentMode;
}

/** The defaults, documented in docs/api.md. */
export const SERVER_DEFAULTS = {
  mode: 0o600,
  backlog: 511,
  maxConcurrent: Infinity,
  maxQueued: 1024,
  queueTimeout: 0,
  maxConnections: 1024,
  maxConnectionsPerUid: 64,
  maxRequestBytes: MAX_REQUEST_BYTES,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxFds: MAX_FDS,
  handshakeTimeout: 10_000,
  maxRuntime: 0,
  closeTimeout: Infinity,
  disconnectGrace: 2000,
  containment: 'auto',
} as const;

const CONTAINMENT_MODES: readonly ContainmentMode[] = ['auto', 'cgroup', 'subreaper', 'none'];

function containmentOption(value: unknown): ContainmentMode {
  if (value === undefined) return SERVER_DEFAULTS.containment;
  if (!CONTAINMENT_MODES.includes(value as ContainmentMode)) {
    throw invalidArgValue('options.containment', value, `must be one of ${CONTAINMENT_MODES.map((mode) => `'${mode}'`).join(', ')}`);
  }
  return value as ContainmentMode;
}

function integer(options: Record<string, unknown>, name: string, fallback: number, min: number, max: number, allowInfinity: boolean): number {
  return integerOption(options[name], `options.${name}`, fallback, min, max, allowInfinity);
}

function idSet(options: Record<string, unknown>, name: string): Set<number> | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((id) => Number.isInteger(id) && id >= 0)) {
    throw invalidArgType(`options.${name}`, 'an array of non-negative integers', value);
  }
  return new Set(value as number[]);
}

function nameSet(options: Record<string, unknown>, name: string): Set<string> | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string' && entry.length > 0 && !entry.includes('\0'))) {
    throw invalidArgType(`options.${name}`, 'an array of non-empty strings', value);
  }
  return new Set(value as string[]);
}

function signal(options: Record<string, unknown>, name: string, fallback: number): number {
  // Unlike spawn's killSignal, null is not "absent" here.
  if (options[name] === null) throw invalidArgType(`options.${name}`, 'one of type string or number', null);
  return signalOption(options[name], `options.${name}`, fallback);
}

export function normalizeServerOptions(input: ServerOptions | undefined): NormalizedServerOptions {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object') throw invalidArgType('options', 'of type object', input);
  const options = input as Record<string, unknown>;
  if (options.authorize !== undefined) validateFunction(options.authorize, 'options.authorize');
  const allowCommands = nameSet(options, 'allowCommands');
  for (const command of allowCommands ?? []) {
    if (command.includes('/') && !command.startsWith('/')) {
      throw invalidArgValue('options.allowCommands', command, 'must hold names or absolute paths');
    }
  }
  const setuid = options.allowSetuid as { uids?: unknown; gids?: unknown } | undefined;
  if (setuid !== undefined && (setuid === null || typeof setuid !== 'object')) {
    throw invalidArgType('options.allowSetuid', 'of type object', setuid);
  }
  let group = options.group;
  if (group !== undefined) {
    if (typeof group !== 'number' || !Number.isInteger(group) || group < 0) {
      throw invalidArgType('options.group', 'a non-negative integer (a gid)', group);
    }
  }
  const maxRequestBytes = integer(options, 'maxRequestBytes', SERVER_DEFAULTS.maxRequestBytes, 1024, MAX_REQUEST_BYTES, false);
  const maxBufferedBytes = integer(options, 'maxBufferedBytes', SERVER_DEFAULTS.maxBufferedBytes, 1, 2 ** 52, true);
  if (maxBufferedBytes < maxRequestBytes) {
    // A request of an allowed size could never be taken whole.
    throw invalidArgValue('options.maxBufferedBytes', maxBufferedBytes, `must be at least options.maxRequestBytes (${maxRequestBytes})`);
  }
  const normalized: NormalizedServerOptions = Object.assign(Object.create(null), {
    mode: integer(options, 'mode', SERVER_DEFAULTS.mode, 0, 0o777, false),
    group: group as number | undefined,
    trustDirectory: optionalBoolean(options.trustDirectory, 'options.trustDirectory', false),
    allowStop: optionalBoolean(options.allowStop, 'options.allowStop', true),
    backlog: integer(options, 'backlog', SERVER_DEFAULTS.backlog, 1, 65535, false),
    authorize: options.authorize as AuthorizeFunction | undefined,
    allowUids: idSet(options, 'allowUids'),
    allowGids: idSet(options, 'allowGids'),
    allowCommands,
    allowEnv: nameSet(options, 'allowEnv'),
    callerEnv: locatedNames(options.callerEnv, 'options.callerEnv'),
    allowSetuid: {
      uids: idSet((setuid ?? {}) as Record<string, unknown>, 'uids') ?? new Set<number>(),
      gids: idSet((setuid ?? {}) as Record<string, unknown>, 'gids') ?? new Set<number>(),
    },
    maxConcurrent: integer(options, 'maxConcurrent', SERVER_DEFAULTS.maxConcurrent, 1, 2 ** 31, true),
    maxQueued: integer(options, 'maxQueued', SERVER_DEFAULTS.maxQueued, 0, 2 ** 31, true),
    queueTimeout: integer(options, 'queueTimeout', SERVER_DEFAULTS.queueTimeout, 0, 2 ** 31, false),
    maxConnections: integer(options, 'maxConnections', SERVER_DEFAULTS.maxConnections, 1, 2 ** 31, true),
    maxConnectionsPerUid: integer(options, 'maxConnectionsPerUid', SERVER_DEFAULTS.maxConnectionsPerUid, 1, 2 ** 31, true),
    maxRequestBytes,
    maxBufferedBytes,
    maxFds: integer(options, 'maxFds', SERVER_DEFAULTS.maxFds, 0, MAX_FDS, false),
    handshakeTimeout: integer(options, 'handshakeTimeout', SERVER_DEFAULTS.handshakeTimeout, 0, 2 ** 31, false),
    maxRuntime: integer(options, 'maxRuntime', SERVER_DEFAULTS.maxRuntime, 0, 2 ** 31, false),
    killSignal: signal(options, 'killSignal', os.constants.signals.SIGTERM),
    disconnectSignal: signal(options, 'disconnectSignal', os.constants.signals.SIGKILL),
    disconnectGrace: integer(options, 'disconnectGrace', SERVER_DEFAULTS.disconnectGrace, 0, 2 ** 31, false),
    closeTimeout: integer(options, 'closeTimeout', SERVER_DEFAULTS.closeTimeout, 0, 2 ** 31, true),
    allowDetached: optionalBoolean(options.allowDetached, 'options.allowDetached', true),
    containment: containmentOption(options.containment),
  });
  return normalized;
}
