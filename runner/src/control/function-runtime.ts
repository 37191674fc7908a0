import { decide, defaultConfig, initialState, type AutoscalerState } from '../autoscaler/kpa.js';
import { ConcurrencyWindow } from '../autoscaler/concurrency-window.js';
import {
  afterDeath,
  defaultCrashBackoffConfig,
  inBackoff,
  initialCrashState,
  type CrashBackoffConfig,
  type CrashState,
  type Death,
} from '../autoscaler/crash-backoff.js';
import { afterStartFailure, initialStartBackoff, type StartBackoff } from '../autoscaler/start-backoff.js';
import { planInstances, type InstanceAction } from '../autoscaler/plan-instances.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { capacityWaitMs, type FunctionSpec } from '../spec/function-spec.js';
import { FunctionPool } from '../gateway/function-pool.js';
import { inUse, type Instance } from '../instances/instance.js';

export class CrashLoopError extends PilotlightError {
  constructor(fn: string, crash: CrashState, now: number) {
    const last = crash.last!;
    const ran = last.ranMs === undefined ? ' before it became ready' : ` after ${seconds(last.ranMs)} s`;
    super(
      'CRASH_LOOP',
      `function ${fn} keeps crashing: its last instance ${last.reason}${ran} (${crash.consecutive} deaths in a row); ` +
        `the next start is in ${seconds(crash.holdStartsUntil - now)} s. Its last log lines: \`runner events ${fn}\``,
      503,
    );
  }
}

/** How long a 503 waits for the engine's account of a death before it goes out without it. */
const ACCOUNT_WAIT_MS = 500;

/** A wait that does not keep the process alive on its own. */
function unrefDelay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(1);
}

/** A deployed function in the running runner: its spec, its pool of instances, and its autoscaler state. */
export class FunctionRuntime {
  readonly pool: FunctionPool;
  private readonly concurrency: ConcurrencyWindow;
  private autoscaler: AutoscalerState = initialState();
  lastDecision: { desired: number; mode: 'stable' | 'panic' };
  /** Instances whose containers are being created (not in the pool yet). */
  pendingStarts = 0;
  /**
   * A release is starting the first instance of the revision that replaces this one: it counts as an instance
   * coming, so that requests arriving meanwhile wait for it rather than cold-start this revision.
   */
  replacementStarting = false;
  /** Deaths in a row and how long new starts are held back. */
  crash: CrashState = initialCrashState();
  /** Starts the engine refused in a row (no container came of them). */
  startBackoff: StartBackoff = initialStartBackoff();
  /** Every instance that died since the function was deployed. */
  deaths = 0;
  private deathAccount: Promise<void> = Promise.resolve();

  constructor(
    public spec: FunctionSpec,
    private readonly hooks: {
      now: () => number;
      onNeedCapacity: () => void;
      wake: (instance: Instance) => Promise<void>;
      crashBackoff?: CrashBackoffConfig;
    },
  ) {
    this.lastDecision = { desired: spec.scaling.minScale, mode: 'stable' };
    this.concurrency = new ConcurrencyWindow(this.autoscalerConfig().stableWindowMs);
    this.pool = new FunctionPool({
      fn: spec.name,
      concurrency: spec.concurrency,
      maxWaiting: Math.max(100, spec.concurrency * spec.scaling.maxScale * 10),
      maxWaitMs: capacityWaitMs(spec),
      now: hooks.now,
      onNeedCapacity: hooks.onNeedCapacity,
      wake: hooks.wake,
      unavailable: () => (inBackoff(this.crash, hooks.now()) ? this.refusal() : undefined),
    });
  }

  /**
   * Counts a death of one of its instances. `account` gives the engine's word on why it died (its exit code
   * or OOM kill), which may come a moment later; 503s during the backoff wait for it, briefly, to name it.
   */
  noteDeath(death: Death, account: Promise<string | undefined> = Promise.resolve(undefined)): void {
    this.deaths += 1;
    this.crash = afterDeath(this.crash, death, this.hooks.crashBackoff ?? defaultCrashBackoffConfig());
    const last = this.crash.last!;
    this.deathAccount = Promise.race([account, unrefDelay(ACCOUNT_WAIT_MS)]).then((reason) => {
      if (reason) last.reason = reason;
    });
    if (!inBackoff(this.crash, death.at)) return;
    void this.deathAccount.then(() => {
      const error = this.crashLoopError(this.hooks.now());
      if (error) this.pool.rejectAllWaiting(error);
    });
  }

  /** A container could not be made or started: further starts wait a little longer each time. */
  noteStartRefused(now: number): void {
    this.startBackoff = afterStartFailure(this.startBackoff, now);
  }

  /** A container was made and started: starts are no longer held for the engine's sake. */
  noteStartMade(): void {
    this.startBackoff = initialStartBackoff();
  }

  /** The 503 for a request that finds no room during a backoff, once the last death's cause is known. */
  private async refusal(): Promise<CrashLoopError | undefined> {
    await this.deathAccount;
    return this.crashLoopError(this.hooks.now());
  }

  lastDeath(now: number): { instance: string; reason: string; agoMs: number } | null {
    const last = this.crash.last;
    return last ? { instance: last.instance, reason: last.reason, agoMs: now - last.at } : null;
  }

  /** The 503 for a request that finds no room while new starts are held back. */
  crashLoopError(now: number): CrashLoopError | undefined {
    return inBackoff(this.crash, now) ? new CrashLoopError(this.spec.name, this.crash, now) : undefined;
  }

  autoscalerConfig() {
    return { ...defaultConfig(), ...this.spec.scaling, targetConcurrency: this.spec.concurrency };
  }

  /** One tick: sample the demand, ask the autoscaler, plan what to do with the instances. */
  tick(now: number): InstanceAction[] {
    const config = this.autoscalerConfig();
    this.concurrency.record(now, this.pool.demand);
    const ready = this.pool.instances.filter(
      (instance) => instance.state !== 'starting' && instance.state !== 'draining',
    );
    const decision = decide({
      concurrency: {
        stable: this.concurrency.average(now, config.stableWindowMs),
        panic: this.concurrency.average(now, config.panicWindowMs),
      },
      readyInstances: ready.length,
      now,
      config,
      state: this.autoscaler,
    });
    this.autoscaler = decision.state;
    this.lastDecision = { desired: decision.desired, mode: decision.mode };
    return planInstances({
      // The planner sees every request in use, at the edge as well as the runner's own.
      instances: this.pool.instances.map((instance) => ({
        id: instance.id,
        state: instance.state,
        stateSince: instance.stateSince,
        lastActiveAt: instance.lastActiveAt,
        inflight: inUse(instance),
      })),
      pendingStarts: this.pendingStarts + (this.replacementStarting ? 1 : 0),
      waiting: this.pool.waitingCount + this.pool.edgeQueued,
      desired: decision.desired,
      now,
      config: this.spec.lifecycle,
      holdStartsUntil: Math.max(this.crash.holdStartsUntil, this.startBackoff.holdStartsUntil),
    });
  }
}
