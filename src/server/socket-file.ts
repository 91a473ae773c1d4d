// The listening socket's file. The socket is bound, given its group and mode
// in a private directory of this server's (0700, made next to the final path
// so that they share a filesystem), reached through /proc/self/fd so that no
// name in a shared directory is ever followed, and only then linked into
// place with link(2), which creates a name and changes no other file. So a
// user who can write to the socket's directory cannot turn the server's
// chmod or chown onto a file of their choosing by swapping a symlink in (they
// only ever see a finished socket appear). A stale socket that nothing
// listens on is replaced, never any other file, and close removes the file
// only if it is still the one this server made. Before any of it, the
// directory is checked (./trusted-directory.ts): in a directory another user
// can change, they could not touch our files, but they could move the
// finished socket aside and listen in its place.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { NativeBinding } from '../binding';
import { errnoException, errnoNumber, isNativeError, unsafeDirectory } from '../errors';
import { notSocketKind } from '../file-kind';
import { untrustedDirectory } from './trusted-directory';

/** A listening socket and the identity of its file. */
export interface SocketFile {
  path: string;
  fd: number;
  dev: number;
  ino: number;
}

export interface SocketFileOptions {
  mode: number;
  group: number | undefined;
  backlog: number;
  /** Listen even where another user controls the directory (the operator's explicit choice). */
  trustDirectory: boolean;
}

/** The socket's name inside the private directory. */
const PRIVATE_NAME = 's';

/** sizeof(sockaddr_un.sun_path): a longer path (with its NUL) cannot be connected to. */
const SUN_PATH_BYTES = 108;

/** Listens at `path`. Throws Node-shaped listen errors; leaves nothing behind on failure. */
export function createSocketFile(binding: NativeBinding, path: string, options: SocketFileOptions): SocketFile {
  // Bound elsewhere and linked, the path itself never meets bind(2)'s limit:
  // check it here, or clients could not connect to it.
  if (Buffer.byteLength(path) + 1 > SUN_PATH_BYTES) throw toListenError({ code: 'ENAMETOOLONG' }, path);
  if (!options.trustDirectory) checkDirectory(path);
  const workshop = openPrivateDirectory(path);
  let fd = -1;
  try {
    const inside = `/proc/self/fd/${workshop.fd}/${PRIVATE_NAME}`;
    // bind(2) and chmod(2) on the name inside the private directory, through
    // the fd: no one else can add, swap or follow a name there.
    fd = listen(binding, inside, options.group === undefined ? options.mode : 0o600, options.backlog, path);
    if (options.group !== undefined) {
      // The group first, then the mode: no other group can connect in between.
      fs.chownSync(inside, -1, options.group);
      fs.chmodSync(inside, options.mode);
    }
    const identity = fs.lstatSync(inside);
    linkIntoPlace(binding, inside, path);
    return { path, fd, dev: identity.dev, ino: identity.ino };
  } catch (error) {
    if (fd >= 0) binding.close(fd);
    throw error;
  } finally {
    workshop.remove();
  }
}

/** Removes the file if it is still the one we created (someone may have replaced it). */
export function removeSocketFile(file: SocketFile): void {
  try {
    const stat = fs.lstatSync(file.path);
    if (stat.dev === file.dev && stat.ino === file.ino) fs.unlinkSync(file.path);
  } catch {
    // Already removed by someone else: nothing of ours to clean.
  }
}

/** Throws ERR_SIDECAR_UNSAFE_DIRECTORY when another user controls the socket's directory or one above it. */
function checkDirectory(path: string): void {
  const euid = process.geteuid?.() ?? 0;
  let found;
  try {
    found = untrustedDirectory(nodePath.dirname(path), euid);
  } catch (error) {
    throw toListenError(error, path);
  }
  if (found !== undefined) throw unsafeDirectory(path, found.path, found.reason, euid);
}

/**
 * A new 0700 directory next to `path`, opened (never following a symlink)
 * and checked to be the one we made, and a way to remove it with whatever
 * is left inside.
 */
function openPrivateDirectory(path: string): { fd: number; remove(): void } {
  let made: string;
  try {
    made = fs.mkdtempSync(nodePath.join(nodePath.dirname(path), '.sidecar-listen-'));
  } catch (error) {
    throw toListenError(error, path);
  }
  let fd: number;
  try {
    fd = fs.openSync(made, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    // Its name was swapped for something else in the moment since mkdtemp.
    throw toListenError(error, path);
  }
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  const euid = process.geteuid?.() ?? stat.uid;
  if (!stat.isDirectory() || stat.uid !== euid || (stat.mode & 0o077) !== 0) {
    fs.closeSync(fd);
    throw Object.assign(errnoException(1, 'listen', `the private directory ${made} was replaced`), { address: path });
  }
  return {
    fd,
    remove() {
      fs.rmSync(`/proc/self/fd/${fd}/${PRIVATE_NAME}`, { force: true });
      fs.closeSync(fd);
      try {
        fs.rmdirSync(made);
      } catch {
        // Its name was moved by someone who can write to the directory: the
        // empty directory left behind is harmless.
      }
    },
  };
}

function listen(binding: NativeBinding, inside: string, mode: number, backlog: number, path: string): number {
  try {
    return binding.listen(inside, mode, backlog);
  } catch (error) {
    throw toListenError(error, path);
  }
}

/** link(2) of the finished socket at `path`, replacing a stale socket that nothing listens on any more. */
function linkIntoPlace(binding: NativeBinding, inside: string, path: string): void {
  try {
    fs.linkSync(inside, path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !isStaleSocket(binding, path)) {
      throw toListenError(error, path, 'EADDRINUSE', notSocketDetail(path));
    }
  }
  fs.unlinkSync(path);
  try {
    fs.linkSync(inside, path);
  } catch (error) {
    throw toListenError(error, path, 'EADDRINUSE');
  }
}

/**
 * For a name taken by a file that is no socket, what to say after 'listen
 * EADDRINUSE <path>': that code alone reads as "a server is running there".
 */
function notSocketDetail(path: string): string | undefined {
  const kind = notSocketKind(path, false);
  return kind === undefined ? undefined : `${path} is ${kind}, not a socket; a server replaces only a stale socket, never another file`;
}

function isStaleSocket(binding: NativeBinding, path: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch {
    return false;
  }
  if (!stat.isSocket()) return false; // never remove a file that is not a socket
  try {
    binding.close(binding.connect(path));
    return false; // someone listens: a live server
  } catch (error) {
    return isNativeError(error) && error.code === 'ECONNREFUSED';
  }
}

/**
 * A listen error in Node's shape ('listen EADDRINUSE <path>', with address).
 * `existing`: the code to report when the name is already taken (link(2)
 * says EEXIST where bind(2) said EADDRINUSE).
 */
function toListenError(error: unknown, path: string, existing?: string, detail?: string): Error {
  const facts = error as { errno?: unknown; code?: unknown; syscall?: unknown };
  if (typeof facts.code !== 'string') return error as Error;
  const code = facts.code === 'EEXIST' && existing !== undefined ? existing : facts.code;
  const errno = errnoNumber(code) ?? Math.abs(Number(facts.errno) || 5);
  const wrapped = errnoException(errno, 'listen');
  wrapped.message = `${wrapped.message} ${path}${code === existing && detail !== undefined ? `: ${detail}` : ''}`;
  return Object.assign(wrapped, { address: path });
}
