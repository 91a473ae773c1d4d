// One exec request put back together from its records (EXEC, then
// EXEC_MORE...). Memory grows with the bytes that arrive, never with the
// size a record announces, and a zero-length continuation counts as a record.

import { ProtocolError } from '../protocol';
import type { NormalizedServerOptions } from './options';

/** Why a request is over this server's limits, or undefined when it is within them. */
export function overLimits(totalBytes: number, fdCount: number, options: Pick<NormalizedServerOptions, 'maxRequestBytes' | 'maxFds'>): string | undefined {
  if (totalBytes > options.maxRequestBytes) return `request of ${totalBytes} bytes exceeds this server's limit of ${options.maxRequestBytes}`;
  if (fdCount > options.maxFds) return `${fdCount} fds passed, more than this server's limit of ${options.maxFds}`;
  return undefined;
}

export class RequestAssembly {
  private chunks: Buffer[] = [];
  private received = 0;

  constructor(private readonly announced: number) {}

  /**
   * Adds the next chunk; returns the whole payload once the announced size
   * has arrived. Throws ProtocolError when the chunks run past it.
   */
  add(chunk: Uint8Array): Buffer | undefined {
    if (this.received + chunk.length > this.announced) throw new ProtocolError('request longer than announced');
    // Copied: the record's buffer is reused for the next record.
    this.chunks.push(Buffer.from(chunk));
    this.received += chunk.length;
    if (this.received !== this.announced) return undefined;
    const payload = Buffer.concat(this.chunks, this.announced);
    this.chunks = [];
    return payload;
  }

  /** Drops what has arrived (the client left or broke the protocol). */
  discard(): void {
    this.chunks = [];
  }
}
