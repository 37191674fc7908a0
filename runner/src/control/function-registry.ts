import { UnknownFunctionError } from '../errors.js';
import type { Instance } from '../instances/instance.js';
import type { FunctionRuntime } from './function-runtime.js';

/** The functions this runner serves, by name, and where each tracked instance belongs. */
export class FunctionRegistry {
  private readonly functions = new Map<string, FunctionRuntime>();

  /** The function, or UNKNOWN_FUNCTION (404). */
  get(name: string): FunctionRuntime {
    const fn = this.functions.get(name);
    if (!fn) throw new UnknownFunctionError(name);
    return fn;
  }

  find(name: string): FunctionRuntime | undefined {
    return this.functions.get(name);
  }

  /** Whether `fn` is still the one serving its name (not removed nor replaced by a redeploy). */
  isCurrent(fn: FunctionRuntime): boolean {
    return this.functions.get(fn.spec.name) === fn;
  }

  set(fn: FunctionRuntime): void {
    this.functions.set(fn.spec.name, fn);
  }

  delete(name: string): void {
    this.functions.delete(name);
  }

  names(): string[] {
    return [...this.functions.keys()];
  }

  all(): FunctionRuntime[] {
    return [...this.functions.values()];
  }

  findInstance(id: string): { fn: FunctionRuntime; instance: Instance } | undefined {
    for (const fn of this.functions.values()) {
      const instance = fn.pool.instances.find((candidate) => candidate.id === id);
      if (instance) return { fn, instance };
    }
    return undefined;
  }

  /** Ids of the instances that serve or are starting: those that can die on the runner. */
  *trackedIds(): Iterable<string> {
    for (const fn of this.functions.values()) {
      for (const instance of fn.pool.instances) if (instance.state !== 'draining') yield instance.id;
    }
  }

  /** Requests in flight or waiting, over every function. */
  demand(): number {
    let total = 0;
    for (const fn of this.functions.values()) total += fn.pool.demand;
    return total;
  }
}
