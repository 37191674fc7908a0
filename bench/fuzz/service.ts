/** After a fuzz run: does the function still answer, through the edge and at its adapter, on the same instance? */
import type { Address } from './exchange.js';

export interface ServedFunction {
  gateway: string;
  fn: string;
  adapter: Address;
  containerId: string;
}

export interface ListedInstance {
  id: string;
  /** The function's instance deaths so far. */
  deaths: number;
}

export async function serviceProblems(
  subject: ServedFunction,
  listInstances: () => Promise<ListedInstance[]>,
): Promise<string[]> {
  const problems: string[] = [];
  const viaEdge = await statusOf(`${subject.gateway}/fn/${subject.fn}/`);
  if (viaEdge !== 200) problems.push(`GET /fn/${subject.fn}/ through the edge answered ${viaEdge}`);
  const health = await statusOf(`${adapterUrl(subject.adapter)}/_/health`);
  if (health !== 200) problems.push(`the adapter's /_/health answered ${health}`);
  const left = await inflightSettled(subject.adapter, INFLIGHT_SETTLE_MS);
  if (left !== 0)
    problems.push(
      `${left} requests still in flight at the adapter ${INFLIGHT_SETTLE_MS / 1000} s after the run`,
    );
  const instances = await listInstances();
  if (instances.length !== 1 || instances[0]!.id !== subject.containerId) {
    problems.push(
      `the function's instances are now ${instances.map((i) => i.id.slice(0, 12)).join(', ') || 'none'}`,
    );
  }
  const deaths = instances[0]?.deaths ?? 0;
  if (deaths > 0) problems.push(`the runner counted ${deaths} instance deaths`);
  return problems;
}

/** Every request of the run has ended by then, unless one was left hanging (the longest case takes seconds). */
const INFLIGHT_SETTLE_MS = 30_000;

/** The adapter's in-flight count once it is 0, or when TIMEOUT passes. */
async function inflightSettled(adapter: Address, timeoutMs: number): Promise<number | string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const inflight = await fetch(`${adapterUrl(adapter)}/_/stats`).then(
      async (response) => ((await response.json()) as { inflight: number }).inflight,
      (error: Error) => error.message,
    );
    if (inflight === 0 || Date.now() >= deadline) return inflight;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The adapter's own error counts by code (its /_/stats), to show what the run provoked. */
export async function adapterErrors(adapter: Address): Promise<Record<string, number>> {
  const response = await fetch(`${adapterUrl(adapter)}/_/stats`);
  return ((await response.json()) as { errors: Record<string, number> }).errors;
}

function adapterUrl(adapter: Address): string {
  return `http://${adapter.host}:${adapter.port}`;
}

async function statusOf(url: string): Promise<number | string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    return (error as Error).message;
  }
}
