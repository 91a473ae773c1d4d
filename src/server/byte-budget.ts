// The memory that requests hold before their programs start, for all
// connections together (maxBufferedBytes). maxRequestBytes bounds one
// request, but not how many a server holds at once: partial requests it
// waits on, and whole ones that wait for the policy or the queue. Each
// session takes a claim, which grows with its request's buffer as the bytes
// arrive (never by the size a request announces, which costs a client
// nothing), and gives it back in one piece when its program starts or the
// session ends.

/** One session's share of the budget. */
export interface ByteClaim {
  /** Bytes held by this claim now. */
  readonly bytes: number;
  /** Adds `bytes`; false, and nothing taken, when the budget cannot hold them. */
  take(bytes: number): boolean;
  /** Gives back everything this claim holds; it may take again later. */
  release(): void;
}

export class ByteBudget {
  #held = 0;

  constructor(readonly limit: number) {}

  /** Bytes held by every claim together. */
  get held(): number {
    return this.#held;
  }

  claim(): ByteClaim {
    return new Claim(this);
  }

  /** Claim's side: adds `bytes` (negative: gives back) if the limit allows. */
  adjust(bytes: number): boolean {
    if (bytes > 0 && this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }
}

// A class rather than an object literal with a getter and closures: one is
// made per connection, and the literal cost a few microseconds each.
class Claim implements ByteClaim {
  #mine = 0;

  constructor(private readonly budget: ByteBudget) {}

  get bytes(): number {
    return this.#mine;
  }

  take(bytes: number): boolean {
    if (!this.budget.adjust(bytes)) return false;
    this.#mine += bytes;
    return true;
  }

  release(): void {
    this.budget.adjust(-this.#mine);
    this.#mine = 0;
  }
}
