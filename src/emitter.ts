// eventemitter3 with the rest of Node's EventEmitter surface, so that a
// RemoteChildProcess can stand wherever a ChildProcess is expected, and its
// unhandled 'error' throws as Node's does. Listener
// limits are accepted and reported, never enforced (eventemitter3 has none).
// The public types (types/index.d.ts, NodeStyleEmitter) declare Node's
// method signatures; eventemitter3's generic ones satisfy them.

import { EventEmitter } from 'eventemitter3';

export class NodeCompatibleEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  private maxListeners = 10;

  /** As Node's: an 'error' nobody listens to is thrown, never silently dropped. */
  override emit<E extends EventEmitter.EventNames<Events>>(event: E, ...args: EventEmitter.EventArgs<Events, E>): boolean {
    if (event === 'error' && this.listenerCount(event) === 0) {
      const error = (args as unknown[])[0];
      if (error instanceof Error) throw error;
      throw Object.assign(new Error(`Unhandled error. (${String(error)})`), { code: 'ERR_UNHANDLED_ERROR', context: error });
    }
    return super.emit(event, ...args);
  }

  setMaxListeners(n: number): this {
    if (typeof n !== 'number' || n < 0 || Number.isNaN(n)) {
      throw Object.assign(new RangeError(`The value of "n" is out of range. It must be a non-negative number. Received ${String(n)}`),
        { code: 'ERR_OUT_OF_RANGE' });
    }
    this.maxListeners = n;
    return this;
  }

  getMaxListeners(): number {
    return this.maxListeners;
  }

  /**
   * As Node's (since v18.16): with `listener`, counts only the registrations
   * of that function (eventemitter3 keeps the functions given, `once` ones too).
   */
  override listenerCount(event: EventEmitter.EventNames<Events>, listener?: (...args: any[]) => void): number {
    if (listener === undefined || listener === null) return super.listenerCount(event);
    return this.listeners(event).filter((registered) => registered === listener).length;
  }

  /** Listeners as registered (eventemitter3 keeps `once` wrappers internal, so these are the functions given). */
  rawListeners<E extends EventEmitter.EventNames<Events>>(event: E): Array<EventEmitter.EventListener<Events, E>> {
    return this.listeners(event);
  }

  /** Adds a listener that runs before the ones already there. */
  prependListener<E extends EventEmitter.EventNames<Events>>(event: E, listener: EventEmitter.EventListener<Events, E>): this {
    return this.reorderFirst(event, () => this.on(event, listener));
  }

  prependOnceListener<E extends EventEmitter.EventNames<Events>>(event: E, listener: EventEmitter.EventListener<Events, E>): this {
    return this.reorderFirst(event, () => this.once(event, listener));
  }

  private reorderFirst<E extends EventEmitter.EventNames<Events>>(event: E, add: () => void): this {
    // eventemitter3 has no prepend: take the existing listeners off (keeping
    // their once-ness), add the new one, then put them back behind it.
    const internal = (this as unknown as { _events: Record<string | symbol, unknown> })._events;
    const { prefixed } = EventEmitter;
    const key = typeof event === 'symbol' || !prefixed ? event : `${prefixed}${String(event)}`;
    const before = internal[key];
    delete internal[key];
    (this as unknown as { _eventsCount: number })._eventsCount -= before === undefined ? 0 : 1;
    add();
    if (before !== undefined) {
      const added = internal[key];
      const list = Array.isArray(before) ? before : [before];
      internal[key] = [added, ...list];
    }
    return this;
  }
}
