import { PilotlightError } from '../../../common/pilotlight-error.js';
import { inUse, type Instance } from '../instances/instance.js';

export class NoCapacityError extends PilotlightError {
  constructor(fn: string, waiting: number) {
    super(
      'NO_CAPACITY',
      `function ${fn} has no instance with room and ${waiting} requests already waiting: retry shortly`,
      503,
    );
  }
}

export class ActivationTimeoutError extends PilotlightError {
  constructor(fn: string, ms: number) {
    super(
      'ACTIVATION_TIMEOUT',
      `function ${fn} got no instance with room within ${ms} ms: retry shortly`,
      503,
    );
  }
}

/** A release replaced the function while the request waited: the new revision's instances serve it. */
export class RedeployedError extends PilotlightError {
  constructor(fn: string) {
    super('REDEPLOYED', `function ${fn} was redeployed while the request waited: retry`, 503);
  }
}

/** The client went away while its request waited: nobody is left to answer. */
export class ClientGoneError extends PilotlightError {
  constructor(fn: string) {
    super('CLIENT_GONE', `the client of a request to function ${fn} went away while it waited`, 499);
  }
}

export interface PoolOptions {
  fn: string;
  concurrency: number;
  /** Requests the activator holds while no instance has room; beyond this, 503. */
  maxWaiting: number;
  maxWaitMs: number;
  now: () => number;
  /** Called when a request had to wait: the reconciler should add capacity now, not at its next tick. */
  onNeedCapacity: () => void;
  /** Resizes a reserved or frozen instance back to its active spec before it is used. */
  wake: (instance: Instance) => Promise<void>;
  /**
   * Why a request that finds no room must not wait (a crash-loop backoff), or undefined to let it wait. It
   * may take a moment to say (the account of a death that has just happened).
   */
  unavailable?: () => Error | undefined | Promise<Error | undefined>;
}

interface Waiter {
  resolve: (instance: Instance) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A function's instances and the requests waiting for one: least-loaded balancing within each instance's
 * concurrency, and the activator's bounded queue when none has room.
 */
export class FunctionPool {
  readonly instances: Instance[] = [];
  private readonly waiting: Waiter[] = [];
  private readonly waking = new Map<string, Promise<void>>();
  /** Requests waiting in the edge's queue for this function's instances, at the last sample. */
  edgeQueued = 0;
  /** Requests the activator holds while an instance is active but none is up at the edge yet. */
  private awaitingEdge = 0;

  constructor(private readonly options: PoolOptions) {}

  /** How long a request may wait in the activator for an instance. */
  get maxWaitMs(): number {
    return this.options.maxWaitMs;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** In flight (at the edge and from the runner) plus waiting: the concurrency the autoscaler sees. */
  get demand(): number {
    return (
      this.instances.reduce((sum, instance) => sum + inUse(instance), 0) +
      this.waiting.length +
      this.awaitingEdge +
      this.edgeQueued
    );
  }

  /** Counts a request as demand while the activator waits for the edge to take it (`wait`). */
  async awaitEdge(wait: Promise<void>): Promise<void> {
    this.awaitingEdge += 1;
    try {
      await wait;
    } finally {
      this.awaitingEdge -= 1;
    }
  }

  /**
   * The activator's wait: resolves once an instance takes requests from the edge, waking a shrunk or frozen
   * one, or holding the request (bounded) until one is started.
   */
  async activate(gone?: AbortSignal): Promise<void> {
    if (this.instances.some((instance) => instance.state === 'active')) return;
    this.release(await this.acquire(gone));
  }

  add(instance: Instance): void {
    this.instances.push(instance);
    this.serveWaiting();
  }

  /** Takes an instance out: no request is handed to it from now on. */
  remove(instance: Instance): void {
    const at = this.instances.indexOf(instance);
    if (at !== -1) this.instances.splice(at, 1);
  }

  has(instance: Instance): boolean {
    return this.instances.includes(instance);
  }

  /**
   * An instance with room (woken first if it was shrunk or frozen), or a wait in the activator. A wait ends
   * when `gone` aborts (its client left): it no longer holds a place in the queue nor counts as demand.
   */
  async acquire(gone?: AbortSignal): Promise<Instance> {
    const instance = this.pick();
    if (instance) return this.claim(instance);
    const unavailable = this.options.unavailable?.();
    const refusal = unavailable instanceof Promise ? await unavailable : unavailable;
    if (refusal) throw refusal;
    if (gone?.aborted) throw new ClientGoneError(this.options.fn);
    if (this.waiting.length >= this.options.maxWaiting) {
      throw new NoCapacityError(this.options.fn, this.waiting.length);
    }
    const chosen = new Promise<Instance>((resolve, reject) => {
      const leave = (error: Error): void => {
        clearTimeout(waiter.timer);
        this.dropWaiter(waiter);
        waiter.reject(error);
      };
      const onGone = (): void => leave(new ClientGoneError(this.options.fn));
      const waiter: Waiter = {
        resolve: (instance) => {
          gone?.removeEventListener('abort', onGone);
          resolve(instance);
        },
        reject: (error) => {
          gone?.removeEventListener('abort', onGone);
          reject(error);
        },
        timer: setTimeout(
          () => leave(new ActivationTimeoutError(this.options.fn, this.options.maxWaitMs)),
          this.options.maxWaitMs,
        ),
      };
      gone?.addEventListener('abort', onGone, { once: true });
      this.waiting.push(waiter);
    });
    // Only now, with this request counted in the demand, is the autoscaler asked.
    this.options.onNeedCapacity();
    return this.ready(await chosen);
  }

  release(instance: Instance): void {
    instance.inflight -= 1;
    instance.lastActiveAt = this.options.now();
    this.serveWaiting();
  }

  /** Called when instances change state (ready, woken) so held requests can go. */
  serveWaiting(): void {
    while (this.waiting.length > 0) {
      const instance = this.pick();
      if (!instance) return;
      const waiter = this.waiting.shift()!;
      clearTimeout(waiter.timer);
      instance.inflight += 1;
      instance.lastActiveAt = this.options.now();
      waiter.resolve(instance);
    }
  }

  rejectAllWaiting(error: Error): void {
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /** Least loaded among those serving with room; a warm (active) instance wins a tie over a reserved one. */
  private pick(): Instance | undefined {
    let best: Instance | undefined;
    for (const instance of this.instances) {
      if (instance.state === 'starting' || instance.state === 'draining') continue;
      if (inUse(instance) >= this.options.concurrency) continue;
      if (
        !best ||
        inUse(instance) < inUse(best) ||
        (inUse(instance) === inUse(best) && best.state !== 'active' && instance.state === 'active')
      ) {
        best = instance;
      }
    }
    return best;
  }

  private async claim(instance: Instance): Promise<Instance> {
    instance.inflight += 1;
    instance.lastActiveAt = this.options.now();
    return this.ready(instance);
  }

  /** Wakes a shrunk or frozen instance once, however many requests arrive for it meanwhile. */
  private async ready(instance: Instance): Promise<Instance> {
    if (instance.state === 'active') return instance;
    let wake = this.waking.get(instance.id);
    if (!wake) {
      wake = this.options.wake(instance).finally(() => this.waking.delete(instance.id));
      this.waking.set(instance.id, wake);
    }
    try {
      await wake;
    } catch (error) {
      this.release(instance);
      throw error;
    }
    return instance;
  }

  private dropWaiter(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at !== -1) this.waiting.splice(at, 1);
  }
}
