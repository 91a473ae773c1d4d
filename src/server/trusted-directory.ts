// Whether the socket's directory can be trusted, before the server listens
// in it. Whoever can rename entries in that directory, or in any directory
// above it, can move the server's socket aside and listen in its place: the
// clients that connect next hand their stdio, fds and environment to that
// user. So every directory from / down to the socket's, and every symbolic
// link met on the way, must belong to root or to the server's own uid, and
// no directory may be writable by its group or by others unless it is sticky
// (there, others may add names but not move the ones they do not own). This
// is a trusted-path check: once it passes, nobody else can change any name
// on the path, so what was checked is what bind and link(2) use.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';

/** A directory (or link) on the path that another user controls, and how. */
export interface UntrustedDirectory {
  path: string;
  reason: string;
}

/** The kernel's limit on symbolic links followed in one lookup (ELOOP beyond). */
const MAX_SYMLINKS = 40;

const S_ISVTX = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

/**
 * The first directory or link on the way to `directory` that another user
 * controls, or undefined when the whole path is root's or `euid`'s. Throws
 * the lookup's error (ENOENT, EACCES, ENOTDIR, ELOOP) as fs reports it.
 */
export function untrustedDirectory(directory: string, euid: number): UntrustedDirectory | undefined {
  // Not path.resolve: it folds 'x/..' by the text, where the kernel goes up
  // from wherever x (a symbolic link, maybe) really leads.
  const pending = (directory.startsWith('/') ? directory : `${process.cwd()}/${directory}`).split('/');
  let current = '/';
  let refusal = judgeDirectory(current, fs.lstatSync(current), euid);
  let links = 0;
  while (refusal === undefined && pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      // Already checked: `current` is only ever made of checked directories.
      current = nodePath.dirname(current);
      continue;
    }
    const next = nodePath.join(current, name);
    const stat = fs.lstatSync(next);
    if (stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw Object.assign(new Error(`ELOOP: too many symbolic links, ${directory}`), { code: 'ELOOP', path: directory });
      // Where it sits nobody else may rename it, but in a sticky directory
      // its owner may replace it: so it must be trusted as a directory is.
      refusal = judgeOwner(next, stat, euid, 'symbolic link');
      const target = fs.readlinkSync(next);
      if (target.startsWith('/')) current = '/';
      pending.unshift(...target.split('/'));
      continue;
    }
    if (!stat.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, ${next}`), { code: 'ENOTDIR', path: next });
    refusal = judgeDirectory(next, stat, euid);
    current = next;
  }
  return refusal;
}

function judgeOwner(path: string, stat: fs.Stats, euid: number, what: string): UntrustedDirectory | undefined {
  if (stat.uid === 0 || stat.uid === euid) return undefined;
  return { path, reason: `the ${what} ${path} is owned by uid ${stat.uid}` };
}

function judgeDirectory(path: string, stat: fs.Stats, euid: number): UntrustedDirectory | undefined {
  const owner = judgeOwner(path, stat, euid, 'directory');
  if (owner !== undefined) return owner;
  const writers = [(stat.mode & GROUP_WRITE) !== 0 ? 'its group' : '', (stat.mode & OTHER_WRITE) !== 0 ? 'others' : '']
    .filter((who) => who !== '');
  if (writers.length === 0 || (stat.mode & S_ISVTX) !== 0) return undefined;
  const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
  return { path, reason: `the directory ${path} is writable by ${writers.join(' and ')} (mode ${mode}, not sticky)` };
}
