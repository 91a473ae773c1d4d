// One exec request put back together from its records (EXEC, then
// EXEC_MORE...). The bytes go into one buffer that grows with what arrives
// (never sized by the announcement alone), so a flood of tiny records costs
// no per-record memory, and an empty continuation, which can only stall the
// server, is refused. The buffer is paid for from the server's budget for
// all requests (./byte-budget.ts) as it grows.

import { ProtocolError } from '../protocol';
import type { ByteClaim } from './byte-budget';
import type { NormalizedServerOptions } from './options';

/** The server's budget for requests cannot hold this one's next bytes: ERR_SIDECAR_BUSY. */
export class OverBudget extends Error {}

/** First size of the buffer; it doubles from there, up to the announced size. */
const INITIAL_BYTES = 64 * 1024;

/** Why a request is over this server's limits, or undefined when it is within them. */
export function overLimits(totalBytes: number, fdCount: number, options: Pick<NormalizedServerOptions, 'maxRequestBytes' | 'maxFds'>): string | undefined {
  if (totalBytes > options.maxRequestBytes) return `request of ${totalBytes} bytes exceeds this server's limit of ${options.maxRequestBytes}`;
  if (fdCount > options.maxFds) return `${fdCount} fds passed, more than this server's limit of ${options.maxFds}`;
  return undefined;
}

export class RequestAssembly {
  private buffer: Buffer | undefined;
  private received = 0;
  private records = 0;

  /** `claim`: where the buffer's bytes are paid from; the caller releases it. */
  constructor(private readonly announced: number, private readonly claim: ByteClaim) {}

  /**
   * Adds the next chunk; returns the whole payload once the announced size
   * has arrived. Throws ProtocolError when the chunks run past it, or for an
   * empty continuation record; OverBudget when the buffer cannot grow.
   */
  add(chunk: Uint8Array): Buffer | undefined {
    if (this.records++ > 0 && chunk.length === 0) throw new ProtocolError('empty request continuation');
    if (this.received + chunk.length > this.announced) throw new ProtocolError('request longer than announced');
    this.reserve(this.received + chunk.length);
    // Copied: the record's buffer is reused for the next record.
    if (chunk.length > 0) (this.buffer as Buffer).set(chunk, this.received);
    this.received += chunk.length;
    if (this.received !== this.announced) return undefined;
    const payload = this.buffer === undefined ? Buffer.alloc(0) : this.buffer.subarray(0, this.announced);
    this.buffer = undefined;
    return payload;
  }

  /** Drops what has arrived (the client left or broke the protocol). */
  discard(): void {
    this.buffer = undefined;
  }

  private reserve(bytes: number): void {
    if (bytes === 0 || (this.buffer !== undefined && this.buffer.length >= bytes)) return;
    let size = Math.max(this.buffer?.length ?? 0, Math.min(INITIAL_BYTES, this.announced));
    while (size < bytes) size = Math.min(size * 2, this.announced);
    if (!this.claim.take(size - (this.buffer?.length ?? 0))) throw new OverBudget();
    const grown = Buffer.allocUnsafe(size);
    if (this.buffer !== undefined) this.buffer.copy(grown, 0, 0, this.received);
    this.buffer = grown;
  }
}
