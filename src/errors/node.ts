// The errors Node itself would throw where sidecar-exec mirrors it, worded as
// Node words them: argument errors (ERR_INVALID_ARG_TYPE and friends),
// ERR_UNKNOWN_SIGNAL, the exec maxBuffer error and AbortError.

import * as util from 'node:util';

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
