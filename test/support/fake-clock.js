'use strict';
// Hand-written fake timers for unit tests (no new dependency): replaces the
// global setTimeout / clearTimeout and Date.now while installed, so that a
// test moves time itself. Mocha keeps its own references to the real timers
// (lib/runnable.js), so its test timeouts are unaffected.
//
//   const clock = new FakeClock();
//   beforeEach(() => clock.install());
//   afterEach(() => clock.uninstall());
//   clock.tick(ms)      runs every timer due within ms, in due order (timers set by timers included)
//   clock.pending()     timers still set: [{ at, ms, refed }]
//   clock.now           the fake Date.now()

class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.start = start;
    this.now = start;
    this.timers = [];
    this.sequence = 0;
    this.saved = undefined;
  }

  install() {
    if (this.saved !== undefined) throw new Error('FakeClock installed twice');
    this.now = this.start;
    this.timers = [];
    this.saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, now: Date.now };
    globalThis.setTimeout = (fn, ms = 0, ...args) => this.add(fn, ms, args);
    globalThis.clearTimeout = (timer) => this.remove(timer);
    Date.now = () => this.now;
  }

  uninstall() {
    if (this.saved === undefined) return;
    globalThis.setTimeout = this.saved.setTimeout;
    globalThis.clearTimeout = this.saved.clearTimeout;
    Date.now = this.saved.now;
    this.saved = undefined;
    this.timers = [];
  }

  add(fn, ms, args) {
    const delay = Math.max(1, Number(ms) || 0); // as Node: 0 and below become 1
    const clock = this;
    const timer = {
      id: ++this.sequence,
      at: this.now + delay,
      ms: delay,
      fn,
      args,
      refed: true,
      ref() { this.refed = true; return this; },
      unref() { this.refed = false; return this; },
      hasRef() { return this.refed; },
      refresh() { this.at = clock.now + this.ms; return this; },
      [Symbol.toPrimitive]() { return this.id; },
    };
    this.timers.push(timer);
    return timer;
  }

  remove(timer) {
    const index = this.timers.indexOf(timer);
    if (index !== -1) this.timers.splice(index, 1);
  }

  tick(ms) {
    const target = this.now + ms;
    for (;;) {
      let next;
      for (const timer of this.timers) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.id < next.id))) next = timer;
      }
      if (next === undefined) break;
      this.remove(next);
      this.now = next.at;
      next.fn(...next.args);
    }
    this.now = target;
  }

  pending() {
    return this.timers.map((timer) => ({ at: timer.at - this.now, ms: timer.ms, refed: timer.refed }));
  }
}

module.exports = { FakeClock };
