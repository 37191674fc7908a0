import { describe, expect, test } from '@jest/globals';
import { ConcurrencyWindow } from '../../runner/src/autoscaler/concurrency-window.js';
import {
  decide,
  defaultConfig,
  initialState,
  type AutoscalerConfig,
  type AutoscalerState,
} from '../../runner/src/autoscaler/kpa.js';

/** A hand-moved clock: one concurrency sample a second, one decision a second. */
class Simulation {
  now = 0;
  window: ConcurrencyWindow;
  state: AutoscalerState = initialState();
  ready = 1;
  last = { desired: 1, mode: 'stable' as 'stable' | 'panic' };

  constructor(readonly config: AutoscalerConfig = { ...defaultConfig(), maxScale: 100 }) {
    this.window = new ConcurrencyWindow(config.stableWindowMs);
  }

  /** Runs `seconds` seconds at `concurrency`, instances becoming ready as soon as they are wanted. */
  run(seconds: number, concurrency: number): this {
    for (let i = 0; i < seconds; i++) {
      this.now += 1000;
      this.window.record(this.now, concurrency);
      const decision = decide({
        concurrency: {
          stable: this.window.average(this.now, this.config.stableWindowMs),
          panic: this.window.average(this.now, this.config.panicWindowMs),
        },
        readyInstances: this.ready,
        now: this.now,
        config: this.config,
        state: this.state,
      });
      this.state = decision.state;
      this.last = { desired: decision.desired, mode: decision.mode };
      this.ready = decision.desired;
    }
    return this;
  }
}

describe('KPA autoscaler', () => {
  test('defaults are Knative-like: 60 s stable, 6 s panic, 200 %, 70 % utilisation', () => {
    expect(defaultConfig()).toMatchObject({
      stableWindowMs: 60_000,
      panicWindowMs: 6_000,
      panicThreshold: 2,
      targetUtilization: 0.7,
    });
  });

  test('steady load settles at load / (target × utilisation)', () => {
    const sim = new Simulation().run(120, 14); // 14 in flight, 10 × 0.7 = 7 per instance
    expect(sim.last).toEqual({ desired: 2, mode: 'stable' });
  });

  test('no load keeps the minimum scale', () => {
    expect(new Simulation().run(90, 0).last.desired).toBe(1);
    expect(new Simulation({ ...defaultConfig(), minScale: 0 }).run(90, 0).last.desired).toBe(0);
  });

  test('a sudden burst panics within the panic window and scales out at once', () => {
    const sim = new Simulation().run(60, 1);
    expect(sim.last.desired).toBe(1);
    sim.run(1, 50); // the 6 s panic average is already 50/6 ≈ 8.3: ask for 2 ≥ 200 % of 1
    expect(sim.last.mode).toBe('panic');
    sim.run(5, 50);
    expect(sim.last.desired).toBe(Math.ceil(50 / 7));
  });

  test('during panic the count never goes down, and panic ends a stable window after the last trigger', () => {
    const sim = new Simulation().run(60, 1).run(6, 50);
    const peak = sim.last.desired;
    sim.run(30, 1);
    expect(sim.last).toEqual({ desired: peak, mode: 'panic' });
    sim.run(40, 1);
    expect(sim.last.mode).toBe('stable');
  });

  test('the scale-down delay holds the highest count asked for in the delay window', () => {
    const config = {
      ...defaultConfig(),
      maxScale: 100,
      panicThreshold: 1000,
      stableWindowMs: 6_000,
      scaleDownDelayMs: 20_000,
    };
    const sim = new Simulation(config).run(30, 28);
    expect(sim.last.desired).toBe(4);
    sim.run(10, 0);
    expect(sim.last.desired).toBe(4); // still inside the delay
    sim.run(15, 0);
    expect(sim.last.desired).toBe(2); // the delay has passed; one step at most halves
    sim.run(25, 0);
    expect(sim.last.desired).toBe(1);
  });

  test('one decision at most halves the ready instances (max scale-down rate 2)', () => {
    const config = {
      ...defaultConfig(),
      maxScale: 100,
      scaleDownDelayMs: 0,
      stableWindowMs: 1_000,
      panicThreshold: 1000,
    };
    const decision = decide({
      concurrency: { stable: 0, panic: 0 },
      readyInstances: 10,
      now: 1000,
      config,
      state: initialState(),
    });
    expect(decision.desired).toBe(5);
  });

  test('scale-up is limited by the max scale-up rate and the max scale', () => {
    const config = { ...defaultConfig(), maxScaleUpRate: 2, maxScale: 3, scaleDownDelayMs: 0 };
    const decision = decide({
      concurrency: { stable: 700, panic: 700 },
      readyInstances: 1,
      now: 1000,
      config: { ...config, maxScale: 100 },
      state: initialState(),
    });
    expect(decision.desired).toBe(2);
    const capped = decide({
      concurrency: { stable: 700, panic: 700 },
      readyInstances: 50,
      now: 1000,
      config,
      state: initialState(),
    });
    expect(capped.desired).toBe(3);
  });

  test('while panicking, the count is the larger of the stable and the panic window asks', () => {
    const config = { ...defaultConfig(), maxScale: 100, scaleDownDelayMs: 0 };
    const state = { panicSince: 1000, panicDesired: 0, recent: [] };
    const decision = decide({
      concurrency: { stable: 70, panic: 14 },
      readyInstances: 2,
      now: 2000,
      config,
      state,
    });
    expect(decision.mode).toBe('panic');
    // The panic window alone (14 / 7) would say 2 while the stable one says 70 / 7 = 10.
    expect(decision.desired).toBe(10);
  });

  test('the scale-down delay survives far more decisions than fit in a spread call', () => {
    const recent = Array.from({ length: 200_000 }, (_, i) => ({ at: 5000, desired: i === 7 ? 9 : 1 }));
    const decision = decide({
      concurrency: { stable: 0, panic: 0 },
      readyInstances: 9,
      now: 5000,
      config: { ...defaultConfig(), maxScale: 100 },
      state: { panicSince: undefined, panicDesired: 0, recent },
    });
    expect(decision.desired).toBe(9);
  });

  test('the delay history keeps one entry a second however many decisions are made', () => {
    const config = { ...defaultConfig(), maxScale: 100 };
    let state = initialState();
    for (let i = 0; i < 5000; i++) {
      const now = 1000 + i; // five thousand decisions within five seconds
      state = decide({
        concurrency: { stable: i === 10 ? 70 : 0, panic: 0 },
        readyInstances: 1,
        now,
        config,
        state,
      }).state;
    }
    expect(state.recent.length).toBe(5);
    expect(Math.max(...state.recent.map((entry) => entry.desired))).toBe(10);
  });
});
