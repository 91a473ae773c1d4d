// System errors: errno names and numbers, and Node's ErrnoException shape
// ('<syscall> <CODE>' with a negative errno), built from the facts a native
// call reports ({ errno, code, syscall }).

import * as os from 'node:os';
import * as util from 'node:util';

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
