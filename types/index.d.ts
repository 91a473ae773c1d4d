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
  /**
   * User id to run the program as. The server decides: by default it allows
   * only its own id, and refuses others with EPERM as child_process reports
   * it for an unprivileged caller.
   */
  uid?: number;
  /** Group id to run the program as; the server decides, as for `uid`. */
  gid?: number;
  /**
   * Run `command` and `args`, joined by spaces, with `<shell> -c`: `true`
   * means the server's `/bin/sh`, a string names the shell on the server.
   * @default false
   */
  shell?: boolean | string;
  /** Milliseconds after which the program is sent `killSignal`. @default undefined */
  timeout?: number;
  /** Signal for `timeout` and `signal`. @default 'SIGTERM' */
  killSignal?: NodeJS.Signals | number;
  /** Aborting it kills the program with `killSignal` and emits an AbortError. */
  signal?: AbortSignal;
  /**
   * Milliseconds remoteSpawn may block for the server's started reply, so
   * that `pid` is set when it returns (as child_process.spawn sets it); 0
   * never blocks, and a server that answers later sets `pid` at 'spawn'.
   * @default 50
   */
  startWait?: number;
}

/** The error exec and execFile give their callback when the program failed. */
export interface ExecException extends Error {
  /** Exit code, or the errno name when the program could not run. */
  code?: number | string | null;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
  cmd?: string;
  /** Set on the promise form's rejection. */
  stdout?: string | Buffer;
  stderr?: string | Buffer;
}

export type ExecCallback<T extends string | Buffer = string> = (error: ExecException | null, stdout: T, stderr: T) => void;

/** Options of {@link remoteExecFile}. */
export interface RemoteExecFileOptions extends Omit<RemoteSpawnOptions, 'stdio' | 'detached' | 'argv0'> {
  /** Encoding of stdout and stderr, or 'buffer' for Buffers. @default 'utf8' */
  encoding?: BufferEncoding | 'buffer' | null;
  /** Most bytes of stdout or stderr kept; beyond, the program is killed. @default 1048576 */
  maxBuffer?: number;
  argv0?: string;
}

/** Options of {@link remoteExec}. */
export interface RemoteExecOptions extends RemoteExecFileOptions {
  /** The shell on the server. @default '/bin/sh' */
  shell?: string;
}

/** Runs `command` in the server's shell and buffers its output, as child_process.exec. */
export function remoteExec(command: string, callback?: ExecCallback<string>): RemoteChildProcess;
export function remoteExec(command: string, options: RemoteExecOptions & { encoding: 'buffer' | null }, callback?: ExecCallback<Buffer>): RemoteChildProcess;
export function remoteExec(command: string, options: RemoteExecOptions | undefined | null, callback?: ExecCallback<string>): RemoteChildProcess;

/** Runs `file` with `args` through the server and buffers its output, as child_process.execFile. */
export function remoteExecFile(file: string, callback?: ExecCallback<string>): RemoteChildProcess;
export function remoteExecFile(file: string, args: readonly string[] | undefined | null, callback?: ExecCallback<string>): RemoteChildProcess;
export function remoteExecFile(file: string, options: RemoteExecFileOptions & { encoding: 'buffer' | null }, callback?: ExecCallback<Buffer>): RemoteChildProcess;
export function remoteExecFile(file: string, options: RemoteExecFileOptions | undefined | null, callback?: ExecCallback<string>): RemoteChildProcess;
export function remoteExecFile(file: string, args: readonly string[] | undefined | null, options: RemoteExecFileOptions & { encoding: 'buffer' | null }, callback?: ExecCallback<Buffer>): RemoteChildProcess;
export function remoteExecFile(file: string, args: readonly string[] | undefined | null, options: RemoteExecFileOptions | undefined | null, callback?: ExecCallback<string>): RemoteChildProcess;

/**
 * process.kill() for remote programs this process started: sends `signal` to
 * the running remote program with that pid. Throws ESRCH when there is none.
 * @default signal 'SIGTERM'
 */
export function remoteKill(pid: number, signal?: NodeJS.Signals | number): true;

/** Options of {@link createClient}: the socket and defaults for every call. */
export interface RemoteClientOptions extends RemoteExecFileOptions {
  /** @default process.env.SIDECAR_SOCKET */
  connect?: string;
}

/** An object shaped like the child_process module, bound to one server. */
export interface RemoteClient {
  readonly connect: string;
  spawn: typeof remoteSpawn;
  exec: typeof remoteExec;
  execFile: typeof remoteExecFile;
  kill: typeof remoteKill;
}

/** A child_process-like object bound to one server and default options. */
export function createClient(options?: RemoteClientOptions): RemoteClient;

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
