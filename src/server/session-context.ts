// The seam between the server and its sessions: what a session is handed
// (its dependencies, all pointing down) and the one outlet it reports through.
// The server turns each report into an event, a counter, or both.

import type { PeerCredentials, SidecarServerEvents } from '../../types/index';
import type { NativeBinding } from '../binding';
import type { ByteBudget } from './byte-budget';
import type { Containment } from './containment';
import type { NormalizedServerOptions } from './options';
import type { WorkQueue } from './work-queue';

type EventInfo<E extends keyof SidecarServerEvents> = Parameters<SidecarServerEvents[E]>[0];

/** What a session tells its server: each becomes an event, a counter, or both. */
export type SessionReport =
  | { type: 'request'; info: EventInfo<'request'> }
  | { type: 'spawn'; info: EventInfo<'spawn'> }
  | { type: 'exit'; info: EventInfo<'exit'> }
  | { type: 'denied'; info: EventInfo<'denied'> }
  /** A failure before a program ran (protocol, limits, spawn errors): 'clientError'. */
  | { type: 'failed'; error: Error; credentials: PeerCredentials }
  /** An allowed client asked the server to stop. */
  | { type: 'stop' }
  /** The session has released everything: no fd, no program left. */
  | { type: 'done' };

/** What a session is given by its server. */
export interface SessionContext {
  readonly binding: NativeBinding;
  readonly options: NormalizedServerOptions;
  readonly queue: WorkQueue;
  /** maxBufferedBytes: what requests not yet running may hold, all sessions together. */
  readonly budget: ByteBudget;
  /** The server's /dev/null, for the 'ignore' stdio entries. */
  readonly devNull: number;
  /** How each program's whole tree is held (set at listen). */
  readonly containment: Containment;
  report(report: SessionReport): void;
}
