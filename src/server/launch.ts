// Turns an allowed exec request into the native spawn's options: the
// environment the program gets, where its file is looked for, and its fds.
// No I/O.

import type { NativeSpawnOptions } from '../binding';
import { type ExecRequest, FD_CLOSED, FD_IGNORE } from '../protocol';

/** PATH when the program's environment has none (glibc's execvp default). */
export const DEFAULT_PATH = '/bin:/usr/bin';

/** The environment as NAME=value strings; later entries win. */
export function buildEnvironment(request: ExecRequest, serverEnv: NodeJS.ProcessEnv): string[] {
  if (!request.serverEnv) return request.env;
  const merged = new Map<string, string>();
  for (const name of Object.keys(serverEnv)) {
    const value = serverEnv[name];
    if (value !== undefined) merged.set(name, value);
  }
  for (const pair of request.env) {
    const cut = pair.indexOf('=');
    merged.set(pair.slice(0, cut), pair.slice(cut + 1));
  }
  const env: string[] = [];
  for (const [name, value] of merged) env.push(`${name}=${value}`);
  return env;
}

function lookup(env: string[], name: string): string | undefined {
  const prefix = `${name}=`;
  for (let i = env.length - 1; i >= 0; i--) {
    if (env[i].startsWith(prefix)) return env[i].slice(prefix.length);
  }
  return undefined;
}

/**
 * Paths to try for `file`, as execvp(3) would: the file itself when it has a
 * slash, else each PATH entry of the program's own environment (as libuv does
 * for child_process), an empty entry meaning the current directory.
 */
export function candidatePaths(file: string, env: string[]): string[] {
  if (file.includes('/')) return [file];
  const searchPath = lookup(env, 'PATH') ?? DEFAULT_PATH;
  return searchPath.split(':').map((dir) => `${dir === '' ? '.' : dir.replace(/\/+$/, '')}/${file}`);
}

/** The program's fd map in terms of this process's fds. */
export function resolveFdMap(fdMap: number[], attached: number[], devNull: number): number[] {
  return fdMap.map((entry) => {
    if (entry === FD_IGNORE) return devNull;
    if (entry === FD_CLOSED) return -1;
    return attached[entry];
  });
}

/** The native spawn's options for a request the policy allowed. */
export function nativeSpawnOptions(
  request: ExecRequest, decision: { candidates: string[]; env: string[]; cwd: string }, attached: number[],
  devNull: number, deathSignal: number,
): NativeSpawnOptions {
  return {
    candidates: decision.candidates,
    argv: request.argv,
    env: decision.env,
    cwd: decision.cwd === '' ? null : decision.cwd,
    fdMap: resolveFdMap(request.fdMap, attached, devNull),
    newSession: request.newSession,
    deathSignal,
    uid: request.uid,
    gid: request.gid,
  };
}
