import type { Instance } from '../instances/instance.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import type { BackendStats } from './edge-stats.js';

/**
 * What the reconciler asks of the edge: which functions it routes, and which instances take requests
 * straight from it. Unit tests pass `noRouting`; the runner passes the HAProxy edge.
 */
export interface Routing {
  /** The function's backend, with its current settings (timeouts, body limit), before its first instance. */
  declare(spec: FunctionSpec): Promise<void>;
  forget(fn: string): Promise<void>;
  /** The instance takes requests from the edge, at most `maxconn` at once; more wait in the queue. */
  serve(instance: Instance, maxconn: number): Promise<void>;
  /** No new requests (a shrunk or frozen instance): those for the function go to the activator. */
  hold(instance: Instance): Promise<void>;
  /** No new requests; those it has finish. */
  drain(instance: Instance): Promise<void>;
  remove(instance: Instance): Promise<void>;
  /** Whether the edge has a server of the function up (ready, and not found down) right now. */
  hasServerUp(fn: string): Promise<boolean>;
  /** Requests the edge has open or queued for this instance right now. */
  sessions(instance: Instance): Promise<number>;
  /**
   * Requests any worker of the edge has open or queued for a server at this IP, whatever its port: those of a
   * container no function claims any more (an orphan found by a restarted runner).
   */
  openAt(ip: string): Promise<number>;
  /** Sessions and queues of every function's backend, by function name. */
  sample(): Promise<Map<string, BackendStats>>;
}

/** Routing for tests of the reconciler alone: nothing is routed, nothing is open. */
export const noRouting: Routing = {
  declare: async () => {},
  forget: async () => {},
  serve: async () => {},
  hold: async () => {},
  drain: async () => {},
  remove: async () => {},
  sessions: async () => 0,
  openAt: async () => 0,
  hasServerUp: async () => true,
  sample: async () => new Map(),
};
