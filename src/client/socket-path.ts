// What a socket path that refused a connection is. connect(2) answers
// ECONNREFUSED both for a socket nobody listens on any more and for a path
// that is no socket at all (a regular file, a directory): only a look at the
// file tells them apart, and the second one is a wrong path, not a server
// that is down.

import * as fs from 'node:fs';
import { connectError } from '../errors';

/** 'a regular file', 'a directory', ... for a path that exists and is no socket; else undefined. */
export function notSocketKind(socketPath: string): string | undefined {
  let stat: fs.Stats;
  try {
    // Followed, as connect(2) follows it.
    stat = fs.statSync(socketPath);
  } catch {
    return undefined;
  }
  if (stat.isSocket()) return undefined;
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFile()) return 'a regular file';
  if (stat.isFIFO()) return 'a FIFO';
  return 'a device';
}

/** ERR_SIDECAR_CONNECT for a failed connect(2), naming a path that is no socket as such. */
export function connectFailure(error: unknown, socketPath: string): Error {
  const refused = (error as { code?: unknown } | null)?.code === 'ECONNREFUSED';
  return connectError(error, socketPath, refused ? notSocketKind(socketPath) : undefined);
}
