// The work queue: at most maxConcurrent programs run; up to maxQueued
// requests wait for a place, first come first served. It knows nothing of
// sessions: a place is asked for with a start callback, and the ticket that
// comes back gives the place (or the spot in line) back.

/** A request's hold on the queue. */
export interface Ticket {
  /** Gives back the place (running) or leaves the line (waiting). Idempotent. */
  done(): void;
  /** True while it waits in line. */
  readonly waiting: boolean;
}

interface Entry extends Ticket {
  waiting: boolean;
  finished: boolean;
  start(ticket: Ticket): void;
}

export class WorkQueue {
  private runningCount = 0;
  private readonly line: Entry[] = [];

  constructor(private readonly maxConcurrent: number, private readonly maxQueued: number) {}

  /** Programs holding a place. */
  get running(): number {
    return this.runningCount;
  }

  /** Requests waiting in line. */
  get queued(): number {
    return this.line.length;
  }

  /**
   * Asks for a place. With one free (and nobody waiting before), `start`
   * runs now; else the request waits and `start` runs when its turn comes;
   * undefined when the line is full (ERR_SIDECAR_BUSY). `start` gets the
   * ticket, since it may run before enter() returns.
   */
  enter(start: (ticket: Ticket) => void): Ticket | undefined {
    const canRun = this.runningCount < this.maxConcurrent && this.line.length === 0;
    if (!canRun && this.line.length >= this.maxQueued) return undefined;
    const entry: Entry = {
      waiting: !canRun,
      finished: false,
      start,
      done: () => this.leave(entry),
    };
    if (canRun) {
      this.runningCount++;
      start(entry);
    } else {
      this.line.push(entry);
    }
    return entry;
  }

  private leave(entry: Entry): void {
    if (entry.finished) return;
    entry.finished = true;
    if (entry.waiting) {
      this.line.splice(this.line.indexOf(entry), 1);
      return;
    }
    this.runningCount--;
    // FIFO: the longest-waiting request runs next.
    while (this.runningCount < this.maxConcurrent && this.line.length > 0) {
      const next = this.line.shift() as Entry;
      next.waiting = false;
      this.runningCount++;
      next.start(next);
    }
  }
}
