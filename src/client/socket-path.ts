// A socket path that refused a connection: connect(2) answers ECONNREFUSED
// both for a socket nobody listens on any more and for a path that is no
// socket at all (a regular file, a directory). Only a look at the file tells
// them apart, and the second one is a wrong path, not a server that is down.

import { connectError } from '../errors';
import { notSocketKind } from '../file-kind';

/** ERR_SIDECAR_CONNECT for a failed connect(2), naming a path that is no socket as such. */
export function connectFailure(error: unknown, socketPath: string): Error {
  const refused = (error as { code?: unknown } | null)?.code === 'ECONNREFUSED';
  return connectError(error, socketPath, refused ? notSocketKind(socketPath, true) : undefined);
}
