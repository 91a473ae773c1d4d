// Public contract of the server side of sidecar-exec.

/// <reference types="node" />

import type { LocatedEnvName, NodeStyleEmitter } from './index';

/** A client's credentials, as the kernel reports them (SO_PEERCRED). */
export interface PeerCredentials {
  /** The client's pid, or 0 when it lives in a pid namespace the server cannot see. */
  pid: number;
  uid: number;
  gid: number;
}

/** One request as the server's policy sees it. */
export interface SidecarRequest {
  credentials: PeerCredentials;
  /** The program asked for: a name looked up in PATH, or a path. */
  file: string;
  argv: string[];
  /** The variables the client sent (all of its environment, unless it asked for serverEnv). */
  env: Record<string, string>;
  /** The working directory asked for ('' keeps the server's). */
  cwd: string;
  uid: number | undefined;
  gid: number | undefined;
  detached: boolean;
  serverEnv: boolean;
  /** The names whose values in `env` the client asked to reach the program as given (its `callerEnv`). */
  callerEnv: LocatedEnvName[];
}

/**
 * authorize()'s answer: `true` or `undefined` allows, `false` or a string (the
 * reason) denies, and an object may deny with a reason or allow with a
 * rewritten environment (the program's whole environment) or working directory.
 */
export type AuthorizeResult =
  | boolean
  | string
  | undefined
  | { allow?: boolean; reason?: string; env?: Record<string, string>; cwd?: string };

/** The host's policy hook; it may answer with a promise. A throw denies. */
export type AuthorizeFunction = (request: SidecarRequest) => AuthorizeResult | Promise<AuthorizeResult>;

/** Options of {@link createServer}. */
export interface ServerOptions {
  /**
   * Permission bits of the socket file. Whoever may write to it may run
   * programs as the server's user.
   * @default 0o600
   */
  mode?: number;
  /** Group (gid) of the socket file, for a `mode` such as 0o660. @default the server's group */
  group?: number;
  /**
   * Listen even where another user could change the socket's directory or a
   * directory above it. By default listen() refuses such a path with
   * ERR_SIDECAR_UNSAFE_DIRECTORY: each directory from / down must belong to
   * root or the server's uid and be writable by no group or others unless it
   * is sticky, since whoever can rename the socket can listen in its place
   * and receive the next clients' stdio and environment.
   * @default false
   */
  trustDirectory?: boolean;
  /**
   * Accept `stop` requests (from `sidecar stop`, {@link stopServer}); even
   * then, only from the server's own uid or root.
   * @default true
   */
  allowStop?: boolean;
  /** listen(2) backlog. @default 511 */
  backlog?: number;
  /** The host's policy: sees every request with the client's credentials; may deny or rewrite it. */
  authorize?: AuthorizeFunction;
  /**
   * Only clients with one of these uids (or a gid of allowGids) may connect:
   * others are refused with ERR_SIDECAR_DENIED when the server accepts their
   * connection, before anything they send is read (so ping and stop too).
   * @default anyone who can open the socket
   */
  allowUids?: number[];
  /**
   * Only clients with one of these gids (or a uid of allowUids) may connect.
   * The gid is the client's effective gid, the one the kernel reports for
   * the connection (SO_PEERCRED); its supplementary groups are not matched.
   */
  allowGids?: number[];
  /**
   * Only these programs may run: names (looked up in the absolute entries of
   * the server's PATH, never the client's) or absolute paths (matched
   * exactly), with argv[0] the name or path as given (or its file name).
   * It implies an environment allowlist: the program gets the server's
   * environment plus the client's values of LANG, LANGUAGE, LC_*, TERM, TZ,
   * COLUMNS and LINES, and of what allowEnv names; the rest is dropped and
   * listed in the 'request' event's droppedEnv.
   * @default any program
   */
  allowCommands?: string[];
  /**
   * The variables a client may set. With it, a program gets the server's
   * environment plus the client's values of these names only.
   * @default every variable (but see allowCommands)
   */
  allowEnv?: string[];
  /**
   * Variables whose caller's values reach the program as given, for every
   * request (a client adds its own with its `callerEnv`). By default the
   * server makes the ones that locate things fit its side: `PATH` keeps the
   * caller's entries that exist here, then this server's own; `HOME`,
   * `TMPDIR` and `SHELL` stay the caller's where they name something here;
   * `USER` and `LOGNAME` become the server's.
   * @default []
   */
  callerEnv?: LocatedEnvName[];
  /**
   * The ids a privileged server may switch to when a client asks (`uid`,
   * `gid`). A uid switch needs a gid too: alone, the program would keep the
   * server's group.
   * @default none: only the server's own
   */
  allowSetuid?: { uids?: number[]; gids?: number[] };
  /** Most programs running at once; further requests wait in order. @default Infinity */
  maxConcurrent?: number;
  /** Most requests waiting; beyond it a request fails with ERR_SIDECAR_BUSY. @default 1024 */
  maxQueued?: number;
  /** Milliseconds a request may wait in the queue (0: no limit). @default 0 */
  queueTimeout?: number;
  /**
   * Most connections open at once; more get ERR_SIDECAR_BUSY and are closed
   * at once. Lowered at listen to what RLIMIT_NOFILE can hold with maxFds
   * fds on each connection ('warning', stats().maxConnections).
   * @default 1024
   */
  maxConnections?: number;
  /**
   * Most connections one uid may hold at once; more get ERR_SIDECAR_BUSY and
   * are closed at once, so that one user cannot take every connection.
   * Root and the server's own uid are not capped (they can stop or kill the
   * server anyway).
   * @default 64
   */
  maxConnectionsPerUid?: number;
  /** Largest request (argv, env, cwd) accepted, in bytes. @default 8388608 */
  maxRequestBytes?: number;
  /**
   * Most bytes all requests whose programs have not started may hold
   * together (the buffers of requests still arriving, and requests waiting
   * for authorize() or the queue); a request that would pass it fails with
   * ERR_SIDECAR_BUSY. At least maxRequestBytes.
   * @default 67108864
   */
  maxBufferedBytes?: number;
  /** Most fds one request may pass. @default 64 */
  maxFds?: number;
  /** Milliseconds a client has, from connecting, to send its whole request (0: no limit). @default 10000 */
  handshakeTimeout?: number;
  /** Milliseconds a program may run before it gets killSignal (and SIGKILL 5 s later if it lingers; 0: no limit). @default 0 */
  maxRuntime?: number;
  /** Signal for maxRuntime and for close() after closeTimeout. @default 'SIGTERM' */
  killSignal?: NodeJS.Signals | number;
  /** Signal for a program whose client disconnected. @default 'SIGKILL' */
  disconnectSignal?: NodeJS.Signals | number;
  /**
   * Milliseconds a program whose client disconnected has before SIGKILL:
   * after disconnectSignal when that is not SIGKILL; and, when the client
   * forwarded it a signal that ends programs by default (SIGINT, SIGTERM,
   * SIGHUP, ...; not SIGWINCH, SIGCONT, SIGTSTP...) less than this long
   * before disconnecting, counted from that signal, with no disconnectSignal:
   * a Ctrl-C that ended the caller leaves the program's trap time to run.
   * @default 2000
   */
  disconnectGrace?: number;
  /**
   * Milliseconds close() lets running programs finish before it sends them
   * killSignal (and SIGKILL 5 s later if they linger).
   * @default Infinity
   */
  closeTimeout?: number;
  /**
   * Run programs started with `detached: true`. Such a program is not
   * killed when its client disconnects (its exit is then reported to no
   * one); maxRuntime, close() and the server's death still end it, and it
   * keeps its connection's place (maxConnections, maxConnectionsPerUid)
   * until it exits. `false` refuses them with ERR_SIDECAR_DETACHED_REFUSED.
   * @default true
   */
  allowDetached?: boolean;
  /**
   * How the server holds every descendant of a program (setsid'd and
   * double-forked ones too), so that a disconnect, kill(), maxRuntime and
   * close() reach all of them: 'cgroup' (a cgroup v2 per program under one
   * the server makes in its own, ended with cgroup.kill; listen fails
   * where it cannot make one), 'subreaper' (the program's first process is
   * a child subreaper and the tree is found through /proc; it holds while
   * that process lives), 'auto' (a cgroup where the server can make one,
   * else a subreaper), or 'none' (the program's process group only).
   * @default 'auto'
   */
  containment?: ContainmentMode;
}

/** How a server holds a program's descendants; see {@link ServerOptions.containment}. */
export type ContainmentMode = 'auto' | 'cgroup' | 'subreaper' | 'none';

/** Why a program ended, as the server saw it. */
export type ExitReason = 'exit' | 'client-signal' | 'disconnect' | 'maxRuntime' | 'close';

/** Counters of a server. */
export interface ServerStats {
  /** Connections open now. */
  connections: number;
  /** Programs running now. */
  running: number;
  /** Requests waiting now. */
  queued: number;
  /** Bytes held now for requests whose programs have not started (at most maxBufferedBytes). */
  bufferedBytes: number;
  /** Connections the server takes at once: options.maxConnections, or fewer where RLIMIT_NOFILE cannot hold them (see 'warning'). */
  maxConnections: number;
  /** Programs started since listen(). */
  spawned: number;
  /** Requests that failed to start a program (spawn errors, protocol errors, busy). */
  failed: number;
  /** Requests and connections the policy refused (allowUids/allowGids at accept, the rest per request). */
  denied: number;
  /** Programs started with `detached: true` running now, whether their client is still there or not. */
  detached: number;
  /** What programs left running after their first process exited, that the server still holds ('cgroup' containment; maxRuntime and close() end them). */
  lingering: number;
  /** The containment in effect: 'cgroup', 'subreaper' or 'none' ('auto' resolved at listen). */
  containment: Exclude<ContainmentMode, 'auto'> | null;
}

/**
 * What 'warning' carries: a limit the server lowered to fit the process.
 * The server keeps running with it.
 */
export interface SidecarServerWarning extends Error {
  name: 'SidecarWarning';
  /** SIDECAR_NOFILE_LIMIT: RLIMIT_NOFILE cannot hold maxConnections connections of maxFds fds each. */
  code: 'SIDECAR_NOFILE_LIMIT';
  /** The soft RLIMIT_NOFILE, read at listen. */
  limit: number;
  /** The connections the server takes at once instead. */
  maxConnections: number;
  /** options.maxConnections. */
  configured: number;
}

export interface ServerRequestInfo {
  credentials: PeerCredentials;
  argv: string[];
  cwd: string;
  /** Variables the policy kept from the program (the client's values replaced by the server's). */
  droppedEnv: string[];
  /**
   * The PATH the program's name was looked up in: the program's PATH as the
   * server made it, or the server's own where the program has none or
   * allowCommands is set.
   */
  searchPath: string;
  /** Started with `detached: true`: a disconnect does not end it. */
  detached: boolean;
}

export interface SidecarServerEvents {
  listening: () => void;
  error: (error: Error) => void;
  close: () => void;
  /** A client connected and was admitted (allowUids/allowGids, maxConnections, maxConnectionsPerUid). */
  connection: (info: { credentials: PeerCredentials }) => void;
  /** A request was received and allowed. */
  request: (info: ServerRequestInfo) => void;
  /** A program started. */
  spawn: (info: ServerRequestInfo & { pid: number }) => void;
  /** A program ended. */
  exit: (info: ServerRequestInfo & { pid: number; exitCode: number | null; signal: NodeJS.Signals | null; reason: ExitReason; durationMs: number }) => void;
  /** The policy refused a request, or a connection at accept (allowUids/allowGids; argv is then empty). */
  denied: (info: { credentials: PeerCredentials; argv: string[]; reason: string }) => void;
  /** A client broke the protocol, a request failed before its program ran, or a connection was turned away busy. */
  clientError: (error: Error, info: { credentials: PeerCredentials }) => void;
  /** The server lowered a limit to fit the process (at listen); it keeps running. */
  warning: (warning: SidecarServerWarning) => void;
}

export interface SidecarServer extends NodeStyleEmitter<SidecarServerEvents> {}

/**
 * A server that runs programs for clients connecting to its socket. Made by
 * {@link createServer}; exported for `instanceof`. Its emitter has Node's
 * methods (prependListener, setMaxListeners...), as RemoteChildProcess's.
 */
export declare class SidecarServer {
  private constructor();
  /**
   * Creates the socket file and starts accepting. A stale socket file (nothing
   * listening) is replaced; a live one fails with EADDRINUSE.
   */
  listen(path: string, callback?: () => void): this;
  /**
   * Stops accepting and removes the socket file. Requests not yet running are
   * dropped; running programs may finish (until closeTimeout). 'close'
   * follows once every program has ended and been reported.
   */
  close(callback?: (error?: Error) => void): this;
  /** The socket path while listening, else null. */
  address(): string | null;
  readonly listening: boolean;
  /** Counters: connections, running, queued, bufferedBytes, maxConnections, spawned, failed, denied. */
  stats(): ServerStats;
  /** Lets the process exit while the server listens. */
  unref(): this;
  ref(): this;
}

/** Creates a server; call listen() to start it. */
export function createServer(options?: ServerOptions): SidecarServer;

/** Asks the server at `path` to stop; resolves once it acknowledged. */
export function stopServer(path: string): Promise<void>;

/** Asks the server at `path` whether it is up; resolves with the protocol version it speaks. */
export function pingServer(path: string): Promise<{ version: number }>;
