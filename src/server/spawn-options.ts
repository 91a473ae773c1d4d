// Turns an allowed exec request into the native spawn's options: where the
// file is looked for, the environment as strings, and the fds in terms of
// this process's. No I/O.

import type { NativeSpawnOptions } from '../binding';
import { type ExecRequest, FD_CLOSED, FD_IGNORE, FD_TERMINAL } from '../protocol';
import { type Environment, environmentPairs } from './environment';

/** PATH when the program's environment has none (glibc's execvp default). */
export const DEFAULT_PATH = '/bin:/usr/bin';

/**
 * Paths to try for `file`, as execvp(3) would: the file itself when it has a
 * slash, else each entry of `searchPath` (the program's own PATH, as libuv
 * uses for child_process), an empty entry meaning the current directory.
 */
export function candidatePaths(file: string, searchPath: string = DEFAULT_PATH): string[] {
  if (file.includes('/')) return [file];
  return searchPath.split(':').map((dir) => `${dir === '' ? '.' : dir.replace(/\/+$/, '')}/${file}`);
}

/** The program's fd map in terms of this process's fds. */
export function resolveFdMap(fdMap: readonly number[], attached: readonly number[], devNull: number, terminal = -1): number[] {
  return fdMap.map((entry) => {
    if (entry === FD_IGNORE) return devNull;
    if (entry === FD_CLOSED) return -1;
    if (entry === FD_TERMINAL) return terminal;
    return attached[entry];
  });
}

/** What the policy settled for one request. */
export interface SpawnDecision {
  candidates: string[];
  env: Environment;
  /** '' keeps the server's working directory. */
  cwd: string;
}

/** The native spawn's options for a request the policy allowed. */
export function nativeSpawnOptions(
  request: ExecRequest, decision: SpawnDecision, attached: readonly number[], devNull: number, deathSignal: number,
  terminal = -1,
): NativeSpawnOptions {
  return {
    candidates: decision.candidates,
    argv: request.argv,
    env: environmentPairs(decision.env),
    cwd: decision.cwd === '' ? null : decision.cwd,
    fdMap: resolveFdMap(request.fdMap, attached, devNull, terminal),
    // Every program leads a session of its own, `detached` or not: in the
    // server's session it would share the server's controlling terminal (an
    // operator's, for a server started in the foreground) and could open
    // /dev/tty, write on it and push input into it (TIOCSTI). A new session
    // has no controlling terminal. It is also a new process group, which is
    // all child_process gives a program that is not detached.
    newSession: true,
    // The pseudo-terminal of the tty option becomes the new session's
    // controlling terminal (the decoder allows FD_TERMINAL only with one).
    terminal,
    deathSignal,
    uid: request.uid,
    gid: request.gid,
  };
}

/** The FAILED reply's message for a spawn that failed on the server. */
export function spawnFailureMessage(syscall: string, code: string, request: ExecRequest): string {
  if (syscall === 'chdir' && code === 'ENOTDIR') {
    return `working directory ${JSON.stringify(request.cwd)} on the server is not a directory`;
  }
  if (syscall === 'chdir') {
    return `cannot change to the working directory ${JSON.stringify(request.cwd)} on the server: ${code}`;
  }
  return `${syscall} ${request.file}: ${code}`;
}
