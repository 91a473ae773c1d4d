// Errors only a remote spawn can have, and the errors made from a server's
// answer. Each is built from facts (a native error's errno and syscall, a
// FAILED reply's fields), never parsed back out of a message.

import { constants } from 'node:os';
import type { FailedReply } from '../protocol';
import type { SidecarErrorCode } from '../../types/index';
import { SidecarError } from './codes';
import { type NativeError, errnoException, errnoNumber, isNativeError } from './system';

/**
 * Spawn errors that child_process reports through 'error'; it throws every
 * other one from spawn() itself (lib/internal/child_process.js).
 */
const EMITTED_SPAWN_ERRORS = new Set(['EACCES', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT']);

/** The server's steps whose FAILED message the spawn error carries after Node's words. */
const SERVER_DETAIL_STEPS = new Set(['chdir', 'interpreter']);

/** Why connect(2) to a socket path fails, in words. */
const CONNECT_FAILURES: Record<string, string> = {
  ENOENT: 'no such socket file',
  ECONNREFUSED: 'nothing is listening on it',
  EACCES: 'permission denied',
  EAGAIN: 'the server is too busy to accept',
  ENOTSOCK: 'not a socket',
  ENAMETOOLONG: 'the path is longer than a unix socket address allows',
};

/** ERR_SIDECAR_UNSUPPORTED for an option that cannot (yet) work remotely. */
export function unsupportedOption(name: string, why: string): SidecarError {
  return new SidecarError('ERR_SIDECAR_UNSUPPORTED', `The option "${name}" is not supported by sidecar-exec: ${why}`);
}

/** ERR_SIDECAR_NO_SOCKET: nothing names the server. */
export function noSocket(): SidecarError {
  return new SidecarError('ERR_SIDECAR_NO_SOCKET',
    'No sidecar server socket: pass options.connect or set the SIDECAR_SOCKET environment variable');
}

/**
 * ERR_SIDECAR_CONNECT from the error connect(2) gave. `notSocket` is what
 * the path is when it is no socket at all ('a regular file', 'a directory'):
 * connect(2) refuses such a path as it refuses a dead socket (ECONNREFUSED),
 * so the client looks (client/socket-path.ts) and the error says ENOTSOCK,
 * the real cause. A stream socket answers EPROTOTYPE: some other server.
 */
export function connectError(error: unknown, socket: string, notSocket?: string): Error {
  if (!isNativeError(error)) return error as Error;
  let code = error.code;
  let why = CONNECT_FAILURES[code];
  if (code === 'ECONNREFUSED' && notSocket !== undefined) {
    code = 'ENOTSOCK';
    why = `${socket} is not a socket: it is ${notSocket}`;
  } else if (code === 'EPROTOTYPE') {
    why = `${socket} is a stream socket, not a sidecar server`;
  }
  const errno = code === error.code ? error.errno : errnoNumber(code) ?? error.errno;
  return new SidecarError('ERR_SIDECAR_CONNECT',
    `cannot connect to the sidecar server at ${socket}: ${code}${why !== undefined ? ` (${why})` : ''}`,
    { socket, errno: -Math.abs(errno), syscall: 'connect' }, error);
}

/**
 * ERR_SIDECAR_UNSAFE_DIRECTORY: listen() refused a socket path whose
 * directory (or a directory above it) another user controls.
 */
export function unsafeDirectory(socket: string, directory: string, reason: string, euid: number): SidecarError {
  return new SidecarError('ERR_SIDECAR_UNSAFE_DIRECTORY',
    `listen ${socket}: ${reason}, so another user could move the socket aside and listen in its place `
    + `(use a directory that only root or uid ${euid} can change, or pass trustDirectory: true)`,
    { socket, path: directory, syscall: 'listen' });
}

/**
 * ERR_SIDECAR_CONNECT (EPERM) for a server that is not the one expectUid
 * names: nothing of the request was sent.
 */
export function unexpectedServer(socket: string, why: string): SidecarError {
  return new SidecarError('ERR_SIDECAR_CONNECT', `cannot connect to the sidecar server at ${socket}: EPERM (${why})`,
    { socket, errno: -1, syscall: 'connect' });
}

/** ERR_SIDECAR_REQUEST_TOO_LARGE, before anything travels. */
export function requestTooLarge(file: string, socket: string, what: string): SidecarError {
  return new SidecarError('ERR_SIDECAR_REQUEST_TOO_LARGE',
    `spawn ${file}: the request is too large for the sidecar protocol (${what})`,
    { socket, errno: -7, syscall: `spawn ${file}` });
}

/** ERR_SIDECAR_DISCONNECTED: the server hung up before `awaited` (e.g. "the program's exit was reported"). */
export function disconnected(socket: string, awaited: string, cause?: NativeError): SidecarError {
  return new SidecarError('ERR_SIDECAR_DISCONNECTED',
    `connection to the sidecar server at ${socket} ended before ${awaited}${cause !== undefined ? ` (${cause.code})` : ''}`,
    { socket }, cause);
}

/**
 * ERR_SIDECAR_START_TIMEOUT: no answer to the request within startTimeout;
 * the request was given up (errno ETIMEDOUT, as for the close code).
 */
export function startTimedOut(file: string, socket: string, ms: number): SidecarError {
  return new SidecarError('ERR_SIDECAR_START_TIMEOUT',
    `spawn ${file}: the sidecar server at ${socket} did not answer within startTimeout (${ms} ms); the request was given up`,
    { socket, errno: -constants.errno.ETIMEDOUT, syscall: `spawn ${file}` });
}

/** ERR_SIDECAR_PROTOCOL for a reply that breaks the protocol. */
export function malformedReply(socket: string, why: string): SidecarError {
  return new SidecarError('ERR_SIDECAR_PROTOCOL', `sidecar server at ${socket} sent a malformed message: ${why}`, { socket });
}

/** True for a spawn error child_process throws from spawn() rather than emitting it. */
export function isThrownBySpawn(error: Error & { code?: unknown }): boolean {
  return !(error instanceof SidecarError) && !EMITTED_SPAWN_ERRORS.has(String(error.code));
}

/** What a FAILED reply answered: a spawn of `file` (with its spawnargs), or an admin request. */
export type FailedRequest =
  | { kind: 'spawn' | 'spawnSync'; socket: string; file: string; spawnargs: string[] }
  | { kind: 'admin'; socket: string };

/**
 * The error for a server's FAILED reply. Our own codes stay ours; an errno
 * of a spawn takes child_process's shape ('spawn <file> ENOENT' with path and
 * spawnargs for the ones it emits, 'spawn EPERM' for the ones it throws). The
 * server's step ('chdir', 'execve', 'authorize'...) is kept as a
 * non-enumerable `serverSyscall`, so that callers such as the CLI decide by
 * fact while the error's own keys stay child_process's.
 */
export function failedReplyError(failed: FailedReply, request: FailedRequest): Error & { code?: string } {
  const error = replyError(failed, request);
  return Object.defineProperty(error, 'serverSyscall', { value: failed.syscall, configurable: true, writable: true });
}

function replyError(failed: FailedReply, request: FailedRequest): Error & { code?: string } {
  const { socket } = request;
  const operation = request.kind === 'admin' ? failed.syscall : `${request.kind} ${request.file}`;
  if (request.kind === 'admin' || failed.code.startsWith('ERR_SIDECAR_')) {
    // A code this version does not know (a newer server's) still travels as given.
    const code = failed.code.startsWith('ERR_SIDECAR_') ? failed.code as SidecarErrorCode : 'ERR_SIDECAR_PROTOCOL';
    return new SidecarError(code,
      `${operation}: ${failed.message} (sidecar server at ${socket})`,
      { socket, errno: -Math.abs(failed.errno), syscall: operation });
  }
  const errno = errnoNumber(failed.code) ?? failed.errno;
  // Node words every spawn failure as 'spawn <file> <CODE>'. Two cases are
  // worth saying more, since the code alone points elsewhere: the working
  // directory on the server (missing, a file, not searchable), and a #! line
  // naming a missing interpreter (ENOENT for a file that exists).
  const detail = SERVER_DETAIL_STEPS.has(failed.syscall) ? failed.message : undefined;
  // spawnSync reports every errno in one shape.
  if (request.kind === 'spawnSync') return syncSpawnError(errno, request.file, request.spawnargs, detail);
  if (!EMITTED_SPAWN_ERRORS.has(failed.code)) {
    // Node's shape for the errors spawn() throws: 'spawn <CODE>', no path.
    return errnoException(errno, 'spawn', detail);
  }
  return Object.assign(errnoException(errno, operation, detail), { path: request.file, spawnargs: request.spawnargs.slice(1) });
}

/**
 * The error of a sync spawn that failed, ran out of time (ETIMEDOUT) or of
 * maxBuffer (ENOBUFS), as child_process.spawnSync shapes it:
 * 'spawnSync <file> <CODE>' with path and spawnargs.
 */
export function syncSpawnError(errno: number, file: string, spawnargs: string[], detail?: string): Error {
  return Object.assign(errnoException(errno, `spawnSync ${file}`, detail), { path: file, spawnargs: spawnargs.slice(1) });
}

/** ERR_SIDECAR_UNSUPPORTED for a sync call to a server that this very process runs: it would wait for itself. */
export function syncToOwnServer(socket: string): SidecarError {
  return new SidecarError('ERR_SIDECAR_UNSUPPORTED',
    `a sync call cannot be served by the sidecar server at ${socket}: it runs in this process, whose event loop the call blocks`,
    { socket });
}
