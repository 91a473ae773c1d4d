'use strict';
// The canonical form of what the parity harness observes (harness.js): Errors
// become their fields (class, name, message, stack header, code, errno,
// syscall, path, spawnargs, cmd, killed, signal, stdout, stderr, cause, own
// keys), Buffers their length, sha256 and (when short) hex, long strings their
// length and sha256.
//
// Only node: built-ins here: a child_process capture that runs as uid 65534
// (harness.js captureUnprivileged) loads this file from the other-uid copy of
// the checkout (test/helpers/users.js), where nothing else of the tests is.

const crypto = require('node:crypto');

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');

function baseClass(error) {
  if (typeof DOMException !== 'undefined' && error instanceof DOMException) return 'DOMException';
  for (const ctor of [RangeError, TypeError, SyntaxError, ReferenceError, URIError, EvalError]) {
    if (error instanceof ctor) return ctor.name;
  }
  return error instanceof Error ? 'Error' : typeof error;
}

/** The part of error.stack before its first frame: what console.error shows first. */
function stackHeader(error) {
  const stack = String(error.stack);
  const at = stack.indexOf('\n    at ');
  return at < 0 ? stack : stack.slice(0, at);
}

function canonOutput(value) {
  if (Buffer.isBuffer(value)) return { type: 'Buffer', ...canonBuffer(value) };
  if (typeof value === 'string') return { type: 'string', value: canonString(value) };
  return { type: value === null ? 'null' : typeof value, value: canon(value) };
}

function canonBuffer(buffer) {
  return buffer.length <= 256
    ? { length: buffer.length, hex: buffer.toString('hex'), text: buffer.toString('utf8') }
    : { length: buffer.length, sha256: sha256(buffer), head: buffer.subarray(0, 64).toString('utf8') };
}

function canonString(text) {
  return text.length <= 400 ? text : { length: text.length, sha256: sha256(text), head: text.slice(0, 80) };
}

/** Every field of an error that a caller can observe, in a comparable form. */
function errorFields(error) {
  if (error === null || error === undefined) return error;
  if (typeof error !== 'object' && typeof error !== 'function') return { notAnError: canon(error) };
  const fields = {
    class: baseClass(error),
    name: error.name,
    message: canonString(String(error.message)),
    stackHeader: canonString(stackHeader(error)),
    ownKeys: Object.keys(error).sort().join(','),
  };
  for (const key of ['code', 'errno', 'syscall', 'path', 'spawnargs', 'cmd', 'killed', 'signal']) {
    if (key in error) fields[key] = canon(error[key]);
  }
  for (const key of ['stdout', 'stderr']) {
    if (key in error) fields[key] = canonOutput(error[key]);
  }
  if (error.cause !== undefined) {
    const { cause } = error;
    fields.cause = typeof cause === 'object' && cause !== null
      ? { class: baseClass(cause), name: cause.name, message: cause.message, code: cause.code }
      : canon(cause);
  }
  return fields;
}

function canon(value) {
  if (value === undefined) return '<undefined>';
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return value;
  if (typeof value === 'string') return canonString(value);
  if (typeof value === 'bigint' || typeof value === 'symbol') return String(value);
  if (typeof value === 'function') return `<function ${value.name}>`;
  if (Buffer.isBuffer(value)) return { buffer: canonBuffer(value) };
  if (value instanceof Error || (typeof DOMException !== 'undefined' && value instanceof DOMException)) return { error: errorFields(value) };
  if (Array.isArray(value)) return value.map(canon);
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = canon(value[key]);
    return out;
  }
  return `<${value.constructor ? value.constructor.name : 'object'}>`;
}

module.exports = {
  sha256, baseClass, stackHeader, canonOutput, canonBuffer, canonString, errorFields, canon,
};
