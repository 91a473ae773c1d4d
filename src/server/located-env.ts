// Where the program runs decides what locates things. The caller's values of
// PATH, HOME, TMPDIR, SHELL, USER and LOGNAME describe the caller's side; the
// program looks things up on the server's. Each is made to fit there: PATH
// keeps the caller's entries that exist on the server and adds the server's
// own; HOME, TMPDIR and SHELL stay the caller's where they name something on
// the server; USER and LOGNAME are the server's. Only names the caller's env
// has are changed: none is ever added.

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Environment } from './environment';
import { DEFAULT_PATH } from './spawn-options';

/** What the rule asks of the server's side: the two checks are file system look-ups, injectable for tests. */
export interface ServerSide {
  /** Whether `path` names a directory on the server. */
  isDirectory(path: string): boolean;
  /** Whether `path` names a regular file the server may execute. */
  isExecutableFile(path: string): boolean;
  /** The server's own value of a located name, or undefined where it has none. */
  own(name: string): string | undefined;
  /**
   * PATH made from the caller's (what madePath() makes over isDirectory());
   * a side may remember it. Absent: madePath() over isDirectory().
   */
  makePath?(callerPath: string): string;
}

/**
 * Most entries of a caller's PATH the server looks at; later ones are
 * dropped. Each costs a stat(2) on the server's event loop, and a real PATH
 * has a few dozen: a client must not make one request cost thousands.
 */
export const MAX_CALLER_PATH_ENTRIES = 256;

/** A PATH's entries without trailing slashes, for comparing. */
function entryKey(entry: string): string {
  return entry.length > 1 && entry.endsWith('/') ? entry.replace(/\/+$/, '') : entry;
}

/**
 * The server's own search path: the absolute entries of its PATH, or the
 * default where it has none (an empty or relative entry would resolve in the
 * program's working directory, which the client chooses).
 */
export function serverSearchPath(ownPath: string | undefined): string {
  // Asked for each request, nearly always of the same PATH: the last answer is kept.
  if (ownPath === lastOwnPath.given) return lastOwnPath.search;
  const absolute = (ownPath ?? '').split(':').filter((entry) => entry.startsWith('/'));
  const search = absolute.length > 0 ? absolute.join(':') : DEFAULT_PATH;
  lastOwnPath = { given: ownPath, search };
  return search;
}

let lastOwnPath: { given: string | undefined; search: string } = { given: undefined, search: DEFAULT_PATH };

/**
 * PATH made on the server: the caller's absolute entries that are
 * directories there, in the caller's order, then the server's own entries
 * not already listed. Empty and relative entries are dropped, and so are
 * those past MAX_CALLER_PATH_ENTRIES; an entry listed twice is looked at once.
 */
export function madePath(callerPath: string, ownPath: string | undefined, isDirectory: (path: string) => boolean): string {
  const entries: string[] = [];
  const listed = new Set<string>();
  const seen = new Map<string, boolean>();
  for (const entry of callerPath.split(':', MAX_CALLER_PATH_ENTRIES)) {
    if (!entry.startsWith('/')) continue;
    let there = seen.get(entry);
    if (there === undefined) seen.set(entry, there = isDirectory(entry));
    if (!there) continue;
    entries.push(entry);
    listed.add(entryKey(entry));
  }
  for (const entry of serverSearchPath(ownPath).split(':')) {
    if (listed.has(entryKey(entry))) continue;
    entries.push(entry);
    listed.add(entryKey(entry));
  }
  return entries.join(':');
}

/** How the rule treats one request. */
export interface LocateOptions {
  /** Names whose caller's values stand as given (the client's and the server's `callerEnv`). */
  keep: ReadonlySet<string>;
  /** The program runs as another user than the server's (`uid`): USER and LOGNAME are not the server's then. */
  switchesUser: boolean;
}

/** The server's value of `name` in place of the caller's, or the name left out where the server has none. */
function useOwn(env: Environment, name: string, server: ServerSide): void {
  const value = server.own(name);
  if (value === undefined) env.delete(name);
  else env.set(name, value);
}

/**
 * Makes the caller's located values in `env` fit the server, in place.
 * `fromCaller`: the located names whose value in `env` is the caller's
 * (the policy may have replaced others with the server's already).
 */
export function locateEnvironment(env: Environment, fromCaller: Iterable<string>, options: LocateOptions, server: ServerSide): void {
  for (const name of fromCaller) {
    const value = env.get(name);
    if (value === undefined || options.keep.has(name)) continue;
    switch (name) {
      case 'PATH':
        env.set(name, server.makePath?.(value) ?? madePath(value, server.own('PATH'), (dir) => server.isDirectory(dir)));
        break;
      case 'HOME':
      case 'TMPDIR':
        if (!(value.startsWith('/') && server.isDirectory(value))) useOwn(env, name, server);
        break;
      case 'SHELL':
        if (!(value.startsWith('/') && server.isExecutableFile(value))) useOwn(env, name, server);
        break;
      case 'USER':
      case 'LOGNAME':
        // Under another uid the server's name would be wrong; it knows no
        // name for that uid without a user database look-up, so the caller's
        // value stands, as child_process leaves it when `uid` is given.
        if (!options.switchesUser) useOwn(env, name, server);
        break;
      default:
        break;
    }
  }
}

/**
 * Where a name without a slash is looked up: the program's PATH, or where
 * the caller's env has none, the server's (as child_process then uses a
 * default path); with PATH kept as the caller gave it, the default path.
 */
export function lookupPath(env: Environment, ownPath: string | undefined, keepPath: boolean): string {
  const path = env.get('PATH');
  if (path !== undefined) return path;
  return keepPath ? DEFAULT_PATH : serverSearchPath(ownPath);
}

let userInfo: os.UserInfo<string> | null | undefined;

/** The server's user, read once: its name, home and shell stand in where its environment has none. */
function serverUser(): os.UserInfo<string> | null {
  if (userInfo === undefined) {
    try {
      userInfo = os.userInfo();
    } catch {
      userInfo = null; // no user database entry for this uid
    }
  }
  return userInfo;
}

/** The server's own value of a located name: its environment's, else (HOME, SHELL, USER, LOGNAME) its user database entry's. */
function ownValue(name: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const value = env[name];
  if (value !== undefined) return value;
  switch (name) {
    case 'HOME': return serverUser()?.homedir;
    case 'SHELL': return serverUser()?.shell ?? undefined;
    case 'USER':
    case 'LOGNAME': return serverUser()?.username;
    default: return undefined;
  }
}

/** stat(2) of a path, or undefined for any failure (ENOENT, ENOTDIR, EACCES, ELOOP...: nothing usable there). */
function statOf(path: string): fs.Stats | undefined {
  try {
    return fs.statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * What the real side found lately, and when: a build's requests send the
 * same PATH, HOME and SHELL again and again, and a stat(2) of each each time
 * was most of what the rule cost. Only what exists is remembered, for a
 * second: a directory or file made since is seen at once, and one gone
 * since stays counted at most that long, where a lookup passes over a
 * directory as over any entry without the file, and a SHELL gone is as if
 * removed just after the spawn.
 */
const FOUND_FOR_MS = 1000;
const MAX_FOUND = 4096;

/** When each path was last found a directory (Date.now()). */
const foundDirectories = new Map<string, number>();
/** When each path was last found an executable regular file. */
const foundExecutables = new Map<string, number>();

/** When `path` was found to pass `check`, within the last FOUND_FOR_MS (checked now if not), or undefined: it does not. */
function foundAt(found: Map<string, number>, path: string, now: number, check: (path: string) => boolean): number | undefined {
  const at = found.get(path);
  if (at !== undefined && now - at < FOUND_FOR_MS) return at;
  if (!check(path)) {
    found.delete(path);
    return undefined;
  }
  if (found.size >= MAX_FOUND) found.clear();
  found.set(path, now);
  return now;
}

const isDirectoryNow = (path: string): boolean => statOf(path)?.isDirectory() ?? false;

function isExecutableFileNow(path: string): boolean {
  if (!(statOf(path)?.isFile() ?? false)) return false;
  try {
    fs.accessSync(path, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const isFoundDirectory = (path: string): boolean => foundAt(foundDirectories, path, Date.now(), isDirectoryNow) !== undefined;

/**
 * PATHs made lately, by the caller's PATH: the whole answer is kept where
 * every entry looked at was found, until the oldest of those findings is a
 * second old, so that it never says more than the directories found would.
 * One with an entry missing is made afresh each time (that entry may be
 * made meanwhile). Bounded in count and in the length of the PATHs kept.
 */
interface MadePath { own: string | undefined; made: string; since: number }
const madePaths = new Map<string, MadePath>();
const MAX_MADE_PATHS = 64;
const MAX_KEPT_PATH_LENGTH = 8192;

function makePathRemembered(callerPath: string, own: string | undefined): string {
  const now = Date.now();
  const kept = madePaths.get(callerPath);
  if (kept !== undefined && kept.own === own && now - kept.since < FOUND_FOR_MS) return kept.made;
  let since = now;
  let allFound = true;
  const made = madePath(callerPath, own, (dir) => {
    const at = foundAt(foundDirectories, dir, now, isDirectoryNow);
    if (at === undefined) allFound = false;
    else if (at < since) since = at;
    return at !== undefined;
  });
  if (!allFound || callerPath.length > MAX_KEPT_PATH_LENGTH) {
    madePaths.delete(callerPath);
    return made;
  }
  if (madePaths.size >= MAX_MADE_PATHS) madePaths.clear();
  madePaths.set(callerPath, { own, made, since });
  return made;
}

/** The real server side: stat(2) and access(2) on this file system, and the server's own environment. */
export function serverSide(env: Readonly<Record<string, string | undefined>> = process.env): ServerSide {
  return {
    isDirectory: isFoundDirectory,
    isExecutableFile: (path) => foundAt(foundExecutables, path, Date.now(), isExecutableFileNow) !== undefined,
    own: (name) => ownValue(name, env),
    makePath: (callerPath) => makePathRemembered(callerPath, ownValue('PATH', env)),
  };
}
