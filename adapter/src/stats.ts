import { containerWorkingSetBytes } from './cgroup-memory.js';

/** Counters the autoscaler scrapes; everything here is O(1) per request. */
export class AdapterStats {
  requests = 0;
  inflight = 0;
  readonly errors: Record<string, number> = {};
  private inflightIntegralMs = 0;
  private lastChange: number;
  private readonly latencies = new Float64Array(1024);
  private latencyCount = 0;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastChange = now();
  }

  started(): void {
    this.accumulate();
    this.inflight += 1;
    this.requests += 1;
  }

  finished(latencyMs: number): void {
    this.accumulate();
    this.inflight -= 1;
    this.latencies[this.latencyCount % this.latencies.length] = latencyMs;
    this.latencyCount += 1;
  }

  failed(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  snapshot(queued: number): Record<string, unknown> {
    this.accumulate();
    const window = Array.from(
      this.latencies.subarray(0, Math.min(this.latencyCount, this.latencies.length)),
    ).sort((a, b) => a - b);
    const pick = (q: number): number | null =>
      window.length
        ? Number(window[Math.min(window.length - 1, Math.floor(q * window.length))]!.toFixed(3))
        : null;
    return {
      inflight: this.inflight,
      queued,
      requests: this.requests,
      errors: this.errors,
      // Sum of in-flight count over time: the difference of two readings over their interval is the average
      // concurrency in between (what Knative's queue-proxy reports).
      inflightIntegralMs: Math.round(this.inflightIntegralMs),
      latencyMs: { p50: pick(0.5), p99: pick(0.99), samples: window.length },
      memory: memoryMb(),
      containerMemoryBytes: containerWorkingSetBytes() ?? null,
    };
  }

  private accumulate(): void {
    const now = this.now();
    this.inflightIntegralMs += this.inflight * (now - this.lastChange);
    this.lastChange = now;
  }
}

function memoryMb(): Record<string, number> {
  const usage = process.memoryUsage();
  const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
  return {
    rss: mb(usage.rss),
    heapTotal: mb(usage.heapTotal),
    heapUsed: mb(usage.heapUsed),
    external: mb(usage.external),
  };
}
