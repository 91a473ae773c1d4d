// remoteExecSync() and remoteExecFileSync(): child_process.execSync and
// execFileSync over remoteSpawnSync, with Node's stderr echo and its error
// shapes (lib/child_process.js execSync, execFileSync, checkExecSyncError).

import type { RemoteExecFileSyncOptions, RemoteExecSyncOptions } from '../../types/index';
import { invalidArgType } from '../errors';
import { validateNoNul } from '../validate';
import { normalizeExecFileArgs } from './exec';
import { type SyncResult, remoteSpawnSync } from './spawn-sync';

type Output = string | Buffer;
type Result = SyncResult;

/** The error a sync exec throws, or undefined: the spawn's error, or 'Command failed' for a status other than 0. */
function checkExecSyncError(result: Result, args: string[] | undefined, command?: string): Error | undefined {
  if (result.error !== undefined) {
    // child_process lays the whole result over its error, `error` included.
    return Object.assign(result.error, result);
  }
  if (result.status === 0) return undefined;
  let message = `Command failed: ${command || (args ?? []).join(' ')}`;
  if (result.stderr && result.stderr.length > 0) message += `\n${result.stderr.toString()}`;
  return Object.assign(new Error(message), result);
}

/** What stdout a caller gets back, after the stderr echo of a call that gave no stdio. */
function finish(result: Result, inheritStderr: boolean, error: Error | undefined): Output {
  // As child_process: with no stdio option, stderr is piped and then written to ours.
  if (inheritStderr && result.stderr) process.stderr.write(result.stderr);
  if (error !== undefined) throw error;
  return result.stdout as Output;
}

/** Runs `command` in the server's shell and returns its stdout, as child_process.execSync. */
export function remoteExecSync(command: string, options?: RemoteExecSyncOptions): Output {
  if (typeof command !== 'string') throw invalidArgType('command', 'of type string', command);
  validateNoNul(command, 'command');
  const opts: Record<string, unknown> = { ...(options as Record<string, unknown> | undefined) };
  opts.shell = typeof opts.shell === 'string' ? opts.shell : true;
  const inheritStderr = !opts.stdio;
  const result = remoteSpawnSync(command, opts);
  return finish(result, inheritStderr, checkExecSyncError(result, undefined, command));
}

/** Runs `file` with `args` on the server and returns its stdout, as child_process.execFileSync. */
export function remoteExecFileSync(file: string, args?: readonly string[] | RemoteExecFileSyncOptions | null,
  options?: RemoteExecFileSyncOptions | null): Output {
  const normalized = normalizeExecFileArgs(file, args, options, undefined);
  const opts = normalized.options;
  if (opts.argv0 !== undefined && opts.argv0 !== null) {
    if (typeof opts.argv0 !== 'string') throw invalidArgType('options.argv0', 'of type string', opts.argv0);
    validateNoNul(opts.argv0, 'options.argv0');
  }
  const inheritStderr = !(opts as RemoteExecFileSyncOptions).stdio;
  const result = remoteSpawnSync(normalized.file, normalized.args, opts as RemoteExecFileSyncOptions);
  const errorArgs = [typeof opts.argv0 === 'string' && opts.argv0 !== '' ? opts.argv0 : normalized.file, ...normalized.args];
  return finish(result, inheritStderr, checkExecSyncError(result, errorArgs));
}
