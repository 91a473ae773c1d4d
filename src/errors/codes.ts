// The registry of our own error codes and the error class that carries them.
// The code union in types/index.d.ts is the one list; the record below must
// name every member exactly once, or tsc fails. Codes are sorted, never
// renamed and never reused; each is documented in docs/errors.md.

import type { SidecarErrorCode } from '../../types/index';

/** What each code means, in one line (docs/errors.md says more). */
export const SIDECAR_CODES: { readonly [Code in SidecarErrorCode]: string } = {
  ERR_SIDECAR_ADDON: 'no native addon fits this system, or it cannot be loaded here',
  ERR_SIDECAR_BUSY: 'the server\'s work queue is full, a request waited longer than queueTimeout, or too many connections',
  ERR_SIDECAR_CONNECT: 'the server socket could not be reached',
  ERR_SIDECAR_DENIED: 'the server\'s policy refused the request',
  ERR_SIDECAR_DETACHED_REFUSED: 'the server does not run detached programs (allowDetached: false)',
  ERR_SIDECAR_DISCONNECTED: 'the connection ended before the program\'s exit was reported',
  ERR_SIDECAR_NO_SOCKET: 'neither options.connect nor SIDECAR_SOCKET names a socket',
  ERR_SIDECAR_PROTOCOL: 'a peer sent a message that breaks the protocol',
  ERR_SIDECAR_REQUEST_TOO_LARGE: 'the request exceeds the protocol\'s or the server\'s limits',
  ERR_SIDECAR_START_TIMEOUT: 'the server did not answer a request within startTimeout',
  ERR_SIDECAR_UNSAFE_DIRECTORY: 'the socket\'s directory, or one above it, can be changed by another user',
  ERR_SIDECAR_UNSUPPORTED: 'a child_process option that cannot work remotely',
};

/** Brand that marks every error this package creates, independent of realms. */
export const kSidecarError: unique symbol = Symbol.for('sidecar-exec.error');

/** An error of ours: a message, a stable code and optional extra facts. */
export class SidecarError extends Error {
  readonly code: SidecarErrorCode;
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
