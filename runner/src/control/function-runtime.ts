import {
  decide,
  defaultConfig,
  initialState,
  type AutoscalerState,
  type ConcurrencySample,
} from '../autoscaler/kpa.js';
import { planInstances, type InstanceAction } from '../autoscaler/plan-instances.js';
import type { FunctionSpec } from '../functions/function-spec.js';
import { FunctionPool } from '../gateway/function-pool.js';
import type { Instance } from '../instances/instance.js';

/** A deployed function in the running runner: its spec, its pool of instances, and its autoscaler state. */
export class FunctionRuntime {
  readonly pool: FunctionPool;
  private samples: ConcurrencySample[] = [];
  private autoscaler: AutoscalerState = initialState();
  lastDecision: { desired: number; mode: 'stable' | 'panic' };
  /** Instances whose containers are being created (not in the pool yet). */
  pendingStarts = 0;

  constructor(
    public spec: FunctionSpec,
    hooks: { now: () => number; onNeedCapacity: () => void; wake: (instance: Instance) => Promise<void> },
  ) {
    this.lastDecision = { desired: spec.scaling.minScale, mode: 'stable' };
    this.pool = new FunctionPool({
      fn: spec.name,
      concurrency: spec.concurrency,
      maxWaiting: Math.max(100, spec.concurrency * spec.scaling.maxScale * 10),
      maxWaitMs: spec.startupTimeoutMs + 5_000,
      now: hooks.now,
      onNeedCapacity: hooks.onNeedCapacity,
      wake: hooks.wake,
    });
  }

  autoscalerConfig() {
    return { ...defaultConfig(), ...this.spec.scaling, targetConcurrency: this.spec.concurrency };
  }

  /** One tick: sample the demand, ask the autoscaler, plan what to do with the instances. */
  tick(now: number): InstanceAction[] {
    const config = this.autoscalerConfig();
    this.samples.push({ at: now, concurrency: this.pool.demand });
    this.samples = this.samples.filter((sample) => sample.at > now - config.stableWindowMs);
    const ready = this.pool.instances.filter(
      (instance) => instance.state !== 'starting' && instance.state !== 'draining',
    );
    const decision = decide({
      samples: this.samples,
      readyInstances: ready.length,
      now,
      config,
      state: this.autoscaler,
    });
    this.autoscaler = decision.state;
    this.lastDecision = { desired: decision.desired, mode: decision.mode };
    return planInstances({
      instances: this.pool.instances,
      pendingStarts: this.pendingStarts,
      desired: decision.desired,
      now,
      config: this.spec.lifecycle,
    });
  }
}
