// Public contract of sidecar-exec. Hand-written: src/ imports its public types
// from here, so the implementation and the declarations cannot drift apart.

/// <reference types="node" />

import type { EventEmitter } from 'eventemitter3';
import type { Readable, Writable } from 'node:stream';

/** One entry of `options.stdio`. */
export type StdioEntry = 'pipe' | 'inherit' | 'ignore' | number | null | undefined;

/** `options.stdio`: a shorthand for all three, or one entry per child fd. */
export type StdioOption = 'pipe' | 'inherit' | 'ignore' | StdioEntry[];

/** Options of {@link remoteSpawn}. Unknown options are ignored, as child_process does. */
export interface RemoteSpawnOptions {
  /**
   * Path of the server's socket.
   * @default process.env.SIDECAR_SOCKET
   */
  connect?: string;
  /**
   * Working directory of the program, as a path on the server. It must exist
   * there: a volume mounted at the same place in both containers gives that.
   * @default process.cwd()
   */
  cwd?: string | URL;
  /**
   * Environment of the program (own enumerable properties only).
   * @default process.env, or nothing extra when `serverEnv` is true
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Start from the server's environment and lay `env` on top, for toolchain
   * containers whose PATH and variables matter.
   * @default false
   */
  serverEnv?: boolean;
  /** Value of argv[0] for the program. @default command */
  argv0?: string;
  /**
   * How the program's fds are connected: `'pipe'` gives a Node stream here,
   * `'inherit'` passes this process's own fd (zero copy), `'ignore'` gives
   * /dev/null, a number passes that fd of this process.
   * @default 'pipe'
   */
  stdio?: StdioOption;
  /** Run the program in a new session (setsid) rather than only a new process group. @default false */
  detached?: boolean;
  /** Accepted and ignored, as on Linux. */
  windowsHide?: boolean;
  /** Accepted and ignored, as on Linux. */
  windowsVerbatimArguments?: boolean;
}

/** Events of a {@link RemoteChildProcess}, with Node's arguments. */
export interface RemoteChildProcessEvents {
  spawn: () => void;
  error: (error: Error) => void;
  exit: (code: number | null, signal: NodeJS.Signals | null) => void;
  close: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** A program running through a sidecar server, shaped like child_process's ChildProcess. */
export interface RemoteChildProcess extends EventEmitter<RemoteChildProcessEvents> {
  /** The program's pid on the server's side; undefined until 'spawn'. */
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: [Writable | null, Readable | null, Readable | null, ...(Readable | Writable | null)[]];
  /** Exit code once it exited, else null. */
  readonly exitCode: number | null;
  /** Signal that killed it, else null. */
  readonly signalCode: NodeJS.Signals | null;
  /** True once kill() successfully sent a signal. */
  readonly killed: boolean;
  readonly connected: false;
  readonly spawnfile: string;
  readonly spawnargs: string[];
  /**
   * Sends a signal to the program's process group through the server.
   * Throws ERR_UNKNOWN_SIGNAL for an unknown signal; returns false once the
   * program is known to have ended.
   * @default 'SIGTERM'
   */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** Lets this process exit while the program still runs. */
  unref(): void;
  ref(): void;
}

/** Runs `command` with `args` on the server, as child_process.spawn runs it locally. */
export function remoteSpawn(command: string, options?: RemoteSpawnOptions): RemoteChildProcess;
export function remoteSpawn(command: string, args?: readonly string[], options?: RemoteSpawnOptions): RemoteChildProcess;

/** Options of {@link createServer}. */
export interface ServerOptions {
  /**
   * Permission bits of the socket file. Whoever may write to it may run
   * programs as the server's user.
   * @default 0o600
   */
  mode?: number;
  /**
   * Accept `stop` requests (from `sidecar stop`, {@link stopServer}).
   * @default true
   */
  allowStop?: boolean;
  /** listen(2) backlog. @default 511 */
  backlog?: number;
}

export interface SidecarServerEvents {
  listening: () => void;
  error: (error: Error) => void;
  close: () => void;
}

/** A server that runs programs for clients connecting to its socket. */
export interface SidecarServer extends EventEmitter<SidecarServerEvents> {
  /**
   * Creates the socket file and starts accepting. A stale socket file (nothing
   * listening) is replaced; a live one fails with EADDRINUSE.
   */
  listen(path: string, callback?: () => void): this;
  /**
   * Stops accepting and removes the socket file; 'close' follows once every
   * running program has ended and been reported.
   */
  close(callback?: (error?: Error) => void): this;
  /** The socket path while listening, else null. */
  address(): string | null;
  readonly listening: boolean;
  /** Lets the process exit while the server listens. */
  unref(): this;
  ref(): this;
}

/** Creates a server; call listen() to start it. */
export function createServer(options?: ServerOptions): SidecarServer;

/** Asks the server at `path` to stop; resolves once it acknowledged. */
export function stopServer(path: string): Promise<void>;

/** Stable codes of errors that Node's child_process cannot have. */
export type SidecarErrorCode =
  | 'ERR_SIDECAR_CONNECT'
  | 'ERR_SIDECAR_DENIED'
  | 'ERR_SIDECAR_DISCONNECTED'
  | 'ERR_SIDECAR_NO_SOCKET'
  | 'ERR_SIDECAR_PROTOCOL'
  | 'ERR_SIDECAR_REQUEST_TOO_LARGE'
  | 'ERR_SIDECAR_UNSUPPORTED';

/** An error only sidecar-exec can have; see docs/errors.md. */
export class SidecarError extends Error {
  readonly code: SidecarErrorCode;
  /** The socket path, when the error is about one. */
  readonly socket?: string;
  /** errno of the underlying system call, when there is one (negative, as Node's). */
  readonly errno?: number;
  readonly syscall?: string;
}

/** True for errors created by sidecar-exec (works across realms). */
export function isSidecarError(value: unknown): value is SidecarError;

/** Version of the wire protocol this package speaks. */
export const PROTOCOL_VERSION: 1;
