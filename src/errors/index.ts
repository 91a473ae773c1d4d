// Error construction in one place.
//
// Where sidecar-exec mirrors Node, it uses Node's vocabulary: argument errors
// are TypeError/RangeError with ERR_INVALID_ARG_TYPE and friends, and a
// failed spawn is Node's ErrnoException shape ('spawn <file> ENOENT' with
// errno, code, syscall, path, spawnargs). Failures Node cannot have get a
// stable ERR_SIDECAR_* code from the registry below.

import * as os from 'node:os';
import * as util from 'node:util';

/**
 * Our own codes, sorted, never renamed and never reused. Each is documented
 * in docs/errors.md.
 */
export const SIDECAR_CODES = {
  /** The server's work queue is full, or a request waited longer than its queueTimeout, or too many connections. */
  ERR_SIDECAR_BUSY: 'ERR_SIDECAR_BUSY',
  /** The server socket could not be reached (no socket path, nothing listening, no permission). */
  ERR_SIDECAR_CONNECT: 'ERR_SIDECAR_CONNECT',
  /** The server's policy refused the request. */
  ERR_SIDECAR_DENIED: 'ERR_SIDECAR_DENIED',
  /** The connection to the server ended before the program's exit was reported. */
  ERR_SIDECAR_DISCONNECTED: 'ERR_SIDECAR_DISCONNECTED',
  /** No socket path: neither options.connect nor SIDECAR_SOCKET is set. */
  ERR_SIDECAR_NO_SOCKET: 'ERR_SIDECAR_NO_SOCKET',
  /** A peer sent a message that breaks the protocol (version, size, shape). */
  ERR_SIDECAR_PROTOCOL: 'ERR_SIDECAR_PROTOCOL',
  /** The request (argv + env + cwd) exceeds the protocol's size limit. */
  ERR_SIDECAR_REQUEST_TOO_LARGE: 'ERR_SIDECAR_REQUEST_TOO_LARGE',
  /** An option of child_process that cannot work remotely (yet). */
  ERR_SIDECAR_UNSUPPORTED: 'ERR_SIDECAR_UNSUPPORTED',
} as const;

export type SidecarErrorCode = keyof typeof SIDECAR_CODES;

/** Brand that marks every error this package creates, independent of realms. */
export const kSidecarError: unique symbol = Symbol.for('sidecar-exec.error');

/** An error of ours: a message, a stable code and optional extra facts. */
export class SidecarError extends Error {
  readonly code: string;
  declare readonly [kSidecarError]: true;

  constructor(code: SidecarErrorCode, message: string, extra?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SidecarError';
    this.code = code;
    Object.defineProperty(this, kSidecarError, { value: true });
    if (extra !== undefined) Object.assign(this, extra);
  }
}

/** True for errors created by this package. */
export function isSidecarError(value: unknown): value is SidecarError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kSidecarError] === true;
}

// ---- Node's argument errors -------------------------------------------------

function describeReceived(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor;
    if (ctor !== undefined && ctor.name) return ` Received an instance of ${ctor.name}`;
    return ` Received ${util.inspect(value, { depth: -1 })}`;
  }
  let inspected = util.inspect(value, { colors: false });
  if (inspected.length > 25) inspected = `${inspected.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${inspected})`;
}

function withCode<T extends Error>(error: T, code: string): T & { code: string } {
  // Node shows the code in the name part of the stack ("TypeError [ERR_X]: ...")
  // while `name` itself stays plain.
  if (typeof error.stack === 'string' && error.stack.startsWith(`${error.name}: `)) {
    error.stack = `${error.name} [${code}]${error.stack.slice(error.name.length)}`;
  }
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as T & { code: string };
}

/** ERR_INVALID_ARG_TYPE, worded as Node words it. */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & { code: string } {
  const kind = name.includes('.') ? 'property' : 'argument';
  return withCode(new TypeError(`The "${name}" ${kind} must be ${expected}.${describeReceived(actual)}`),
    'ERR_INVALID_ARG_TYPE');
}

/** ERR_INVALID_ARG_VALUE, worded as Node words it. */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): TypeError & { code: string } {
  const kind = name.includes('.') ? 'property' : 'argument';
  let inspected = util.inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  return withCode(new TypeError(`The ${kind} '${name}' ${reason}. Received ${inspected}`), 'ERR_INVALID_ARG_VALUE');
}

/** ERR_OUT_OF_RANGE, worded as Node words it. */
export function outOfRange(name: string, range: string, value: unknown): RangeError & { code: string } {
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`),
    'ERR_OUT_OF_RANGE');
}

/** Node's AbortError: what an aborted `signal` option produces. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** ERR_CHILD_PROCESS_STDIO_MAXBUFFER, as exec reports an overflowing stream. */
export function maxBufferExceeded(stream: 'stdout' | 'stderr'): RangeError & { code: string } {
  return withCode(new RangeError(`${stream} maxBuffer length exceeded`), 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
}

/**
 * ERR_INVALID_SYNC_FORK_INPUT: what child_process.spawn throws for a string or
 * buffer among the stdio entries (only spawnSync takes input that way).
 */
export function invalidSyncForkInput(value: unknown): TypeError & { code: string } {
  return withCode(new TypeError(`Asynchronous forks do not support Buffer, TypedArray, DataView or string input: ${util.inspect(value)}`),
    'ERR_INVALID_SYNC_FORK_INPUT');
}

/** ERR_UNKNOWN_SIGNAL, as child.kill() throws it. */
export function unknownSignal(signal: unknown): TypeError & { code: string } {
  return withCode(new TypeError(`Unknown signal: ${String(signal)}`), 'ERR_UNKNOWN_SIGNAL');
}

/** ERR_SIDECAR_UNSUPPORTED for an option that cannot (yet) work remotely. */
export function unsupportedOption(name: string, why: string): SidecarError {
  return new SidecarError('ERR_SIDECAR_UNSUPPORTED', `The option "${name}" is not supported by sidecar-exec: ${why}`);
}

// ---- System errors ----------------------------------------------------------

/** Name of a positive errno number ('ENOENT'), or 'Unknown system error N'. */
export function errnoName(errno: number): string {
  try {
    return util.getSystemErrorName(-Math.abs(errno));
  } catch {
    return `Unknown system error ${errno}`;
  }
}

/** Positive errno number of a name, or undefined. */
export function errnoNumber(code: string): number | undefined {
  return (os.constants.errno as Record<string, number>)[code];
}

/** Node's ErrnoException: message '<syscall> <CODE>', negative errno. */
export interface ErrnoError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path?: string;
  spawnargs?: string[];
}

export function errnoException(errno: number, syscall: string, detail?: string): ErrnoError {
  const code = errnoName(errno);
  const message = detail === undefined ? `${syscall} ${code}` : `${syscall} ${code}: ${detail}`;
  const error = new Error(message) as ErrnoError;
  error.errno = -Math.abs(errno);
  error.code = code;
  error.syscall = syscall;
  return error;
}

/** The error a native call threw, as it arrives from the addon. */
export interface NativeError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isNativeError(value: unknown): value is NativeError {
  return value instanceof Error && typeof (value as NativeError).errno === 'number' &&
    typeof (value as NativeError).syscall === 'string';
}
