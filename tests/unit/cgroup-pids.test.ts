import { describe, expect, test } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidsCgroup, watchPidsLimit } from '../../adapter/src/cgroup-pids.js';
import { tempDir } from '../helpers/temp-dir.js';

function fakeCgroup(version: 1 | 2, hits: number): { root: string; hit: (count: number) => void } {
  const root = tempDir('cgroup');
  const dir = version === 2 ? root : join(root, 'pids');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pids.max'), '128\n');
  const hit = (count: number) => writeFileSync(join(dir, 'pids.events'), `max ${count}\n`);
  hit(hits);
  return { root, hit };
}

describe("the container's pids limit as the adapter reads it", () => {
  test.each([1, 2] as const)('cgroup v%s: the limit and how often a fork hit it', (version) => {
    expect(pidsCgroup(fakeCgroup(version, 3).root)).toEqual({ limit: 128, hits: 3 });
  });

  test('no pids cgroup: nothing known, and the watch never fires', () => {
    const root = tempDir('cgroup');
    expect(pidsCgroup(root)).toEqual({ limit: undefined, hits: undefined });
    watchPidsLimit(root, 5).stop();
  });

  test('the watch fires on a hit after it started', async () => {
    const cgroup = fakeCgroup(1, 2);
    const watch = watchPidsLimit(cgroup.root, 5);
    cgroup.hit(3);
    await expect(watch.reached).resolves.toBe('the app reached the pids limit (128 processes and threads)');
  });
});
