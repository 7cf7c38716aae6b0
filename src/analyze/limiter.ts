// At most N requests to one analyzer at a time. A body waits for a free slot within its own
// deadline (the analyzer's timeout covers the wait), behind at most N others; one that gets
// none in time, or finds N already waiting, fails as `saturated` without a request: an
// overloaded analyzer is not sent more, and a queue does not grow past what can be served.

export class Saturated extends Error {
  constructor() {
    super('no free slot for the analyzer in time');
    this.name = 'Saturated';
  }
}

interface Waiter {
  grant(): void;
  timer: NodeJS.Timeout;
}

export class Limiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly max: number,
    /** Most bodies waiting for a slot; beyond, Saturated at once. */
    readonly maxWaiting: number = max,
  ) {}

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** A slot within `ms`: resolves with its release (call it once), or rejects Saturated. */
  acquire(ms: number): Promise<() => void> {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxWaiting || ms <= 0) return Promise.reject(new Saturated());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(this.releaser());
        },
        timer: setTimeout(
          () => {
            const i = this.waiting.indexOf(waiter);
            if (i >= 0) this.waiting.splice(i, 1);
            reject(new Saturated());
          },
          Math.max(0, ms),
        ),
      };
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      // The slot passes to the next waiter as it is: `active` stays the same.
      if (next) next.grant();
      else this.active--;
    };
  }
}
