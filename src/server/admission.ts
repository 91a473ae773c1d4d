// Who gets a connection, decided when it is accepted, from the credentials
// the kernel recorded for the peer (SO_PEERCRED), before a byte of it is
// read. A peer that allowUids/allowGids refuse therefore holds nothing (no
// slot, no fd it sent, no buffer) and cannot keep allowed clients out; one
// uid holds at most maxConnectionsPerUid connections; and the server takes
// no more connections at once than its fd limit can hold with maxFds fds on
// each, so that it turns clients away instead of failing with EMFILE.

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { PeerCredentials, SidecarServerWarning } from '../../types/index';
import type { FailedReply } from '../protocol';
import type { NormalizedServerOptions } from './options';
import { peerRefusal } from './policy';

const { EAGAIN, EPERM } = os.constants.errno;

/**
 * fds kept free above those open at listen, for what the server opens
 * besides connections (a spawn's own, a program's pidfd in the moment its
 * request's fds are still open) and for its host.
 */
export const RESERVED_FDS = 32;

/**
 * fds one connection may hold: its socket, the fds its request carries,
 * and, once its program runs, the program's pidfd and (containment
 * 'cgroup') its cgroup's directory (while the request's fds are closed only
 * after the start).
 */
export function fdsPerConnection(maxFds: number): number {
  return maxFds + 3;
}

/**
 * The connections an fd limit can hold, at most `maxConnections`, at least 1.
 * `softLimit` undefined: no limit. `openFds`: those the process has open
 * already.
 */
export function fitConnections(maxConnections: number, maxFds: number, softLimit: number | undefined, openFds: number): number {
  if (softLimit === undefined) return maxConnections;
  const room = Math.floor((softLimit - openFds - RESERVED_FDS) / fdsPerConnection(maxFds));
  return Math.min(maxConnections, Math.max(1, room));
}

/**
 * The soft RLIMIT_NOFILE of this process ("Max open files" in
 * /proc/self/limits); undefined when unlimited or unknown.
 */
export function openFileLimit(limits?: string): number | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/limits', 'latin1');
    } catch {
      return undefined;
    }
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (match === null || match[1] === 'unlimited') return undefined;
  return Number(match[1]);
}

/**
 * maxConnections as this process's fd limit can hold them, read at listen.
 * Without it the server would take them all and fail with EMFILE, allowed
 * clients' requests too, once a few connections held their maximum of fds.
 * `chosen`: the host set maxConnections (a finite number), and is warned
 * when it does not fit; the default, or Infinity, means as many as fit.
 */
export function budgetConnections(options: Pick<NormalizedServerOptions, 'maxConnections' | 'maxFds'>, chosen: boolean): { maxConnections: number; warning?: SidecarServerWarning } {
  const { maxConnections, maxFds } = options;
  const limit = openFileLimit();
  const open = openFdCount();
  const fit = fitConnections(maxConnections, maxFds, limit, open);
  if (fit >= maxConnections || limit === undefined) return { maxConnections };
  if (!chosen) return { maxConnections: fit };
  const message = `RLIMIT_NOFILE ${limit} (${open} fds open) holds ${fit} connections of up to ${maxFds} fds each, not maxConnections ${maxConnections}: `
    + `the server takes ${fit} at once (raise the limit, or lower maxConnections or maxFds)`;
  const warning = Object.assign(new Error(message), {
    name: 'SidecarWarning' as const, code: 'SIDECAR_NOFILE_LIMIT' as const, limit, maxConnections: fit, configured: maxConnections,
  });
  return { maxConnections: fit, warning };
}

/** The fds this process has open now. */
export function openFdCount(): number {
  try {
    // readdir's own fd is among them while it reads.
    return fs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return 0;
  }
}

/** A peer the server will not take: the one FAILED record it gets, and whether it is a denial (else busy). */
export interface Refusal {
  denied: boolean;
  reply: FailedReply;
}

function busy(message: string): Refusal {
  return { denied: false, reply: { errno: EAGAIN, code: 'ERR_SIDECAR_BUSY', syscall: 'accept', message } };
}

type AdmissionOptions = Pick<NormalizedServerOptions, 'allowUids' | 'allowGids' | 'maxConnections' | 'maxConnectionsPerUid'>;

/** The connections held, in all and per uid, and the decision on each new one. */
export class Admission {
  /** options.maxConnections, or fewer where the fd limit cannot hold them (set at listen). */
  maxConnections: number;
  #open = 0;
  readonly #perUid = new Map<number, number>();
  /**
   * Root and the server's own uid can kill or trace the server anyway: a
   * cap would protect nothing from them, and would only limit the common
   * setup where they are its only clients (mode 0600).
   */
  readonly #uncapped: ReadonlySet<number>;

  constructor(private readonly options: AdmissionOptions, ownUid: number = process.geteuid?.() ?? -1) {
    this.maxConnections = options.maxConnections;
    this.#uncapped = new Set([0, ownUid]);
  }

  /** Connections held now. */
  get open(): number {
    return this.#open;
  }

  /** Connections held now by `uid`. */
  heldBy(uid: number): number {
    return this.#perUid.get(uid) ?? 0;
  }

  /** Takes the peer (counted until release()), or says why not. */
  admit(credentials: PeerCredentials): Refusal | undefined {
    const refused = peerRefusal(this.options, credentials);
    if (refused !== undefined) return { denied: true, reply: { errno: EPERM, code: 'ERR_SIDECAR_DENIED', syscall: 'connect', message: refused } };
    if (this.#open >= this.maxConnections) return busy('the server has too many connections');
    const { uid } = credentials;
    const held = this.heldBy(uid);
    const cap = this.options.maxConnectionsPerUid;
    if (held >= cap && !this.#uncapped.has(uid)) return busy(`uid ${uid} has ${held} connections, as many as this server allows one uid (${cap})`);
    this.#open++;
    this.#perUid.set(uid, held + 1);
    return undefined;
  }

  /** An admitted connection is gone. */
  release(credentials: PeerCredentials): void {
    const held = this.heldBy(credentials.uid);
    if (held <= 1) this.#perUid.delete(credentials.uid);
    else this.#perUid.set(credentials.uid, held - 1);
    this.#open--;
  }
}
