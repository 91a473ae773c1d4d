// The child_process functions the preload routes, each with its remote
// counterpart, and the wrapper that decides per call: a call whose command is
// routed goes to the counterpart with the configured socket, any other call
// to the original function with its arguments untouched. A function without
// a row here is not wrapped at all.

import * as util from 'node:util';
import { remoteSpawn } from '../client/spawn';
import { remoteExec, remoteExecFile } from '../client/exec';
import { remoteSpawnSync } from '../client/spawn-sync';
import { remoteExecFileSync, remoteExecSync } from '../client/exec-sync';
import type { RegisterConfig } from './config';
import { baseName, commandWord } from './command-word';

const debug = util.debuglog('sidecar');

// The functions are called with child_process's own argument lists, which
// their remote counterparts take as they are.
type AnyFunction = (...args: any[]) => unknown;

/**
 * How a function's arguments name its program: `file` for (file, args?,
 * options?, ...) with `options.shell` possible (spawn, execFile and their
 * sync forms), `command` for (command, options?, ...) run by a shell (exec,
 * execSync).
 */
export type ArgumentShape = 'file' | 'command';

export interface Route {
  name: string;
  shape: ArgumentShape;
  remote: AnyFunction;
}

/** One row per routed function of node:child_process. fork has none: it stays local. */
export const ROUTES: readonly Route[] = [
  { name: 'spawn', shape: 'file', remote: remoteSpawn },
  { name: 'exec', shape: 'command', remote: remoteExec },
  { name: 'execFile', shape: 'file', remote: remoteExecFile },
  { name: 'spawnSync', shape: 'file', remote: remoteSpawnSync },
  { name: 'execSync', shape: 'command', remote: remoteExecSync },
  { name: 'execFileSync', shape: 'file', remote: remoteExecFileSync },
];

/** Where the options object is, or goes, in the arguments after the command. */
function optionsIndex(shape: ArgumentShape, rest: readonly unknown[]): number {
  if (shape === 'file' && (Array.isArray(rest[0]) || (rest[0] == null && rest.length > 1))) return 1;
  return 0;
}

function isOptions(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Programs that run `-c LINE` as a shell line (npm runs its scripts as `sh -c LINE`). */
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'zsh']);

/**
 * The names that decide the call (null: one that cannot be known before it
 * runs): the program's basename, and for a shell line the shell's name and
 * the line's command word. A shell line is exec's command, a command with
 * `options.shell` (run as `[file, ...args].join(' ')`, as child_process does),
 * or the arguments `-c LINE` of a shell program.
 */
export function decidingNames(shape: ArgumentShape, command: string, rest: readonly unknown[]): (string | null)[] {
  const options = rest[optionsIndex(shape, rest)];
  const shell = isOptions(options) ? options.shell : undefined;
  if (shape === 'command') return [typeof shell === 'string' ? baseName(shell) : 'sh', commandWord(command)];
  const args = Array.isArray(rest[0]) ? rest[0] as unknown[] : [];
  if (shell) {
    return [typeof shell === 'string' ? baseName(shell) : 'sh', commandWord([command, ...args].join(' '))];
  }
  const name = baseName(command) || null;
  if (name !== null && SHELLS.has(name) && args[0] === '-c' && typeof args[1] === 'string') {
    return [name, commandWord(args[1])];
  }
  return [name];
}

/**
 * The options a routed call passes on: the socket added, and `serialization`
 * left out unless `stdio` asks for an IPC channel. child_process ignores it
 * without one, and tools set it always (execa does); remoteSpawn refuses it,
 * since a remote program has no IPC channel.
 */
function routedOptions(options: Record<string, unknown> | null, socket: string): Record<string, unknown> {
  const routed: Record<string, unknown> = { connect: socket, ...options };
  const { stdio } = routed;
  if ('serialization' in routed && !(stdio === 'ipc' || (Array.isArray(stdio) && stdio.includes('ipc')))) delete routed.serialization;
  return routed;
}

/** The arguments with the socket added to the options (a copy; the caller's object is not changed). */
export function withSocket(shape: ArgumentShape, rest: readonly unknown[], socket: string): unknown[] {
  const args = rest.slice();
  const index = optionsIndex(shape, args);
  const options = args[index];
  if (isOptions(options)) args[index] = routedOptions(options, socket);
  else if (options == null && index < args.length) args[index] = routedOptions(null, socket);
  else args.splice(index, 0, routedOptions(null, socket));
  return args;
}

/** Whether any of `names` (null: unknown) is routed under `config`. */
export function isRouted(config: RegisterConfig, names: readonly (string | null)[]): boolean {
  const { commands } = config;
  if (commands === null) return true;
  return names.some((name) => name !== null && commands.has(name));
}

/**
 * True while an original function runs for a call decided local: child_process's
 * exec calls its own module's execFile, which is a wrapper too, and the call
 * is decided once.
 */
let passingThrough = false;

function passThrough(original: AnyFunction, self: unknown, args: unknown[]): unknown {
  if (passingThrough) return Reflect.apply(original, self, args);
  passingThrough = true;
  try {
    return Reflect.apply(original, self, args);
  } finally {
    passingThrough = false;
  }
}

/** The wrapper for one row: the original's name, and its util.promisify form when it has one. */
export function wrapFunction(route: Route, original: AnyFunction, config: RegisterConfig): AnyFunction {
  const choose = (command: unknown, rest: unknown[]): unknown[] | null => {
    if (passingThrough || typeof command !== 'string') return null; // the original throws Node's own error
    const names = decidingNames(route.shape, command, rest);
    const routed = isRouted(config, names);
    if (debug.enabled) debug('register: %s %j %j -> %s', route.name, command, names, routed ? `routed to ${config.socket}` : 'local');
    return routed ? withSocket(route.shape, rest, config.socket) : null;
  };
  const wrapper = function (this: unknown, command: unknown, ...rest: unknown[]): unknown {
    const routedArgs = choose(command, rest);
    if (routedArgs === null) return passThrough(original, this, [command, ...rest]);
    return route.remote(command, ...routedArgs);
  };
  Object.defineProperty(wrapper, 'name', { value: original.name });
  const originalPromised = (original as unknown as Record<symbol, unknown>)[util.promisify.custom] as AnyFunction | undefined;
  const remotePromised = (route.remote as unknown as Record<symbol, unknown>)[util.promisify.custom] as AnyFunction | undefined;
  if (originalPromised !== undefined && remotePromised !== undefined) {
    Object.defineProperty(wrapper, util.promisify.custom, {
      enumerable: false,
      value: function (this: unknown, command: unknown, ...rest: unknown[]): unknown {
        const routedArgs = choose(command, rest);
        if (routedArgs === null) return passThrough(originalPromised, this, [command, ...rest]);
        return remotePromised(command, ...routedArgs);
      },
    });
  }
  return wrapper;
}
