// Who may run what: the server's decision on one request, from the kernel's
// peer credentials and the host's options. Pure policy, no I/O; the host's
// authorize() hook may be async.

import * as path from 'node:path';
import type { AuthorizeResult, PeerCredentials, SidecarRequest } from '../../types/index';
import { type ExecRequest, NO_ID } from '../protocol';
import { type Environment, environmentFrom, environmentObject, requestedEnvironment } from './environment';
import { isThenable } from '../validate';
import type { NormalizedServerOptions } from './options';
import { type SpawnDecision, DEFAULT_PATH, candidatePaths } from './spawn-options';

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
  | ({ allow: true; droppedEnv: string[] } & SpawnDecision)
  | { allow: false; code: 'ERR_SIDECAR_DENIED' | 'EPERM'; syscall: string; reason: string };

/** The environment the program gets, and the client's variables the policy kept from it. */
function restrictEnvironment(options: NormalizedServerOptions, request: ExecRequest, asked: Environment, own: Environment): { env: Environment; dropped: string[] } {
  const merged = requestedEnvironment(request, asked, own);
  const { allowEnv, allowCommands } = options;
  if (allowEnv === undefined && allowCommands === undefined) return { env: merged, dropped: [] };
  const result = allowEnv !== undefined ? new Map(own) : merged;
  const dropped: string[] = [];
  for (const [name, value] of asked) {
    const permitted = allowEnv !== undefined ? allowEnv.has(name) : !changesLoading(name);
    if (permitted) {
      result.set(name, value);
    } else if (value !== own.get(name)) {
      dropped.push(name);
      // The server's own value (or none) stands in for the client's.
      const ownValue = own.get(name);
      if (ownValue !== undefined) result.set(name, ownValue);
      else result.delete(name);
    }
  }
  return { env: result, dropped };
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
function resolveCandidates(options: NormalizedServerOptions, request: ExecRequest, env: Environment, own: Environment): string[] | string {
  const { allowCommands } = options;
  if (allowCommands === undefined) return candidatePaths(request.file, env.get('PATH'));
  if (request.file.includes('/')) {
    const normalized = path.posix.normalize(request.file);
    if (!normalized.startsWith('/') || !allowCommands.has(normalized)) return `${request.file} is not an allowed command`;
    return [normalized];
  }
  if (!allowCommands.has(request.file)) return `${request.file} is not an allowed command`;
  return candidatePaths(request.file, own.get('PATH') ?? DEFAULT_PATH);
}

/** What the authorize() hook sees. */
export function describeRequest(request: ExecRequest, asked: Environment, credentials: PeerCredentials): SidecarRequest {
  return {
    credentials: { ...credentials },
    file: request.file,
    argv: [...request.argv],
    env: environmentObject(asked),
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
  if ((result.env !== undefined && (typeof result.env !== 'object' || result.env === null))
      || (result.cwd !== undefined && typeof result.cwd !== 'string')) {
    return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: 'authorize() returned an invalid answer' };
  }
  if (result.allow === false) {
    return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: result.reason ?? 'refused by the server\'s authorize()' };
  }
  return {
    ...base,
    env: result.env !== undefined ? environmentFrom(result.env) : base.env,
    cwd: result.cwd !== undefined ? result.cwd : base.cwd,
  };
}

/**
 * Why allowUids/allowGids keep this peer out, or undefined when they let it
 * in. The gid is the peer's effective gid, the one SO_PEERCRED reports: its
 * supplementary groups are not known to the server.
 */
export function peerRefusal(options: Pick<NormalizedServerOptions, 'allowUids' | 'allowGids'>, credentials: PeerCredentials): string | undefined {
  const { allowUids, allowGids } = options;
  if (allowUids === undefined && allowGids === undefined) return undefined;
  if (allowUids?.has(credentials.uid) || allowGids?.has(credentials.gid)) return undefined;
  return `uid ${credentials.uid} (gid ${credentials.gid}) may not use this server`;
}

/**
 * The decision on one request: declarative checks first (cheap, sync), then
 * the host's authorize(), which may answer with a promise. `asked` is the
 * request's environment, parsed once by the session.
 */
export function decide(options: NormalizedServerOptions, request: ExecRequest, asked: Environment, credentials: PeerCredentials,
  serverEnv: NodeJS.ProcessEnv = process.env): Decision | Promise<Decision> {
  // The server refuses such a peer at accept already; checked here too, so
  // that the decision on a request never depends on how it arrived.
  const peer = peerRefusal(options, credentials);
  if (peer !== undefined) return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'connect', reason: peer };
  const refusal = credentialsRefusal(options, request);
  if (refusal !== undefined) return refusal;
  // The server's own environment is read only where it is used: process.env
  // is slow to walk, and most requests (no serverEnv, no policy) never need it.
  const own = request.serverEnv || options.allowEnv !== undefined || options.allowCommands !== undefined
    ? environmentFrom(serverEnv) : new Map<string, string>();
  const { env, dropped } = restrictEnvironment(options, request, asked, own);
  const candidates = resolveCandidates(options, request, env, own);
  if (typeof candidates === 'string') return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'allowCommands', reason: candidates };
  const base = { allow: true as const, candidates, env, cwd: request.cwd, droppedEnv: dropped };
  if (options.authorize === undefined) return base;
  const refuseOnThrow = (error: unknown): Decision => ({
    allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason: `authorize() failed: ${(error as Error)?.message ?? String(error)}`,
  });
  let answer: AuthorizeResult | Promise<AuthorizeResult>;
  try {
    answer = options.authorize(describeRequest(request, asked, credentials));
  } catch (error) {
    return refuseOnThrow(error);
  }
  if (isThenable<AuthorizeResult>(answer)) {
    return Promise.resolve(answer).then((result) => applyHook(result, base), refuseOnThrow);
  }
  return applyHook(answer as AuthorizeResult, base);
}

/**
 * Why a stop request is refused, or undefined when it may stop the server:
 * only the server's own user or root may, and only where allowStop is on.
 */
export function stopRefusal(options: Pick<NormalizedServerOptions, 'allowStop'>, credentials: PeerCredentials): string | undefined {
  if (!options.allowStop) return 'this server does not accept stop requests';
  if (credentials.uid === 0 || credentials.uid === process.geteuid?.()) return undefined;
  return 'only the server\'s own user or root may stop it';
}
