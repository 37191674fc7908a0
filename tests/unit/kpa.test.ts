import { describe, expect, test } from '@jest/globals';
import {
  averageOver,
  decide,
  defaultConfig,
  initialState,
  type AutoscalerConfig,
  type AutoscalerState,
  type ConcurrencySample,
} from '../../runner/src/autoscaler/kpa.js';

/** A hand-moved clock: one concurrency sample a second, one decision a second. */
class Simulation {
  now = 0;
  samples: ConcurrencySample[] = [];
  state: AutoscalerState = initialState();
  ready = 1;
  last = { desired: 1, mode: 'stable' as 'stable' | 'panic' };

  constructor(readonly config: AutoscalerConfig = { ...defaultConfig(), maxScale: 100 }) {}

  /** Runs `seconds` seconds at `concurrency`, instances becoming ready as soon as they are wanted. */
  run(seconds: number, concurrency: number): this {
    for (let i = 0; i < seconds; i++) {
      this.now += 1000;
      this.samples.push({ at: this.now, concurrency });
      const decision = decide({
        samples: this.samples,
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
      samples: [{ at: 1000, concurrency: 0 }],
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
      samples: [{ at: 1000, concurrency: 700 }],
      readyInstances: 1,
      now: 1000,
      config: { ...config, maxScale: 100 },
      state: initialState(),
    });
    expect(decision.desired).toBe(2);
    const capped = decide({
      samples: [{ at: 1000, concurrency: 700 }],
      readyInstances: 50,
      now: 1000,
      config,
      state: initialState(),
    });
    expect(capped.desired).toBe(3);
  });

  test('averages use only the samples inside the window', () => {
    const samples = [
      { at: 1000, concurrency: 100 },
      { at: 55_000, concurrency: 2 },
      { at: 60_000, concurrency: 4 },
    ];
    expect(averageOver(samples, 60_000, 6_000)).toBe(3);
    expect(averageOver(samples, 60_000, 59_000)).toBe(3);
    expect(averageOver(samples, 60_000, 60_000)).toBeCloseTo(106 / 3);
    expect(averageOver([], 60_000, 6_000)).toBe(0);
  });
});
