// Turns a validated exec request into the native spawn's options: the
// environment the program gets, where its file is looked for, and its fds.
// Policy only; no I/O.

import type { NativeSpawnOptions } from '../binding';
import { type ExecRequest, FD_CLOSED, FD_IGNORE, NO_ID } from '../protocol';

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

/**
 * Whether the server lets the request run as the ids it asks for. Without a
 * policy that allows more, only the server's own ids are allowed: exactly
 * what an unprivileged child_process caller may do.
 */
export function credentialsAllowed(request: ExecRequest): boolean {
  return (request.uid === NO_ID || request.uid === process.geteuid?.()) &&
    (request.gid === NO_ID || request.gid === process.getegid?.());
}

export function nativeSpawnOptions(
  request: ExecRequest, attached: number[], devNull: number, serverEnv: NodeJS.ProcessEnv, deathSignal: number,
): NativeSpawnOptions {
  const env = buildEnvironment(request, serverEnv);
  return {
    candidates: candidatePaths(request.file, env),
    argv: request.argv,
    env,
    cwd: request.cwd === '' ? null : request.cwd,
    fdMap: resolveFdMap(request.fdMap, attached, devNull),
    newSession: request.newSession,
    deathSignal,
    uid: request.uid,
    gid: request.gid,
  };
}
