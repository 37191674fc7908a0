import { capacityWaitMs, type FunctionSpec } from '../spec/function-spec.js';
import {
  FREE_ADDRESS,
  backendName,
  settingsValue,
  type EdgeBackend,
  type EdgeSlot,
  type FunctionSettings,
} from './edge-config.js';

/** What of a backend only a reload can change: the queue's timeout, and how many slots it has. */
export interface BackendShape {
  queueTimeoutMs: number;
  slots: number;
  /** The maxconn of its free slots (each instance's is set when it is given a slot). */
  concurrency: number;
}

/** Slots per function: its maximum twice over (a rollout runs both revisions), and two to spare. */
function slotsFor(spec: FunctionSpec): number {
  return Math.max(4, 2 * spec.scaling.maxScale + 2);
}

export function shapeOf(spec: FunctionSpec): BackendShape {
  return {
    // The queue's wait does not count against the timeout (it starts when the app has the request), but a
    // function with a short timeout is not kept waiting longer than that for room: the queue's 503 then.
    queueTimeoutMs: Math.min(capacityWaitMs(spec), spec.timeoutMs),
    slots: slotsFor(spec),
    concurrency: spec.concurrency,
  };
}

function shapeOfBackend(backend: EdgeBackend): BackendShape {
  return {
    queueTimeoutMs: backend.queueTimeoutMs,
    slots: backend.slots.length,
    concurrency: backend.slots[0]?.maxconn ?? 1,
  };
}

function fits(backend: EdgeBackend, shape: BackendShape): boolean {
  return backend.queueTimeoutMs === shape.queueTimeoutMs && backend.slots.length >= shape.slots;
}

function sameShape(backend: EdgeBackend, shape: BackendShape): boolean {
  return backend.queueTimeoutMs === shape.queueTimeoutMs && backend.slots.length === shape.slots;
}

export function freeSlot(maxconn: number): EdgeSlot {
  return { instance: undefined, address: FREE_ADDRESS, maxconn, state: 'maint' };
}

export function slotOf(backend: EdgeBackend, instance: string): number {
  return backend.slots.findIndex((slot) => slot.instance === instance);
}

/**
 * Spare backends a reload leaves of the shape it was made for, and of each function's, so that the next
 * functions deployed like them are added at run time: a reload hands the requests in flight and queued to the
 * old worker, which the new one does not count against each server's maxconn. At most MAX_SPARES in all.
 */
export const SPARES_PER_SHAPE = 2;
export const MAX_SPARES = 8;

/**
 * Where a function's declaration leaves the edge: nothing to do, its settings map entry to change, a spare
 * given to it (both maps), a reload (a backend of a new shape, or more slots), or nothing yet (not open).
 */
export type Placement =
  | { kind: 'unchanged' }
  | { kind: 'settings'; backend: EdgeBackend }
  | { kind: 'assigned'; backend: EdgeBackend }
  | { kind: 'reload' }
  | { kind: 'staged' };

/**
 * The edge's backends and which function each serves: pure bookkeeping, no HAProxy. A backend is given to a
 * function for as long as it is deployed, then finishes its requests (retiring) and becomes a spare.
 */
export class BackendPool {
  /** By backend name: those serving a function, those whose function is gone, and spares. */
  private readonly backends = new Map<string, EdgeBackend>();
  private readonly byFunction = new Map<string, EdgeBackend>();

  /** `adopted`: each function's backend in the edge a restarted runner adopts, kept until it is open. */
  constructor(private readonly adopted: Map<string, string> = new Map()) {}

  all(): EdgeBackend[] {
    return [...this.backends.values()];
  }

  of(fn: string): EdgeBackend | undefined {
    return this.byFunction.get(fn);
  }

  /** Each function deployed, with its backend. */
  serving(): IterableIterator<[string, EdgeBackend]> {
    return this.byFunction.entries();
  }

  /** The slot an instance has, in whichever backend. */
  holding(instance: string): { backend: EdgeBackend; index: number } | undefined {
    for (const backend of this.backends.values()) {
      const index = slotOf(backend, instance);
      if (index !== -1) return { backend, index };
    }
    return undefined;
  }

  /**
   * The function's backend: the one it has (settings changed at run time), a spare (given at run time), or a
   * new one, by a reload (also when it needs what only a reload changes: its queue's timeout, more slots).
   * Before the edge is open, a function keeps the backend it has in the edge a restarted runner adopts.
   */
  place(settings: FunctionSettings, shape: BackendShape, live: boolean): Placement {
    const current = this.byFunction.get(settings.fn);
    if (current && fits(current, shape)) {
      if (current.settings && settingsValue(current.settings) === settingsValue(settings)) {
        return { kind: 'unchanged' };
      }
      current.settings = settings;
      return { kind: 'settings', backend: current };
    }
    const adopted = live ? undefined : this.adopted.get(settings.fn);
    const spare = current || adopted ? undefined : this.spareFitting(shape);
    const backend = current ?? spare ?? this.newBackend(shape, adopted);
    backend.queueTimeoutMs = shape.queueTimeoutMs;
    while (backend.slots.length < shape.slots) backend.slots.push(freeSlot(shape.concurrency));
    backend.settings = settings;
    this.byFunction.set(settings.fn, backend);
    if (!live) return { kind: 'staged' };
    if (spare) return { kind: 'assigned', backend: spare };
    this.keepSpares(shape);
    return { kind: 'reload' };
  }

  /** The edge opens: spares for each function's shape, and the adopted names are no longer held. */
  opened(): void {
    this.keepSpares();
    this.adopted.clear();
  }

  /** The function is gone: its backend is routed to no more, and retires (or is a spare at once, if free). */
  retire(fn: string): EdgeBackend | undefined {
    const backend = this.byFunction.get(fn);
    if (!backend) return undefined;
    this.byFunction.delete(fn);
    backend.retiring = true;
    return backend;
  }

  /** A retiring backend with every slot free becomes a spare; whether it did. */
  releaseIfFree(backend: EdgeBackend): boolean {
    if (!backend.retiring || backend.slots.some((slot) => slot.instance !== undefined)) return false;
    backend.retiring = false;
    backend.settings = undefined;
    return true;
  }

  private spareFitting(shape: BackendShape): EdgeBackend | undefined {
    const spares = this.all().filter((backend) => !backend.settings && fits(backend, shape));
    // The smallest that fits, so that a function with many slots still finds one.
    return spares.sort((a, b) => a.slots.length - b.slots.length)[0];
  }

  private newBackend(shape: BackendShape, name?: string): EdgeBackend {
    if (name === undefined || this.backends.has(name)) {
      const taken = new Set([...this.backends.keys(), ...this.adopted.values()]);
      let index = 1;
      while (taken.has(backendName(index))) index += 1;
      name = backendName(index);
    }
    const backend: EdgeBackend = {
      name,
      queueTimeoutMs: shape.queueTimeoutMs,
      slots: Array.from({ length: shape.slots }, () => freeSlot(shape.concurrency)),
      settings: undefined,
      retiring: false,
    };
    this.backends.set(name, backend);
    return backend;
  }

  /**
   * Before a reload renders the pool: SPARES_PER_SHAPE spares of the given shape, then of each function's, at
   * most MAX_SPARES in all; other spares (of shapes no function has, left by removals) go.
   */
  private keepSpares(first?: BackendShape): void {
    const shapes = [...(first ? [first] : []), ...[...this.byFunction.values()].map(shapeOfBackend)];
    const spares = this.all().filter((backend) => !backend.settings);
    const kept = new Set<EdgeBackend>();
    for (const shape of shapes) {
      let have = [...kept].filter((spare) => sameShape(spare, shape)).length;
      for (const spare of spares) {
        if (have >= SPARES_PER_SHAPE || kept.size >= MAX_SPARES) break;
        if (kept.has(spare) || !sameShape(spare, shape)) continue;
        kept.add(spare);
        have += 1;
      }
      while (have < SPARES_PER_SHAPE && kept.size < MAX_SPARES) {
        kept.add(this.newBackend(shape));
        have += 1;
      }
    }
    for (const spare of spares) if (!kept.has(spare)) this.backends.delete(spare.name);
  }
}
