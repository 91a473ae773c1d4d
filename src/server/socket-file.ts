// The listening socket's file: create it (replacing a stale socket that
// nothing listens on, never any other file), give it its group and mode, and
// remove it on close only if it is still the file this server created.

import * as fs from 'node:fs';
import type { NativeBinding } from '../binding';
import { errnoException, isNativeError } from '../errors';

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
}

/** Listens at `path`. Throws Node-shaped listen errors; leaves nothing behind on failure. */
export function createSocketFile(binding: NativeBinding, path: string, options: SocketFileOptions): SocketFile {
  const fd = listenReplacingStale(binding, path, options);
  try {
    const stat = fs.statSync(path);
    return { path, fd, dev: stat.dev, ino: stat.ino };
  } catch (error) {
    binding.close(fd);
    fs.rmSync(path, { force: true });
    throw error;
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

/** listen(), replacing a socket file that nothing listens on any more, then the group and mode. */
function listenReplacingStale(binding: NativeBinding, path: string, options: SocketFileOptions): number {
  const { group, mode } = options;
  // With a group, the file is made 0600 first: the group is set before it is
  // opened up, so that no other group can connect in between.
  const fd = listenOrReplace(binding, path, group === undefined ? mode : 0o600, options.backlog);
  if (group !== undefined) {
    try {
      fs.chownSync(path, -1, group);
      fs.chmodSync(path, mode);
    } catch (error) {
      binding.close(fd);
      fs.rmSync(path, { force: true });
      throw error;
    }
  }
  return fd;
}

function listenOrReplace(binding: NativeBinding, path: string, mode: number, backlog: number): number {
  try {
    return binding.listen(path, mode, backlog);
  } catch (error) {
    if (!isNativeError(error) || error.code !== 'EADDRINUSE' || !isStaleSocket(binding, path)) {
      throw toListenError(error, path);
    }
  }
  fs.unlinkSync(path);
  try {
    return binding.listen(path, mode, backlog);
  } catch (error) {
    throw toListenError(error, path);
  }
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

function toListenError(error: unknown, path: string): Error {
  if (!isNativeError(error)) return error as Error;
  const wrapped = errnoException(error.errno, error.syscall === 'bind' || error.syscall === 'listen' ? 'listen' : error.syscall);
  wrapped.message = `${wrapped.message} ${path}`;
  return Object.assign(wrapped, { address: path });
}
