import { Agent, request } from 'node:http';
import { HEADERS } from '../adapter/contract/contract.js';

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

export interface ProbeResult {
  /** performance.now() when sent and when answered (or failed). */
  sentAt: number;
  doneAt: number;
  /** 0 when no HTTP answer came (connection refused, reset, timed out). */
  status: number;
  /** The x-pilotlight-error marker of an answer the runner or adapter made itself. */
  error: string | undefined;
  /** Sent again on a new connection: its kept-alive one closed before any answer (see ProberOptions). */
  retried?: boolean;
}

export interface Prober {
  /** Stops sending, waits for the answers still due, and returns every probe in the order sent. */
  stop(): Promise<ProbeResult[]>;
  readonly results: readonly ProbeResult[];
}

export interface ProberOptions {
  timeoutMs?: number;
  /**
   * Send a GET once more when the kept-alive connection it went out on was closed before any answer, as
   * browsers do and RFC 9112 §9.3.1 allows: a server may close an idle connection at any moment (an edge
   * reload does), and a request can cross that close on the wire.
   */
  retryClosedIdle?: boolean;
  /** Each probe on a connection of its own, as clients that keep none alive send (curl, scripts). */
  newConnections?: boolean;
}

/** Open-loop GETs at a fixed rate until stopped: every failure while something changes underneath is counted. */
export function startProber(url: string, rate: number, options: ProberOptions = {}): Prober {
  const { timeoutMs = 30_000, retryClosedIdle = false, newConnections = false } = options;
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true });
  const results: ProbeResult[] = [];
  const pending = new Set<Promise<void>>();
  const probe = (): void => {
    const result: ProbeResult = { sentAt: performance.now(), doneAt: 0, status: 0, error: undefined };
    results.push(result);
    const done = new Promise<void>((resolve) => {
      const finish = (status: number, error?: string): void => {
        if (result.doneAt) return;
        Object.assign(result, { doneAt: performance.now(), status, error });
        resolve();
      };
      // The retry goes on a connection of its own: the pool's other idle ones may be closing too.
      const send = (): void => {
        const req = request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname + target.search,
            agent: result.retried || newConnections ? false : agent,
          },
          (res) => {
            res.resume();
            res.on('end', () => finish(res.statusCode ?? 0, res.headers[HEADERS.error] as string));
            res.on('error', () => finish(0, 'RESPONSE_ABORTED'));
          },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (retryClosedIdle && req.reusedSocket && error.code === 'ECONNRESET' && !result.retried) {
            result.retried = true;
            return send();
          }
          finish(0, error.code ?? error.message);
        });
        req.end();
      };
      send();
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  };
  const timer = setInterval(probe, 1000 / rate);
  return {
    results,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
      agent.destroy();
      return results;
    },
  };
}
