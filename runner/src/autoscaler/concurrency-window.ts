/**
 * Concurrency observations kept as per-second buckets (a sum and a count each), as Knative's autoscaler keeps
 * its metrics. An average weighs every second alike, however many observations fell into it: a burst of
 * requests that each asked for capacity cannot tilt the window toward the moments when they waited. Recording
 * and averaging cost the same whatever the traffic.
 */
export class ConcurrencyWindow {
  private readonly buckets: Array<{ start: number; sum: number; count: number }> = [];

  constructor(
    /** The longest window that will be asked for. */
    private readonly keepMs: number,
    private readonly bucketMs = 1000,
  ) {}

  record(at: number, concurrency: number): void {
    const start = Math.floor(at / this.bucketMs) * this.bucketMs;
    const last = this.buckets.at(-1);
    if (last && last.start === start) {
      last.sum += concurrency;
      last.count += 1;
    } else {
      this.buckets.push({ start, sum: concurrency, count: 1 });
    }
    while (this.buckets[0]!.start <= at - this.keepMs) this.buckets.shift();
  }

  /** The mean of the per-second means of the seconds that start in (now - windowMs, now]; 0 with none. */
  average(now: number, windowMs: number): number {
    let total = 0;
    let seconds = 0;
    for (let i = this.buckets.length - 1; i >= 0; i--) {
      const bucket = this.buckets[i]!;
      if (bucket.start > now) continue;
      if (bucket.start <= now - windowMs) break;
      total += bucket.sum / bucket.count;
      seconds += 1;
    }
    return seconds === 0 ? 0 : total / seconds;
  }
}
