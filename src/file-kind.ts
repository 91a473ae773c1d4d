// What a path that should be a socket is instead, in words, for messages on
// both sides: a client whose connect(2) was refused (ECONNREFUSED is also
// what a regular file or a directory answers) and a server whose socket
// path is taken by some other file.

import * as fs from 'node:fs';

/**
 * 'a regular file', 'a directory', ... for a path that exists and is no
 * socket; undefined for a socket or a path that cannot be looked at.
 * `followLinks`: as connect(2) does; without it, a link is 'a symbolic link'.
 */
export function notSocketKind(path: string, followLinks: boolean): string | undefined {
  let stat: fs.Stats;
  try {
    stat = followLinks ? fs.statSync(path) : fs.lstatSync(path);
  } catch {
    return undefined;
  }
  if (stat.isSocket()) return undefined;
  if (stat.isFile()) return 'a regular file';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFIFO()) return 'a FIFO';
  return 'a device';
}
