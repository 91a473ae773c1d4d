// expectUid: a client's own check that it talks to the server it means. A
// client hands the server its fds, its environment and its working
// directory; whoever listens at the path gets them. The socket file and its
// directory are looked at before connecting, for a clear answer where
// another user's socket sits at the path or could be put there; what
// decides is the listener's uid the kernel reports after connect
// (SO_PEERCRED: the credentials of whoever called listen), checked before a
// byte or an fd is sent, so that no swap between the look and the connect
// can slip through.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { PeerCredentials } from '../binding';

/**
 * Why the socket at `socketPath` is not one a server of `uid` made, or
 * undefined. A path that cannot be looked at is left to connect(2), whose
 * error says more, and to the peer check after it.
 */
export function socketOwnerRefusal(socketPath: string, uid: number): string | undefined {
  let socket: fs.Stats;
  let directory: fs.Stats;
  const dir = nodePath.dirname(socketPath);
  try {
    socket = fs.lstatSync(socketPath);
    directory = fs.statSync(dir);
  } catch {
    return undefined;
  }
  // A link is refused even when it leads to the right socket: whoever owns
  // it, or can write where it is, chooses where it leads.
  if (socket.isSymbolicLink()) return `the socket path is a symbolic link (owned by uid ${socket.uid}), not the socket itself, which expectUid asks for`;
  if (socket.uid !== uid) return `the socket file is owned by uid ${socket.uid}, not uid ${uid} as expectUid asks`;
  if (directory.uid !== uid && directory.uid !== 0) {
    return `its directory ${dir} is owned by uid ${directory.uid}, not uid ${uid} or root as expectUid asks`;
  }
  return undefined;
}

/** Why the listening process is not of `uid`, or undefined. */
export function peerRefusal(peer: PeerCredentials, uid: number): string | undefined {
  if (peer.uid === uid) return undefined;
  return `the process listening on it runs as uid ${peer.uid}, not uid ${uid} as expectUid asks`;
}
