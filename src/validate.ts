// Argument validators shared by both wings, as Node's internal/validators:
// each checks one value and throws Node's error naming the dotted option path.

import { invalidArgType, invalidArgValue, outOfRange } from './errors/node';
import { LOCATED_NAMES } from './protocol';

/** The value, which must be a string without NUL bytes ("must be a string without null bytes"). */
export function validateNoNul(value: string, name: string): string {
  if (value.includes('\u0000')) throw invalidArgValue(name, value, 'must be a string without null bytes');
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

/** An optional boolean: `fallback` when undefined (null too, where `nullable`). */
export function optionalBoolean(value: unknown, name: string, fallback: boolean, nullable = false): boolean {
  if (value === undefined || (nullable && value === null)) return fallback;
  return validateBoolean(value, name);
}

export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

/** A plain options object (not null, not an array). */
export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
  return value as Record<string, unknown>;
}

/** Node's validateTimeout: an unsigned integer number of milliseconds, 0 when absent. */
export function validateTimeout(timeout: unknown): number {
  if (timeout === undefined || timeout === null) return 0;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0) {
    throw outOfRange('timeout', 'an unsigned integer', timeout);
  }
  return timeout;
}

/** Node's validateAbortSignal. */
export function validateAbortSignal(signal: unknown, name: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
    throw invalidArgType(name, 'an instance of AbortSignal', signal);
  }
  return signal as AbortSignal;
}

/** An optional integer option in [min, max] (or Infinity where allowed), `fallback` when undefined. */
export function integerOption(value: unknown, name: string, fallback: number, min: number, max: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!(value === Infinity && allowInfinity) && (!Number.isInteger(value) || value < min || value > max)) {
    throw invalidArgValue(name, value, `must be an integer from ${min} to ${max}${allowInfinity ? ', or Infinity' : ''}`);
  }
  return value;
}

/**
 * True for any thenable, not only this realm's Promise: a hook written in a
 * vm context (or under a sandboxing test runner) returns a foreign Promise.
 */
export function isThenable<T = unknown>(value: unknown): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** A callerEnv option: names of variables the server makes fit its side (LOCATED_NAMES), whose caller's values are to stand. */
export function locatedNames(value: unknown, name: string): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw invalidArgType(name, 'an array of strings', value);
  }
  for (const entry of value as string[]) {
    if (!LOCATED_NAMES.includes(entry)) throw invalidArgValue(name, entry, `must name only ${LOCATED_NAMES.join(', ')}`);
  }
  return new Set(value as string[]);
}
