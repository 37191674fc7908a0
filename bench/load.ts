import { Agent, request } from 'node:http';

export interface LatencySummary {
  p50: number;
  p99: number;
  count: number;
  errors: number;
}

/**
 * Open-loop load: one GET every 1000/rate ms for durationMs, whatever the answers do, so a slow answer
 * cannot hide behind fewer requests (no coordinated omission). Latencies in ms.
 */
export async function fixedRateLoad(
  url: string,
  rate: number,
  durationMs: number,
  agent: Agent,
): Promise<LatencySummary> {
  const target = new URL(url);
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const interval = 1000 / rate;
  const start = performance.now();
  for (let i = 0; start + i * interval < start + durationMs; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      new Promise<void>((resolve) => {
        const sent = performance.now();
        const req = request(
          { host: target.hostname, port: target.port, path: target.pathname, agent },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) latencies.push(performance.now() - sent);
              else errors += 1;
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors += 1;
          resolve();
        });
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  return { ...percentiles(latencies), count: latencies.length, errors };
}

export function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
