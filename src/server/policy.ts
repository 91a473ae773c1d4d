// Who may run what: the server's decision on one request, from the kernel's
// peer credentials and the host's options. Pure policy, no I/O; the host's
// authorize() hook may be async.

import * as path from 'node:path';
import type { AuthorizeResult, PeerCredentials, SidecarRequest } from '../../types/index';
import { type ExecRequest, LOCATED_NAMES, NO_ID } from '../protocol';
import { type Environment, environmentFrom, environmentObject, parseEnvironment, requestedEnvironment } from './environment';
import { type ServerSide, locateEnvironment, lookupPath, serverSearchPath, serverSide } from './located-env';
import { isThenable } from '../validate';
import type { NormalizedServerOptions } from './options';
import { type SpawnDecision, candidatePaths } from './spawn-options';

/**
 * What a client may set in the program's environment under allowCommands
 * when allowEnv says nothing more: the variables that describe the terminal
 * and the language, and nothing that says where to load code from. A
 * denylist of loader variables could never be complete (HOME, PYTHONUSERBASE,
 * GIT_CONFIG_*, LESSOPEN, OPENSSL_CONF... each ran code as the server's user
 * through an allowed program), so allowCommands implies an allowlist.
 */
const SAFE_NAMES = new Set(['LANG', 'LANGUAGE', 'TERM', 'TZ', 'COLUMNS', 'LINES']);
const SAFE_PREFIXES = ['LC_'];

/** Whether the client's value of `name` reaches the program under allowCommands without allowEnv naming it. */
export function safeUnderAllowCommands(name: string): boolean {
  return SAFE_NAMES.has(name) || SAFE_PREFIXES.some((prefix) => name.startsWith(prefix));
}

export type Decision =
  | ({ allow: true; droppedEnv: string[]; searchPath: string } & SpawnDecision)
  | { allow: false; code: 'ERR_SIDECAR_DENIED' | 'EPERM'; syscall: string; reason: string };

/**
 * The environment the program gets, and the client's variables the policy
 * kept from it. Without allowEnv or allowCommands, the request's own (over
 * the server's with serverEnv). Otherwise the server's environment, with the
 * client's values only of the names allowed: allowEnv's, and under
 * allowCommands the terminal and language variables.
 */
function restrictEnvironment(options: NormalizedServerOptions, request: ExecRequest, asked: Environment, own: Environment): { env: Environment; dropped: string[] } {
  const { allowEnv, allowCommands } = options;
  if (allowEnv === undefined && allowCommands === undefined) return { env: requestedEnvironment(request, asked, own), dropped: [] };
  const result = new Map(own);
  const dropped: string[] = [];
  for (const [name, value] of asked) {
    if (allowEnv?.has(name) || (allowCommands !== undefined && safeUnderAllowCommands(name))) result.set(name, value);
    else if (value !== own.get(name)) dropped.push(name);
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
  if (request.uid !== NO_ID && request.uid !== euid && request.gid === NO_ID) {
    // child_process would keep the parent's gid: here, often root's group.
    return { allow: false, code: 'EPERM', syscall: 'setgid', reason: `running as uid ${request.uid} needs a gid too: the program would keep the server's group (${egid})` };
  }
  if (request.gid !== NO_ID && request.gid !== egid && !(canSwitch && options.allowSetuid.gids.has(request.gid))) {
    return { allow: false, code: 'EPERM', syscall: 'setgid', reason: `this server does not run programs as gid ${request.gid}` };
  }
  return undefined;
}

/** Why allowCommands refuses the program, or undefined when it names an allowed command. */
function commandRefusal(allowCommands: ReadonlySet<string>, file: string): string | undefined {
  const allowed = file.includes('/') ? allowCommands.has(path.posix.normalize(file)) && file.startsWith('/') : allowCommands.has(file);
  return allowed ? undefined : `${file} is not an allowed command`;
}

/**
 * Where to look for the program: under allowCommands only where the server
 * would (its PATH's absolute entries: an empty or relative one would be
 * looked up in the client's working directory, where the client chooses
 * what is found); else in the program's PATH as the server made it.
 */
function candidatesFor(options: NormalizedServerOptions, file: string, searchPath: string): string[] {
  if (options.allowCommands !== undefined && file.includes('/')) return [path.posix.normalize(file)];
  return candidatePaths(file, searchPath);
}

const NONE_KEPT: ReadonlySet<string> = new Set();

/** The located names the caller's values of which stand as given: the server's callerEnv and the request's. */
function keptNames(options: NormalizedServerOptions, request: ExecRequest): ReadonlySet<string> {
  if (options.callerEnv.size === 0 && (request.callerEnv === undefined || request.callerEnv.length === 0)) return NONE_KEPT;
  return new Set([...options.callerEnv, ...(request.callerEnv ?? [])]);
}

/** The real side over the server's environment, made once per environment object (process.env, nearly always). */
let lastSide: { env: NodeJS.ProcessEnv; side: ServerSide } | undefined;
function realSide(env: NodeJS.ProcessEnv): ServerSide {
  if (lastSide?.env !== env) lastSide = { env, side: serverSide(env) };
  return lastSide.side;
}

/**
 * Under allowCommands, argv[0] must name the allowed command (as given, or
 * its file name): multi-call programs (busybox) choose what to be by it.
 */
function argv0Refusal(options: NormalizedServerOptions, request: ExecRequest): string | undefined {
  const argv0 = request.argv[0];
  if (options.allowCommands === undefined || argv0 === request.file || argv0 === path.posix.basename(request.file)) return undefined;
  return `argv[0] ${JSON.stringify(argv0.slice(0, 256))} is not the allowed command ${JSON.stringify(request.file)}`;
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
    callerEnv: [...(request.callerEnv ?? [])] as SidecarRequest['callerEnv'],
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
 * The decision on one request: declarative checks first (cheap, sync, and
 * the command before the environment, so that a refused request costs no
 * more than a small one), then the host's authorize(), which may answer with
 * a promise. The request's environment is parsed here, once, into the Map
 * that goes on to the spawn.
 */
export function decide(options: NormalizedServerOptions, request: ExecRequest, credentials: PeerCredentials,
  serverEnv: NodeJS.ProcessEnv = process.env, side?: ServerSide): Decision | Promise<Decision> {
  // The server refuses such a peer at accept already; checked here too, so
  // that the decision on a request never depends on how it arrived.
  const peer = peerRefusal(options, credentials);
  if (peer !== undefined) return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'connect', reason: peer };
  const refusal = credentialsRefusal(options, request);
  if (refusal !== undefined) return refusal;
  // The server's own environment is read only where it is used: process.env
  // is slow to walk, and most requests (no serverEnv, no policy) never need it.
  let ownEnv: Environment | undefined;
  const own = (): Environment => (ownEnv ??= environmentFrom(serverEnv));
  const policed = options.allowEnv !== undefined || options.allowCommands !== undefined;
  if (options.allowCommands !== undefined) {
    const refused = commandRefusal(options.allowCommands, request.file) ?? argv0Refusal(options, request);
    if (refused !== undefined) return { allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'allowCommands', reason: refused };
  }
  const asked = parseEnvironment(request.env);
  const { env, dropped } = restrictEnvironment(options, request, asked, request.serverEnv || policed ? own() : new Map());
  // The caller's located values that reach the program are made to fit the
  // server's side; under a policy, only those it let through are the caller's.
  const keep = keptNames(options, request);
  const fromCaller = LOCATED_NAMES.filter((name) => asked.has(name) && (!policed || options.allowEnv?.has(name) === true));
  if (fromCaller.length > 0) {
    const switchesUser = request.uid !== NO_ID && request.uid !== (process.geteuid?.() ?? -1);
    locateEnvironment(env, fromCaller, { keep, switchesUser }, side ?? realSide(serverEnv));
  }
  const searchPath = options.allowCommands !== undefined ? serverSearchPath(serverEnv.PATH) : lookupPath(env, serverEnv.PATH, keep.has('PATH'));
  const candidates = candidatesFor(options, request.file, searchPath);
  const base = { allow: true as const, candidates, env, cwd: request.cwd, droppedEnv: dropped, searchPath };
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
