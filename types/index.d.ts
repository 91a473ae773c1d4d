// Public contract of sidecar-exec. Hand-written. src/ imports its public types
// from here, and src/contract.ts makes tsc fail when the implementation's
// exports, widest call forms or classes differ from what is declared here;
// the overloads' finer return types are pinned by the tsd tests instead.
//
// The child_process side mirrors @types/node's child_process declarations
// shape for shape (overloads, option interfaces, ChildProcess members), so
// that code typed for child_process compiles unchanged against ours, a
// RemoteChildProcess is assignable to ChildProcess, and remoteSpawn,
// remoteExec and remoteExecFile are assignable to typeof spawn, exec and
// execFile. types/test-d/ pins all of that.

/// <reference types="node" />

import type {
  ExecException as NodeExecException, ExecFileException as NodeExecFileException, MessageOptions, SendHandle,
  Serializable,
} from 'node:child_process';
import type { Readable, Stream, Writable } from 'node:stream';

// ---- events -----------------------------------------------------------------

/** An event map: each event's name and the listener it takes. */
export type EventListenerMap<Events> = { [K in keyof Events]: (...args: any[]) => void };

/**
 * Node's EventEmitter methods (node:events), with the listeners of the events
 * in `Events` typed and any other event name accepted as Node's emitters
 * accept it. The emitters are eventemitter3 instances underneath: they emit
 * no 'newListener'/'removeListener' events, have no captureRejections, and
 * report but do not enforce listener limits; an 'error' nobody listens to is
 * thrown, as Node's.
 */
export interface NodeStyleEmitter<Events extends EventListenerMap<Events>> {
  addListener<K extends keyof Events>(event: K, listener: Events[K]): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  on<K extends keyof Events>(event: K, listener: Events[K]): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<K extends keyof Events>(event: K, listener: Events[K]): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof Events>(event: K, listener: Events[K]): this;
  prependListener(event: string | symbol, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof Events>(event: K, listener: Events[K]): this;
  prependOnceListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof Events>(event: K, listener: Events[K]): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  off<K extends keyof Events>(event: K, listener: Events[K]): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  removeAllListeners(event?: string | symbol): this;
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): boolean;
  emit(event: string | symbol, ...args: any[]): boolean;
  listeners<K extends keyof Events>(event: K): Array<Events[K]>;
  listeners(event: string | symbol): Function[];
  /** The listeners as registered (`once` listeners included as given). */
  rawListeners<K extends keyof Events>(event: K): Array<Events[K]>;
  rawListeners(event: string | symbol): Function[];
  /** How many listeners `event` has; with `listener`, how many times that one is registered. */
  listenerCount(event: string | symbol, listener?: Function): number;
  eventNames(): Array<string | symbol>;
  /** Accepted and reported by getMaxListeners(); never enforced. */
  setMaxListeners(n: number): this;
  getMaxListeners(): number;
}

// ---- remoteSpawn options ----------------------------------------------------

/** Stdio entries that give the parent a stream: a pipe (`null`/`undefined` at 0-2 mean `'pipe'`). */
export type StdioPipeNamed = 'pipe' | 'overlapped';
export type StdioPipe = StdioPipeNamed | null | undefined;

/**
 * Stdio entries that give the parent no stream: `'inherit'` and an integer
 * pass that fd of this process to the program, `'ignore'` gives /dev/null, and
 * a Stream that has an fd (an opened fs stream, a net.Socket) passes its fd.
 */
export type StdioNull = 'inherit' | 'ignore' | number | Stream;

/**
 * One entry of `options.stdio`. `'ipc'` is accepted by the types only because
 * child_process's option types contain it (so that remoteSpawn stays
 * assignable to typeof spawn): remoteSpawn throws ERR_SIDECAR_UNSUPPORTED for
 * it, and a literal `'ipc'` resolves to a deprecated overload returning never.
 */
export type StdioEntry = StdioPipe | StdioNull | 'ipc';

/** `options.stdio`: a shorthand for all three, or one entry per child fd (fd 3, 4... beyond the first three). */
export type StdioOption = 'pipe' | 'overlapped' | 'inherit' | 'ignore' | readonly StdioEntry[];

/**
 * The variables whose values locate things, which the server makes fit
 * where the program runs unless `callerEnv` names them.
 */
export type LocatedEnvName = 'PATH' | 'HOME' | 'TMPDIR' | 'SHELL' | 'USER' | 'LOGNAME';

/**
 * Options of {@link remoteSpawn}: child_process.spawn's, plus `connect`,
 * `serverEnv`, `startWait`, `startTimeout` and `expectUid`. Unknown options are ignored at run time, as
 * child_process does; `serialization` (IPC) is left out of the type because
 * it throws ERR_SIDECAR_UNSUPPORTED.
 */
export interface RemoteSpawnOptions {
  /**
   * Path of the server's socket.
   * @default process.env.SIDECAR_SOCKET
   */
  connect?: string | undefined;
  /**
   * Working directory of the program, as a path on the server. It must exist
   * there: a volume mounted at the same place in both containers gives that.
   * A relative path is the caller's (resolved against process.cwd(), as
   * child_process resolves it) and travels absolute.
   * @default process.cwd()
   */
  cwd?: string | URL | undefined;
  /**
   * Environment of the program (own enumerable properties only).
   * @default process.env, or nothing extra when `serverEnv` is true
   */
  env?: NodeJS.ProcessEnv | undefined;
  /**
   * Start from the server's environment and lay `env` on top, for toolchain
   * containers whose PATH and variables matter.
   * @default false
   */
  serverEnv?: boolean | undefined;
  /**
   * Variables whose values in `env` reach the program exactly as given. By
   * default the server makes the ones that locate things fit where the
   * program runs: `PATH` keeps the entries that exist on the server and gains
   * the server's own; `HOME`, `TMPDIR` and `SHELL` stay only where they name
   * something on the server; `USER` and `LOGNAME` become the server's.
   * @default []
   */
  callerEnv?: readonly LocatedEnvName[] | undefined;
  /** Value of argv[0] for the program. @default command */
  argv0?: string | undefined;
  /**
   * How the program's fds are connected: `'pipe'` gives a Node stream here,
   * `'inherit'` passes this process's own fd (zero copy), `'ignore'` gives
   * /dev/null, a number passes that fd of this process.
   * @default 'pipe'
   */
  stdio?: StdioOption | undefined;
  /**
   * child_process's new session (setsid). A remote program gets a session of
   * its own either way, so that none reaches the server's controlling
   * terminal; the server's authorize() sees the flag.
   * @default false
   */
  detached?: boolean | undefined;
  /** Accepted and ignored, as on Linux. */
  windowsHide?: boolean | undefined;
  /** Accepted and ignored, as on Linux. */
  windowsVerbatimArguments?: boolean | undefined;
  /**
   * User id to run the program as. The server decides: by default it allows
   * only its own id, and refuses others with EPERM as child_process reports
   * it for an unprivileged caller.
   */
  uid?: number | undefined;
  /** Group id to run the program as; the server decides, as for `uid`. */
  gid?: number | undefined;
  /**
   * Run `command` and `args`, joined by spaces, with `<shell> -c`: `true`
   * means the server's `/bin/sh`, a string names the shell on the server.
   * @default false
   */
  shell?: boolean | string | undefined;
  /** Milliseconds after which the program is sent `killSignal`. @default undefined */
  timeout?: number | undefined;
  /** Signal for `timeout` and `signal`. @default 'SIGTERM' */
  killSignal?: NodeJS.Signals | number | undefined;
  /** Aborting it kills the program with `killSignal` and emits an AbortError. */
  signal?: AbortSignal | undefined;
  /**
   * Milliseconds remoteSpawn may block for the server's started reply, so
   * that `pid` is set when it returns (as child_process.spawn sets it); 0
   * never blocks, and a server that answers later sets `pid` at 'spawn'.
   * @default 50
   */
  startWait?: number | undefined;
  /**
   * Milliseconds the server may take to answer the request (the program
   * started, or the request failed), counted from remoteSpawn: connecting,
   * the server's policy and its work queue included. When none comes in
   * time the request is given up (the connection is closed, so nothing
   * starts for it) and the child emits 'error' with ERR_SIDECAR_START_TIMEOUT,
   * then 'close'. 0 waits as long as the server takes.
   * @default 0
   */
  startTimeout?: number | undefined;
  /**
   * The uid the server must run as. Before connecting, the socket file
   * (a symbolic link is refused) must belong to this uid and its directory
   * to this uid or root; after connecting, the process that listens must
   * run as this uid (SO_PEERCRED). Otherwise nothing is sent (no request,
   * fd or environment) and the error is ERR_SIDECAR_CONNECT with errno
   * EPERM, saying which. Protects a client from another user who moved the
   * server's socket aside and listens in its place.
   * @default undefined (any server)
   */
  expectUid?: number | undefined;
  /**
   * Run the program on a pseudo-terminal the server allocates: it becomes
   * the program's controlling terminal (a session of its own), and stdio
   * entries 0-2 that are pipes become that terminal. Its master travels back
   * to this process: `child.stdout` reads it (stdout and stderr merged, as on
   * any terminal; `child.stderr` is null) and `child.stdin` writes to it.
   * `true` is 80 columns by 24 rows; `child.resize()` changes the size.
   * @default false
   */
  tty?: boolean | TerminalSize | undefined;
}

/** A terminal's window size in character cells, each from 1 to 65535. */
export interface TerminalSize {
  /** @default 80 */
  columns?: number | undefined;
  /** @default 24 */
  rows?: number | undefined;
}

/** Options whose stdio makes pipes of stdin, stdout and stderr (child_process's SpawnOptionsWithoutStdio). */
export interface RemoteSpawnOptionsWithoutStdio extends RemoteSpawnOptions {
  stdio?: StdioPipeNamed | readonly StdioPipe[] | undefined;
}

/** Options with exactly three stdio entries, which decide which of stdin/stdout/stderr are streams. */
export interface RemoteSpawnOptionsWithStdioTuple<
  Stdin extends StdioNull | StdioPipe,
  Stdout extends StdioNull | StdioPipe,
  Stderr extends StdioNull | StdioPipe,
> extends RemoteSpawnOptions {
  stdio: readonly [Stdin, Stdout, Stderr];
}

/** `true` when some entry of the stdio tuple S is exactly `'ipc'` (a wider entry type, such as StdioEntry, is not). */
export type StdioHasIpc<S extends readonly StdioEntry[]> =
  true extends { [K in keyof S]: [S[K]] extends ['ipc'] ? true : false }[number] ? true : false;

/** Options whose stdio tuple has an `'ipc'` entry: remoteSpawn throws ERR_SIDECAR_UNSUPPORTED for them. */
export type RemoteSpawnOptionsWithIpc<S extends readonly StdioEntry[]> =
  RemoteSpawnOptions & { stdio: S & (StdioHasIpc<S> extends true ? unknown : never) };

// ---- RemoteChildProcess -----------------------------------------------------

/** Events of a {@link RemoteChildProcess}, with Node's arguments. */
export interface RemoteChildProcessEvents {
  spawn: () => void;
  error: (error: Error) => void;
  exit: (code: number | null, signal: NodeJS.Signals | null) => void;
  close: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface RemoteChildProcess extends NodeStyleEmitter<RemoteChildProcessEvents> {}

/**
 * A program running through a sidecar server, shaped like child_process's
 * ChildProcess and assignable to it. Made by remoteSpawn, remoteExec and
 * remoteExecFile (not constructible); exported for `instanceof`.
 */
export declare class RemoteChildProcess {
  private constructor();
  /** The program's pid on the server's side: set when remoteSpawn returns if the server answered within `startWait`, else at 'spawn'. */
  readonly pid: number | undefined;
  /** The program's stdin, when stdio[0] is a pipe. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /**
   * One entry per stdio entry: streams for pipes, else null. Typed as
   * child_process types it (a tuple of five); the array has as many entries
   * as options.stdio had, three at least.
   */
  readonly stdio: [
    Writable | null,
    Readable | null,
    Readable | null,
    Readable | Writable | null | undefined,
    Readable | Writable | null | undefined,
  ];
  /**
   * There is no IPC channel: always absent, so it reads as undefined (as for a
   * child spawned without 'ipc'). Optional `never`, so that it stays
   * assignable to ChildProcess's `channel?: Control | null` under
   * exactOptionalPropertyTypes too.
   */
  readonly channel?: never;
  /** Exit code once it exited (the negative errno after a failed start), else null. */
  readonly exitCode: number | null;
  /** Signal that killed it, else null. */
  readonly signalCode: NodeJS.Signals | null;
  /** True once kill() successfully sent a signal. */
  readonly killed: boolean;
  /**
   * Why the program ended, as the server saw it: 'exit' (on its own),
   * 'client-signal' (of a signal from kill()), 'maxRuntime' or 'close' (the
   * server ended it); null until 'exit', and when the server was lost.
   */
  readonly exitReason: import('./server').ExitReason | null;
  /** Always false: there is no IPC channel. */
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
  /**
   * There is no IPC channel to a remote program (child_process gives a child
   * without 'ipc' no `send` at all). With a callback, the callback gets an
   * ERR_SIDECAR_UNSUPPORTED SidecarError on the next tick (as Node's send
   * reports a closed channel); without one, that error is thrown. Returns
   * false.
   */
  send(message: Serializable, callback?: (error: Error | null) => void): false;
  send(message: Serializable, sendHandle?: SendHandle, callback?: (error: Error | null) => void): false;
  send(
    message: Serializable,
    sendHandle?: SendHandle,
    options?: MessageOptions,
    callback?: (error: Error | null) => void,
  ): false;
  /** There is no IPC channel: emits 'error' with ERR_IPC_DISCONNECTED, as Node's does for a disconnected channel. */
  disconnect(): void;
  /** Lets this process exit while the program still runs. */
  unref(): void;
  ref(): void;
  /**
   * Sets the window size of the program's terminal (`tty` option): the
   * program's process group gets SIGWINCH. Applied at 'spawn' when called
   * before; a no-op without a terminal or once the terminal is closed.
   * Throws ERR_OUT_OF_RANGE unless both are integers from 1 to 65535.
   */
  resize(columns: number, rows: number): void;
  /** As child_process's: kill() (SIGTERM) unless the program was already killed. */
  [Symbol.dispose](): void;
}

/** What remoteSpawn returns when stdin, stdout and stderr are pipes. */
export interface RemoteChildProcessWithoutNullStreams extends RemoteChildProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdio: [
    Writable,
    Readable,
    Readable,
    Readable | Writable | null | undefined,
    Readable | Writable | null | undefined,
  ];
}

/** What remoteSpawn returns for three stdio entries: a stream where the entry is a pipe, else null. */
export interface RemoteChildProcessByStdio<I extends null | Writable, O extends null | Readable, E extends null | Readable>
  extends RemoteChildProcess {
  readonly stdin: I;
  readonly stdout: O;
  readonly stderr: E;
  readonly stdio: [I, O, E, Readable | Writable | null | undefined, Readable | Writable | null | undefined];
}

// ---- remoteSpawn ------------------------------------------------------------

/** Runs `command` with `args` on the server, as child_process.spawn runs it locally. */
export function remoteSpawn(command: string, options?: RemoteSpawnOptionsWithoutStdio): RemoteChildProcessWithoutNullStreams;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioPipe, StdioPipe>,
): RemoteChildProcessByStdio<Writable, Readable, Readable>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioPipe, StdioNull>,
): RemoteChildProcessByStdio<Writable, Readable, null>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioNull, StdioPipe>,
): RemoteChildProcessByStdio<Writable, null, Readable>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe>,
): RemoteChildProcessByStdio<null, Readable, Readable>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioNull, StdioNull>,
): RemoteChildProcessByStdio<Writable, null, null>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioNull>,
): RemoteChildProcessByStdio<null, Readable, null>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioNull, StdioPipe>,
): RemoteChildProcessByStdio<null, null, Readable>;
export function remoteSpawn(
  command: string,
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioNull, StdioNull>,
): RemoteChildProcessByStdio<null, null, null>;
/**
 * @deprecated `'ipc'` cannot work remotely (there is no IPC channel to a
 * remote program): remoteSpawn throws ERR_SIDECAR_UNSUPPORTED.
 */
export function remoteSpawn<S extends readonly StdioEntry[] | []>(command: string, options: RemoteSpawnOptionsWithIpc<S>): never;
export function remoteSpawn(command: string, options: RemoteSpawnOptions): RemoteChildProcess;
export function remoteSpawn(
  command: string,
  args?: readonly string[],
  options?: RemoteSpawnOptionsWithoutStdio,
): RemoteChildProcessWithoutNullStreams;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioPipe, StdioPipe>,
): RemoteChildProcessByStdio<Writable, Readable, Readable>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioPipe, StdioNull>,
): RemoteChildProcessByStdio<Writable, Readable, null>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioNull, StdioPipe>,
): RemoteChildProcessByStdio<Writable, null, Readable>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe>,
): RemoteChildProcessByStdio<null, Readable, Readable>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioPipe, StdioNull, StdioNull>,
): RemoteChildProcessByStdio<Writable, null, null>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioNull>,
): RemoteChildProcessByStdio<null, Readable, null>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioNull, StdioPipe>,
): RemoteChildProcessByStdio<null, null, Readable>;
export function remoteSpawn(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithStdioTuple<StdioNull, StdioNull, StdioNull>,
): RemoteChildProcessByStdio<null, null, null>;
/**
 * @deprecated `'ipc'` cannot work remotely (there is no IPC channel to a
 * remote program): remoteSpawn throws ERR_SIDECAR_UNSUPPORTED.
 */
export function remoteSpawn<S extends readonly StdioEntry[] | []>(
  command: string,
  args: readonly string[],
  options: RemoteSpawnOptionsWithIpc<S>,
): never;
export function remoteSpawn(command: string, args: readonly string[], options: RemoteSpawnOptions): RemoteChildProcess;

// ---- remoteExec, remoteExecFile ---------------------------------------------

/**
 * The Buffer type of buffered output: Buffer<ArrayBuffer> (@types/node's
 * NonSharedBuffer) with an @types/node that has generic Buffers, else Buffer.
 */
export type ExecBuffer = ReturnType<typeof Buffer.alloc>;

/**
 * The error exec and execFile give their callback when the program failed,
 * with what it really carries (as Node's, whose own declarations are
 * narrower). The overloads of remoteExec and remoteExecFile declare
 * @types/node's ExecException and ExecFileException instead, so that they
 * stay assignable to typeof exec and execFile; a callback declared with this
 * type is accepted by them.
 */
export interface ExecException extends Error {
  /** Exit code, or the errno name when the program could not run, or ERR_CHILD_PROCESS_STDIO_MAXBUFFER. */
  code?: number | string | null;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
  cmd?: string;
  /** Set on the promise form's rejection. */
  stdout?: string | Buffer;
  stderr?: string | Buffer;
}

/** A callback of remoteExec and remoteExecFile, typed with {@link ExecException}. */
export type ExecCallback<T extends string | Buffer = string> = (error: ExecException | null, stdout: T, stderr: T) => void;

/** Options of {@link remoteExecFile}: child_process.execFile's, plus `connect`, `serverEnv`, `startWait`, `startTimeout` and `expectUid`. */
export interface RemoteExecFileOptions extends Omit<RemoteSpawnOptions, 'stdio' | 'detached' | 'argv0' | 'tty'> {
  /**
   * Encoding of stdout and stderr; 'buffer', null or an encoding Buffer does
   * not know give Buffers.
   * @default 'utf8'
   */
  encoding?: string | null | undefined;
  /** Most bytes of stdout or stderr kept; beyond, the program is killed. @default 1048576 */
  maxBuffer?: number | undefined;
}

export interface RemoteExecFileOptionsWithStringEncoding extends RemoteExecFileOptions {
  encoding?: BufferEncoding | undefined;
}

export interface RemoteExecFileOptionsWithBufferEncoding extends RemoteExecFileOptions {
  encoding: 'buffer' | null;
}

/** Options of {@link remoteExec}: child_process.exec's, plus `connect`, `serverEnv`, `startWait`, `startTimeout` and `expectUid`. */
export interface RemoteExecOptions extends RemoteExecFileOptions {
  /** The shell on the server. @default '/bin/sh' */
  shell?: string | undefined;
}

export interface RemoteExecOptionsWithStringEncoding extends RemoteExecOptions {
  encoding?: BufferEncoding | undefined;
}

export interface RemoteExecOptionsWithBufferEncoding extends RemoteExecOptions {
  encoding: 'buffer' | null;
}

/** What util.promisify(remoteExec) and util.promisify(remoteExecFile) return: the promise, with the child on it. */
export interface PromiseWithChild<T> extends Promise<T> {
  child: RemoteChildProcess;
}

/** Runs `command` in the server's shell and buffers its output, as child_process.exec. */
export function remoteExec(
  command: string,
  callback?: (error: NodeExecException | null, stdout: string, stderr: string) => void,
): RemoteChildProcess;
export function remoteExec(
  command: string,
  options: RemoteExecOptionsWithBufferEncoding,
  callback?: (error: NodeExecException | null, stdout: ExecBuffer, stderr: ExecBuffer) => void,
): RemoteChildProcess;
export function remoteExec(
  command: string,
  options: RemoteExecOptionsWithStringEncoding,
  callback?: (error: NodeExecException | null, stdout: string, stderr: string) => void,
): RemoteChildProcess;
export function remoteExec(
  command: string,
  options: RemoteExecOptions | undefined | null,
  callback?: (error: NodeExecException | null, stdout: string | ExecBuffer, stderr: string | ExecBuffer) => void,
): RemoteChildProcess;

/** The util.promisify form: resolves `{ stdout, stderr }`, rejects with the callback's error (with stdout and stderr). */
export namespace remoteExec {
  function __promisify__(command: string): PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(
    command: string,
    options: RemoteExecOptionsWithBufferEncoding,
  ): PromiseWithChild<{ stdout: ExecBuffer; stderr: ExecBuffer }>;
  function __promisify__(
    command: string,
    options: RemoteExecOptionsWithStringEncoding,
  ): PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(
    command: string,
    options: RemoteExecOptions | undefined | null,
  ): PromiseWithChild<{ stdout: string | ExecBuffer; stderr: string | ExecBuffer }>;
}

/** Runs `file` with `args` through the server and buffers its output, as child_process.execFile. */
export function remoteExecFile(
  file: string,
  callback?: (error: NodeExecFileException | null, stdout: string, stderr: string) => void,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  args: readonly string[] | undefined | null,
  callback?: (error: NodeExecFileException | null, stdout: string, stderr: string) => void,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  options: RemoteExecFileOptionsWithBufferEncoding,
  callback?: (error: NodeExecFileException | null, stdout: ExecBuffer, stderr: ExecBuffer) => void,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  args: readonly string[] | undefined | null,
  options: RemoteExecFileOptionsWithBufferEncoding,
  callback?: (error: NodeExecFileException | null, stdout: ExecBuffer, stderr: ExecBuffer) => void,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  options: RemoteExecFileOptionsWithStringEncoding,
  callback?: (error: NodeExecFileException | null, stdout: string, stderr: string) => void,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  args: readonly string[] | undefined | null,
  options: RemoteExecFileOptionsWithStringEncoding,
  callback?: (error: NodeExecFileException | null, stdout: string, stderr: string) => void,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  options: RemoteExecFileOptions | undefined | null,
  callback:
    | ((error: NodeExecFileException | null, stdout: string | ExecBuffer, stderr: string | ExecBuffer) => void)
    | undefined
    | null,
): RemoteChildProcess;
export function remoteExecFile(
  file: string,
  args: readonly string[] | undefined | null,
  options: RemoteExecFileOptions | undefined | null,
  callback:
    | ((error: NodeExecFileException | null, stdout: string | ExecBuffer, stderr: string | ExecBuffer) => void)
    | undefined
    | null,
): RemoteChildProcess;

/** The util.promisify form: resolves `{ stdout, stderr }`, rejects with the callback's error (with stdout and stderr). */
export namespace remoteExecFile {
  function __promisify__(file: string): PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(
    file: string,
    args: readonly string[] | undefined | null,
  ): PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(
    file: string,
    options: RemoteExecFileOptionsWithBufferEncoding,
  ): PromiseWithChild<{ stdout: ExecBuffer; stderr: ExecBuffer }>;
  function __promisify__(
    file: string,
    args: readonly string[] | undefined | null,
    options: RemoteExecFileOptionsWithBufferEncoding,
  ): PromiseWithChild<{ stdout: ExecBuffer; stderr: ExecBuffer }>;
  function __promisify__(
    file: string,
    options: RemoteExecFileOptionsWithStringEncoding,
  ): PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(
    file: string,
    args: readonly string[] | undefined | null,
    options: RemoteExecFileOptionsWithStringEncoding,
  ): PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(
    file: string,
    options: RemoteExecFileOptions | undefined | null,
  ): PromiseWithChild<{ stdout: string | ExecBuffer; stderr: string | ExecBuffer }>;
  function __promisify__(
    file: string,
    args: readonly string[] | undefined | null,
    options: RemoteExecFileOptions | undefined | null,
  ): PromiseWithChild<{ stdout: string | ExecBuffer; stderr: string | ExecBuffer }>;
}

// ---- the sync calls -----------------------------------------------------------

/**
 * Stdio of the sync calls: remoteSpawn's forms, and, as child_process's sync
 * calls take them, a string or buffer entry: a pipe the program reads that
 * input from.
 */
export type SyncStdioOption =
  | 'pipe' | 'overlapped' | 'inherit' | 'ignore'
  | readonly (StdioEntry | string | NodeJS.ArrayBufferView)[];

/**
 * Options of {@link remoteSpawnSync}: child_process.spawnSync's, plus
 * `connect`, `serverEnv` and `expectUid`. `timeout` sends `killSignal` to the
 * program; a server that has not answered at all by then gets two more
 * seconds before the call hangs up and reports ETIMEDOUT.
 */
export interface RemoteSpawnSyncOptions extends Omit<RemoteSpawnOptions, 'stdio' | 'signal' | 'startWait' | 'tty'> {
  stdio?: SyncStdioOption | undefined;
  /** Written to the program's stdin (a string in `encoding`), which is then closed. */
  input?: string | NodeJS.ArrayBufferView | undefined;
  /**
   * Most bytes of all output pipes together; beyond, the program gets
   * `killSignal` and the result's error is ENOBUFS. 0 or undefined given
   * explicitly: no limit.
   * @default 1048576
   */
  maxBuffer?: number | undefined;
  /** Encoding of the outputs; 'buffer' or none gives Buffers. */
  encoding?: BufferEncoding | 'buffer' | null | undefined;
}

export interface RemoteSpawnSyncOptionsWithStringEncoding extends RemoteSpawnSyncOptions {
  encoding: BufferEncoding;
}

export interface RemoteSpawnSyncOptionsWithBufferEncoding extends RemoteSpawnSyncOptions {
  encoding?: 'buffer' | null | undefined;
}

/**
 * What {@link remoteSpawnSync} returns, as child_process.spawnSync: `pid` is
 * the server's (0 when nothing ran), and, as there, `output`, `stdout` and
 * `stderr` are null when the program could not run, although the type (that
 * of @types/node) does not say so. `error` carries the spawn's errno
 * ('spawnSync <file> ENOENT', ETIMEDOUT, ENOBUFS) or an ERR_SIDECAR_* error.
 */
export interface RemoteSpawnSyncReturns<T> {
  pid: number;
  output: Array<T | null>;
  stdout: T;
  stderr: T;
  status: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Runs `command` with `args` on the server and waits for it, as child_process.spawnSync. */
export function remoteSpawnSync(command: string): RemoteSpawnSyncReturns<ExecBuffer>;
export function remoteSpawnSync(command: string, options: RemoteSpawnSyncOptionsWithStringEncoding): RemoteSpawnSyncReturns<string>;
export function remoteSpawnSync(command: string, options: RemoteSpawnSyncOptionsWithBufferEncoding): RemoteSpawnSyncReturns<ExecBuffer>;
export function remoteSpawnSync(command: string, options?: RemoteSpawnSyncOptions): RemoteSpawnSyncReturns<string | ExecBuffer>;
export function remoteSpawnSync(command: string, args: readonly string[]): RemoteSpawnSyncReturns<ExecBuffer>;
export function remoteSpawnSync(
  command: string,
  args: readonly string[],
  options: RemoteSpawnSyncOptionsWithStringEncoding,
): RemoteSpawnSyncReturns<string>;
export function remoteSpawnSync(
  command: string,
  args: readonly string[],
  options: RemoteSpawnSyncOptionsWithBufferEncoding,
): RemoteSpawnSyncReturns<ExecBuffer>;
export function remoteSpawnSync(
  command: string,
  args?: readonly string[],
  options?: RemoteSpawnSyncOptions,
): RemoteSpawnSyncReturns<string | ExecBuffer>;

/** Options of {@link remoteExecFileSync}: child_process.execFileSync's, plus `connect`, `serverEnv` and `expectUid`. */
export interface RemoteExecFileSyncOptions extends Omit<RemoteSpawnSyncOptions, 'detached'> {
  shell?: boolean | string | undefined;
}

export interface RemoteExecFileSyncOptionsWithStringEncoding extends RemoteExecFileSyncOptions {
  encoding: BufferEncoding;
}

export interface RemoteExecFileSyncOptionsWithBufferEncoding extends RemoteExecFileSyncOptions {
  encoding?: 'buffer' | null | undefined;
}

/** Options of {@link remoteExecSync}: child_process.execSync's, plus `connect`, `serverEnv` and `expectUid`. */
export interface RemoteExecSyncOptions extends RemoteExecFileSyncOptions {
  /** The shell on the server. @default '/bin/sh' */
  shell?: string | undefined;
}

export interface RemoteExecSyncOptionsWithStringEncoding extends RemoteExecSyncOptions {
  encoding: BufferEncoding;
}

export interface RemoteExecSyncOptionsWithBufferEncoding extends RemoteExecSyncOptions {
  encoding?: 'buffer' | null | undefined;
}

/**
 * Runs `command` in the server's shell and returns its stdout, as
 * child_process.execSync; throws its error (status, signal, output, stdout,
 * stderr and pid on it) when the command fails or cannot run. Without a
 * `stdio` option its stderr is also written to this process's.
 */
export function remoteExecSync(command: string): ExecBuffer;
export function remoteExecSync(command: string, options: RemoteExecSyncOptionsWithStringEncoding): string;
export function remoteExecSync(command: string, options: RemoteExecSyncOptionsWithBufferEncoding): ExecBuffer;
export function remoteExecSync(command: string, options?: RemoteExecSyncOptions): string | ExecBuffer;

/** Runs `file` with `args` on the server and returns its stdout, as child_process.execFileSync. */
export function remoteExecFileSync(file: string): ExecBuffer;
export function remoteExecFileSync(file: string, options: RemoteExecFileSyncOptionsWithStringEncoding): string;
export function remoteExecFileSync(file: string, options: RemoteExecFileSyncOptionsWithBufferEncoding): ExecBuffer;
export function remoteExecFileSync(file: string, options?: RemoteExecFileSyncOptions): string | ExecBuffer;
export function remoteExecFileSync(file: string, args: readonly string[]): ExecBuffer;
export function remoteExecFileSync(
  file: string,
  args: readonly string[],
  options: RemoteExecFileSyncOptionsWithStringEncoding,
): string;
export function remoteExecFileSync(
  file: string,
  args: readonly string[],
  options: RemoteExecFileSyncOptionsWithBufferEncoding,
): ExecBuffer;
export function remoteExecFileSync(
  file: string,
  args?: readonly string[] | null,
  options?: RemoteExecFileSyncOptions | null,
): string | ExecBuffer;

// ---- remoteKill, createClient -----------------------------------------------

/**
 * process.kill() for remote programs this process started: sends `signal` to
 * the running remote program with that pid. Throws ESRCH when there is none.
 * @default signal 'SIGTERM'
 */
export function remoteKill(pid: number, signal?: NodeJS.Signals | number): true;

/** Options of {@link createClient}: the socket and defaults for every call. */
export interface RemoteClientOptions extends RemoteExecFileOptions {
  /** @default process.env.SIDECAR_SOCKET */
  connect?: string | undefined;
}

/**
 * An object shaped like the child_process module, bound to one server: its
 * spawn, exec, execFile, spawnSync, execSync and execFileSync are assignable
 * to child_process's.
 */
export interface RemoteClient {
  readonly connect: string;
  spawn: typeof remoteSpawn;
  exec: typeof remoteExec;
  execFile: typeof remoteExecFile;
  spawnSync: typeof remoteSpawnSync;
  execSync: typeof remoteExecSync;
  execFileSync: typeof remoteExecFileSync;
  kill: typeof remoteKill;
}

/** A child_process-like object bound to one server and default options. */
export function createClient(options?: RemoteClientOptions): RemoteClient;

// ---- errors -----------------------------------------------------------------

/** Stable codes of errors that Node's child_process cannot have. */
export type SidecarErrorCode =
  | 'ERR_SIDECAR_ADDON'
  | 'ERR_SIDECAR_BUSY'
  | 'ERR_SIDECAR_CONNECT'
  | 'ERR_SIDECAR_DENIED'
  | 'ERR_SIDECAR_DETACHED_REFUSED'
  | 'ERR_SIDECAR_DISCONNECTED'
  | 'ERR_SIDECAR_NO_SOCKET'
  | 'ERR_SIDECAR_PROTOCOL'
  | 'ERR_SIDECAR_REQUEST_TOO_LARGE'
  | 'ERR_SIDECAR_START_TIMEOUT'
  | 'ERR_SIDECAR_UNSAFE_DIRECTORY'
  | 'ERR_SIDECAR_UNSUPPORTED';

/** An error only sidecar-exec can have; see docs/errors.md. */
export class SidecarError extends Error {
  /**
   * `extra` is copied onto the error (socket, errno, syscall, ...); `cause`
   * becomes its `cause`.
   */
  constructor(code: SidecarErrorCode, message: string, extra?: Record<string, unknown>, cause?: unknown);
  readonly code: SidecarErrorCode;
  /** The socket path, when the error is about one. */
  readonly socket?: string;
  /** ERR_SIDECAR_UNSAFE_DIRECTORY: the directory (or symbolic link) another user controls. */
  readonly path?: string;
  /** errno of the underlying system call, when there is one (negative, as Node's). */
  readonly errno?: number;
  readonly syscall?: string;
}

/**
 * Facts every error made from a server's refusal or spawn failure carries
 * besides child_process's fields. Not enumerable, so that the error's own keys
 * stay those child_process gives.
 */
export interface RemoteFailureFacts {
  /** The server-side step that failed: 'chdir', 'execve', 'interpreter' (a missing #! interpreter), 'setuid', 'authorize', 'queue', 'protocol'... */
  readonly serverSyscall?: string;
}

/** True for errors created by sidecar-exec (works across realms). */
export function isSidecarError(value: unknown): value is SidecarError;

/** Node's AbortError: what an aborted `signal` option emits (code ABORT_ERR, the signal's reason as `cause`). */
export class AbortError extends Error {
  constructor(message?: string, options?: { cause?: unknown });
  readonly code: 'ABORT_ERR';
}

export * from './server';

/** Version of the wire protocol this package speaks. */
export const PROTOCOL_VERSION: 1;
