// Who may run what: the server's decision on one request, from the kernel's
// peer credentials and the host's options. Pure policy, no I/O; the host's
// authorize() hook may be async.

import * as path from 'node:path';
import type { AuthorizeResult, PeerCredentials, SidecarRequest } from '../../types/index';
import type { ExecRequest } from '../protocol';
import { NO_ID } from '../protocol';
import { DEFAULT_PATH, buildEnvironment, candidatePaths } from './launch';
import type { NormalizedServerOptions } from './options';

/**
 * Variables that change how a program is loaded or how it runs what it runs.
 * Under allowCommands they reach the program only where allowEnv names them:
 * otherwise a client could run an allowed program with a library or a shell
 * start-up file of its choosing.
 */
const LOADER_PREFIXES = ['LD_', 'GCONV_', 'BASH_FUNC_'];
const LOADER_NAMES = new Set([
  'PATH', 'BASH_ENV', 'ENV', 'IFS', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'GLIBC_TUNABLES', 'NLSPATH', 'LOCPATH',
  'HOSTALIASES', 'RESOLV_HOST_CONF', 'MALLOC_CHECK_', 'NODE_OPTIONS', 'NODE_PATH', 'PYTHONPATH', 'PYTHONSTARTUP',
  'PYTHONHOME', 'PERL5LIB', 'PERL5OPT', 'PERLLIB', 'RUBYOPT', 'RUBYLIB', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS',
]);

export function changesLoading(name: string): boolean {
  return LOADER_NAMES.has(name) || LOADER_PREFIXES.some((prefix) => name.startsWith(prefix));
}

export type Decision =
  | { allow: true; candidates: string[]; env: string[]; cwd: string; droppedEnv: string[] }
  | { allow: false; code: 'ERR_SIDECAR_DENIED' | 'EPERM'; syscall: string; reason: string };

function envObject(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = Object.create(null);
  for (const pair of pairs) {
    const cut = pair.indexOf('=');
    env[pair.slice(0, cut)] = pair.slice(cut + 1);
  }
  return env;
}

function envPairs(env: Record<string, string>): string[] {
  return Object.keys(env).map((name) => `${name}=${env[name]}`);
}

/** The environment the program gets, and the client's variables the policy kept from it. */
function restrictEnvironment(options: NormalizedServerOptions, request: ExecRequest, serverEnv: NodeJS.ProcessEnv): { env: string[]; dropped: string[] } {
  const merged = buildEnvironment(request, serverEnv);
  const { allowEnv, allowCommands } = options;
  if (allowEnv === undefined && allowCommands === undefined) return { env: merged, dropped: [] };
  const own = envObject(buildEnvironment({ ...request, env: [], serverEnv: true }, serverEnv));
  const asked = envObject(request.env);
  const result = allowEnv !== undefined ? { ...own } : envObject(merged);
  const dropped: string[] = [];
  for (const name of Object.keys(asked)) {
    const permitted = allowEnv !== undefined ? allowEnv.has(name) : !changesLoading(name);
    if (permitted) {
      result[name] = asked[name];
    } else if (asked[name] !== own[name]) {
      dropped.push(name);
      // The server's own value (or none) stands in for the client's.
      if (name in own) result[name] = own[name];
      else delete result[name];
    }
  }
  return { env: envPairs(result), dropped };
}

function credentialsRefusal(options: NormalizedServerOptions, request: ExecRequest): Decision | undefined {
  const euid = process.geteuid?.() ?? -1;
  const egid = process.getegid?.() ?? -1;
  const canSwitch = euid === 0;
  if (request.uid !== NO_ID && request.uid !== euid && !(canSwitch && options.allowSetuid.uids.has(request.uid))) {
    return { allow: false, code: 'EPERM', syscall: 'setuid', reason: `this server does not run programs as uid ${request.uid}` };
  }
  if (request.gid !== NO_ID && request.gid !== egid && !(canSwitch && options.allowSetuid.gids.has(request.gid))) {
    return { allow: false, code: 'EPERM', syscall: 'setgid', reason: `this server does not run programs as gid ${request.gid}` };
  }
  return undefined;
}

/** Where to look for the program: under allowCommands only where the server would. */
function resolveCandidates(options: NormalizedServerOptions, request: ExecRequest, env: string[], serverEnv: NodeJS.ProcessEnv): string[] | string {
  const { allowCommands } = options;
  if (allowCommands === undefined) return candidatePaths(request.file, env);
  if (request.file.includes('/')) {
    const normalized = path.posix.normalize(request.file);
    if (!normalized.startsWith('/') || !allowCommands.has(normalized)) return `${request.file} is not an allowed command`;
    return [normalized];
  }
  if (!allowCommands.has(request.file)) return `${request.file} is not an allowed command`;
  return candidatePaths(request.file, [`PATH=${serverEnv.PATH ?? DEFAULT_PATH}`]);
}

/** What the authorize() hook sees. */
export function describeRequest(request: ExecRequest, credentials: PeerCredentials): SidecarRequest {
  return {
    credentials: { ...credentials },
    file: request.file,
    argv: [...request.argv],
    env: envObject(request.env),
    cwd: request.cwd,
    uid: request.uid === NO_ID ? undefined : request.uid,
    gid: request.gid === NO_ID ? undefined : request.gid,
    detached: request.newSession,
    serverEnv: request.serverEnv,
  };
}

function applyHook(result: AuthorizeResult, base: Extract<Decision, { allow: true }>): Decision {
  if (result === undefined || result === true) return base;
  if (result === false) return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: 'refused by the server\'s authorize()' };
  if (typeof result === 'string') return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: result };
  if (typeof result !== 'object' || result === null) {
    return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: 'authorize() returned an invalid answer' };
  }
  if (result.allow === false) {
    return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: result.reason ?? 'refused by the server\'s authorize()' };
  }
  return {
    ...base,
    env: result.env !== undefined ? envPairs(Object.fromEntries(Object.entries(result.env).map(([k, v]) => [k, String(v)]))) : base.env,
    cwd: result.cwd !== undefined ? result.cwd : base.cwd,
  };
}

/**
 * The decision on one request: declarative checks first (cheap, sync), then
 * the host's authorize(), which may answer with a promise.
 */
export function decide(options: NormalizedServerOptions, request: ExecRequest, credentials: PeerCredentials,
  serverEnv: NodeJS.ProcessEnv = process.env): Decision | Promise<Decision> {
  const { allowUids, allowGids } = options;
  if ((allowUids !== undefined || allowGids !== undefined) &&
      !(allowUids?.has(credentials.uid) || allowGids?.has(credentials.gid))) {
    return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'connect', reason: `uid ${credentials.uid} (gid ${credentials.gid}) may not use this server` };
  }
  const refusal = credentialsRefusal(options, request);
  if (refusal !== undefined) return refusal;
  const { env, dropped } = restrictEnvironment(options, request, serverEnv);
  const candidates = resolveCandidates(options, request, env, serverEnv);
  if (typeof candidates === 'string') return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'allowCommands', reason: candidates };
  const base = { allow: true as const, candidates, env, cwd: request.cwd, droppedEnv: dropped };
  if (options.authorize === undefined) return base;
  const refuseOnThrow = (error: unknown): Decision => ({
    allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: `authorize() failed: ${(error as Error)?.message ?? String(error)}`,
  });
  let answer: AuthorizeResult | Promise<AuthorizeResult>;
  try {
    answer = options.authorize(describeRequest(request, credentials));
  } catch (error) {
    return refuseOnThrow(error);
  }
  if (answer !== null && typeof answer === 'object' && typeof (answer as Promise<AuthorizeResult>).then === 'function') {
    return (answer as Promise<AuthorizeResult>).then((result) => applyHook(result, base), refuseOnThrow);
  }
  return applyHook(answer as AuthorizeResult, base);
}
