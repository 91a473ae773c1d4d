// The timers of one session: unref'd (a pending deadline never keeps the
// server's process alive on its own) and cleared together when it ends.

export class TimerSet {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs fn after ms, unless cleared first. */
  add(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  clear(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  clearAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
