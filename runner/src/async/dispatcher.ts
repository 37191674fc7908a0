import { doublingDelay } from '../../../common/doubling-delay.js';
import type { FunctionRegistry } from '../control/function-registry.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import type { Log } from '../control/reconciler.js';
import type { Clock } from '../instances/clock.js';
import type { AttemptResult } from './invoke-instance.js';
import type { Invocation, InvocationStore } from './invocation-store.js';
import { nextStep } from './retry-policy.js';

export interface DispatcherDeps {
  store: InvocationStore;
  /** Finished events kept: at most this many, none older than this. */
  retention?: { keep: number; maxAgeMs: number };
  registry: FunctionRegistry;
  clock: Clock;
  log: Log;
  /** One attempt of an event on one of the function's instances. */
  attempt: (fn: FunctionRuntime, invocation: Invocation) => Promise<AttemptResult>;
}

const CLAIM_RETRY_MS = 1000;
const RECORD_RETRY_FIRST_MS = 1000;
const RECORD_RETRY_MAX_MS = 30_000;

/** Finished events are kept a week, and no more than 10,000 of them. */
export function defaultRetention(): { keep: number; maxAgeMs: number } {
  return { keep: 10_000, maxAgeMs: 7 * 24 * 3_600_000 };
}

/**
 * Takes due async events from the store, oldest first, up to each function's async concurrency, and records
 * how each attempt went: succeeded, retried later (function errors up to maxRetries, system errors until the
 * event's maximum age), failed or expired.
 */
export class Dispatcher {
  private readonly running = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly underway = new Set<Promise<void>>();
  /** Attempts whose outcome could not be written yet, each with the timer that tries again. */
  private readonly unrecorded = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  private finished: () => void = () => {};

  constructor(private readonly deps: DispatcherDeps) {}

  /** Called after each attempt is recorded (a destination record may now be owed). */
  onFinished(listener: () => void): void {
    this.finished = listener;
  }

  /** Puts back what a previous run left running, and starts on every function's backlog. */
  start(): void {
    const requeued = this.deps.store.requeueRunning(this.deps.clock.now());
    if (requeued > 0) this.deps.log('async events back in the queue', { count: requeued });
    for (const name of this.deps.registry.names()) this.kick(name);
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), 60_000);
    this.pruneTimer.unref();
  }

  private prune(): void {
    const retention = this.deps.retention ?? defaultRetention();
    const pruned = this.deps.store.prune(this.deps.clock.now(), retention);
    if (pruned > 0) this.deps.log('finished async events pruned', { count: pruned });
  }

  /** No new attempts; resolves when those under way have been recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pruneTimer);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const timer of this.unrecorded.values()) clearTimeout(timer);
    this.unrecorded.clear();
    while (this.underway.size > 0) await Promise.allSettled([...this.underway]);
  }

  /** Starts whatever of the function's events is due and fits its concurrency; plans a wake for the rest. */
  kick(name: string): void {
    if (this.stopped) return;
    const fn = this.deps.registry.find(name);
    if (!fn) return;
    const now = this.deps.clock.now();
    const busy = this.running.get(name) ?? 0;
    let claimed: Invocation[];
    try {
      claimed = this.deps.store.claimDue(name, now, fn.spec.async.concurrency - busy);
    } catch (error) {
      // Claiming writes (a full disk refuses it): the events wait where they are, and the claim is tried again.
      this.deps.log('async events not claimed: tried again in 1 s', {
        fn: name,
        error: (error as Error).message,
      });
      return this.wakeAt(name, now + CLAIM_RETRY_MS);
    }
    for (const invocation of claimed) {
      const run = this.run(fn, invocation);
      this.underway.add(run);
      void run.finally(() => this.underway.delete(run));
    }
    this.wakeAtNextDue(name, now);
  }

  private async run(fn: FunctionRuntime, invocation: Invocation): Promise<void> {
    const name = fn.spec.name;
    this.running.set(name, (this.running.get(name) ?? 0) + 1);
    const started = this.deps.clock.now();
    try {
      const result = await this.deps.attempt(fn, invocation);
      const now = this.deps.clock.now();
      const attempts = [...invocation.attempts, { outcome: result.outcome }];
      const step = nextStep({
        outcome: result.outcome,
        attempts: attempts.length,
        functionErrors: attempts.filter((attempt) => attempt.outcome === 'function-error').length,
        acceptedAt: invocation.acceptedAt,
        now,
        config: { maxRetries: fn.spec.async.maxRetries, maxEventAgeMs: fn.spec.async.maxEventAgeMs },
      });
      const record = () =>
        this.deps.store.finishAttempt(
          invocation.id,
          {
            at: started,
            durationMs: now - started,
            instance: result.instance,
            status: result.status,
            outcome: result.outcome,
            ...(result.error ? { error: result.error } : {}),
          },
          {
            state: step.state,
            ...(step.state === 'retrying' ? { at: step.at } : {}),
            error: result.outcome === 'succeeded' ? null : (result.error ?? String(result.status)),
            result: result.result ?? null,
            ...destinationFor(fn, step.state),
          },
          now,
        );
      this.recordUntilStored(invocation.id, record, 0);
    } catch (error) {
      this.deps.log('async attempt failed', { invocation: invocation.id, error: (error as Error).message });
    } finally {
      this.running.set(name, (this.running.get(name) ?? 1) - 1);
      this.kick(name);
    }
  }

  /**
   * Records how an attempt went. A write that fails (a full disk) is tried again, 1 s doubling to 30 s, for
   * as long as the runner runs: the event stays running meanwhile, and a restart requeues it.
   */
  private recordUntilStored(id: string, record: () => void, failures: number): void {
    try {
      record();
      this.unrecorded.delete(id);
      this.finished();
    } catch (error) {
      if (this.stopped) return;
      const delayMs = doublingDelay(failures, RECORD_RETRY_FIRST_MS, RECORD_RETRY_MAX_MS);
      this.deps.log('async attempt not recorded: tried again later', {
        invocation: id,
        retryInMs: delayMs,
        error: (error as Error).message,
      });
      const timer = setTimeout(() => this.recordUntilStored(id, record, failures + 1), delayMs);
      timer.unref();
      this.unrecorded.set(id, timer);
    }
  }

  /**
   * One timer per function, set for its earliest due event. `now` must be the time the claim just made was
   * made at: an event due by then and not claimed was held back by the concurrency, and a running attempt
   * kicks again when it ends. Reading the clock afresh here would let an event that fell due in between go
   * without a timer and without a claim, never to run.
   */
  private wakeAtNextDue(name: string, now: number): void {
    const due = this.deps.store.nextDue(name);
    if (due === undefined || due <= now) return;
    this.wakeAt(name, due);
  }

  /** Kicks the function at `due`, unless a kick is planned sooner. */
  private wakeAt(name: string, due: number): void {
    const planned = this.timers.get(name);
    if (planned && planned.at <= due) return;
    if (planned) clearTimeout(planned.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(name);
        this.kick(name);
      },
      Math.max(0, due - this.deps.clock.now()),
    );
    timer.unref();
    this.timers.set(name, { at: due, timer });
  }
}

/** The function's destination for how an event ended, if it has one. */
function destinationFor(fn: FunctionRuntime, state: string): { destination?: string } {
  const target =
    state === 'succeeded'
      ? fn.spec.async.onSuccess
      : state === 'failed' || state === 'expired'
        ? fn.spec.async.onFailure
        : undefined;
  return target ? { destination: target } : {};
}
