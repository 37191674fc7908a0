import type { BackendStats } from '../edge/edge-stats.js';
import { judgeAnswers } from '../instances/answer-watch.js';
import type { Instance } from '../instances/instance.js';
import type { FunctionRuntime } from './function-runtime.js';

type Found = Array<{ fn: FunctionRuntime; instance: Instance }>;

/**
 * Writes what the edge has open and queued into each function's pool: the sessions of each instance (and
 * when it was last used: while it has sessions, or whenever its total grew), and the function's queue.
 * Returns the active instances the edge found down, and those whose requests fail while they answer nothing.
 */
export function applyEdgeStats(
  functions: Iterable<FunctionRuntime>,
  stats: Map<string, BackendStats>,
  now: number,
): { down: Found; silent: Found } {
  const down: Found = [];
  const silent: Found = [];
  for (const fn of functions) {
    const backend = stats.get(fn.spec.name);
    fn.pool.edgeQueued = backend?.queued ?? 0;
    for (const instance of fn.pool.instances) {
      const server = backend?.servers.get(instance.name);
      if (!server) continue;
      instance.edgeSessions = server.sessions + server.queued;
      if (instance.edgeSessions > 0 || server.total !== instance.edgeTotal) instance.lastActiveAt = now;
      instance.edgeTotal = server.total;
      const judged = judgeAnswers(instance.edgeAnswers, server, now, fn.spec.timeoutMs);
      instance.edgeAnswers = judged.record;
      if (instance.state !== 'active') continue;
      if (server.status.startsWith('DOWN')) down.push({ fn, instance });
      else if (judged.suspect) silent.push({ fn, instance });
    }
  }
  return { down, silent };
}
