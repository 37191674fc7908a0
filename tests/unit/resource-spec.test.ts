import { describe, expect, test } from '@jest/globals';
import { hostResources } from '../../engine/docker-engine.js';
import { capToHost } from '../../runner/src/instances/resource-spec.js';
import { safeMemoryFloor, shrinkTarget } from '../../runner/src/instances/shrink-target.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('resource specs', () => {
  test('a spec beyond the host is capped with a warning', () => {
    const { spec, warnings } = capToHost(
      { cpus: 16, memory: 32 * GiB },
      { cpus: 2, memory: 24 * GiB },
      'the active spec',
    );
    expect(spec).toEqual({ cpus: 2, memory: 24 * GiB });
    expect(warnings).toEqual([
      'the active spec asks for 16 CPUs but this host has 2: using 2',
      'the active spec asks for 32g but this host has 24g: using 24g',
    ]);
  });

  test('the Engine fields turn swap off', () => {
    expect(hostResources({ cpus: 0.25, memory: 128 * MiB })).toEqual({
      NanoCpus: 250_000_000,
      Memory: 128 * MiB,
      MemorySwap: 128 * MiB,
    });
  });
});

describe('shrinking memory safely', () => {
  test('an app using little is shrunk all the way to the reserved spec', () => {
    expect(shrinkTarget({ cpus: 0.1, memory: 128 * MiB }, 40 * MiB)).toEqual({
      applied: { cpus: 0.1, memory: 128 * MiB },
      usageBytes: 40 * MiB,
    });
  });

  test('an app using more than the reserved memory keeps what it needs plus headroom, and says so', () => {
    const result = shrinkTarget({ cpus: 0.1, memory: 64 * MiB }, 200 * MiB);
    expect(result.applied).toEqual({ cpus: 0.1, memory: 250 * MiB });
    expect(result.note).toMatch(/memory kept at .* the app uses/);
  });

  test('the floor is at least 16 MiB above the usage', () => {
    expect(safeMemoryFloor(10 * MiB)).toBe(26 * MiB);
  });
});
