// createClient(): an object shaped like the child_process module, bound to
// one server and to default options, for tools that take a `spawn` function
// or a whole child_process-like module.

import type { RemoteClientOptions, RemoteSpawnOptions } from '../../types/index';
import type { RemoteChildProcess } from './child-process';
import { invalidArgType } from '../errors';
import { definePromisified, remoteExec, remoteExecFile } from './exec';
import { remoteSpawn } from './spawn';
import { remoteSpawnSync } from './spawn-sync';
import { remoteExecFileSync, remoteExecSync } from './exec-sync';
import { remoteKill } from './pids';
import { resolveSocketPath } from './spawn-options';

type Options = Record<string, unknown>;

/** The caller's options laid over the client's defaults. */
function withDefaults(defaults: Options, options: unknown): Options {
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgType('options', 'of type object', options);
  }
  return { ...defaults, ...(options as Options | undefined) };
}

/**
 * The bound client as implemented. The declarations (types/index.d.ts
 * RemoteClient) give its functions child_process's overloads; src/contract.ts
 * checks that both take the same widest calls.
 */
export interface BoundClient {
  readonly connect: string;
  spawn(command: string, args?: unknown, options?: unknown): RemoteChildProcess;
  exec(command: string, options?: unknown, callback?: unknown): RemoteChildProcess;
  execFile(file: string, ...rest: unknown[]): RemoteChildProcess;
  spawnSync(command: string, args?: unknown, options?: unknown): ReturnType<typeof remoteSpawnSync>;
  execSync(command: string, options?: unknown): string | Buffer;
  execFileSync(file: string, args?: unknown, options?: unknown): string | Buffer;
  kill: typeof remoteKill;
}

/** A child_process-like object bound to one server and default options. */
export function createClient(clientOptions: RemoteClientOptions = {}): BoundClient {
  if (clientOptions === null || typeof clientOptions !== 'object') {
    throw invalidArgType('options', 'of type object', clientOptions);
  }
  // Resolve now, so that a client without a socket fails where it is made.
  const defaults: Options = { ...clientOptions, connect: resolveSocketPath(clientOptions.connect) };

  function spawn(command: string, args?: unknown, options?: unknown) {
    if (Array.isArray(args) || args === undefined || args === null) {
      return remoteSpawn(command, args as string[] | undefined, withDefaults(defaults, options) as RemoteSpawnOptions);
    }
    return remoteSpawn(command, withDefaults(defaults, args) as RemoteSpawnOptions);
  }

  function execFile(file: string, ...rest: unknown[]) {
    // Find where options sit (or would sit) in execFile's flexible signature.
    const [first, second, third] = rest;
    if (Array.isArray(first) || first === undefined || first === null) {
      if (typeof second === 'function') return remoteExecFile(file, first ?? [], { ...defaults }, second);
      return remoteExecFile(file, first ?? [], withDefaults(defaults, second), third);
    }
    if (typeof first === 'function') return remoteExecFile(file, [], { ...defaults }, first);
    return remoteExecFile(file, [], withDefaults(defaults, first), second);
  }

  function exec(command: string, options?: unknown, callback?: unknown) {
    if (typeof options === 'function') return remoteExec(command, { ...defaults }, options);
    return remoteExec(command, withDefaults(defaults, options), callback);
  }

  // The sync calls take options where spawn and execFile do, without callbacks.
  function spawnSync(command: string, args?: unknown, options?: unknown) {
    if (Array.isArray(args) || args === undefined || args === null) {
      return remoteSpawnSync(command, args as string[] | undefined, withDefaults(defaults, options));
    }
    return remoteSpawnSync(command, withDefaults(defaults, args));
  }

  function execFileSync(file: string, args?: unknown, options?: unknown) {
    if (Array.isArray(args) || args === undefined || args === null) {
      return remoteExecFileSync(file, args as string[] | undefined, withDefaults(defaults, options));
    }
    return remoteExecFileSync(file, withDefaults(defaults, args));
  }

  return {
    spawn,
    spawnSync,
    execSync: (command: string, options?: unknown) => remoteExecSync(command, withDefaults(defaults, options)),
    execFileSync,
    exec: definePromisified(exec),
    execFile: definePromisified(execFile),
    kill: remoteKill,
    connect: defaults.connect as string,
  };
}
