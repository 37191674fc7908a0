export type Release = () => void;

/**
 * At most `maxInflight` holders at once (0: no limit) and at most `maxQueued` waiters behind them, served in
 * arrival order. A request beyond both is refused at once so the caller can answer 503.
 */
export class InflightLimiter {
  private active = 0;
  private readonly waiters: Array<(release: Release) => void> = [];

  constructor(
    private readonly maxInflight: number,
    private readonly maxQueued: number,
  ) {}

  get inflight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /**
   * A release function, a promise of one, or undefined when the queue is full. `waitSignal` is asked for
   * only when the caller has to queue, so the common path allocates nothing.
   */
  acquire(waitSignal?: () => AbortSignal): Release | Promise<Release> | undefined {
    if (this.maxInflight === 0 || this.active < this.maxInflight) {
      this.active += 1;
      return this.releaser();
    }
    if (this.waiters.length >= this.maxQueued) return undefined;
    const signal = waitSignal?.();
    return new Promise<Release>((resolve, reject) => {
      const waiter = (release: Release): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next(this.releaser());
      else this.active -= 1;
    };
  }
}
