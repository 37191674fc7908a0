import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { defaultLifecycleConfig } from '../../runner/src/autoscaler/plan-instances.js';
import { defaultAdapterSettings, defaultAsyncSettings } from '../../runner/src/spec/deploy-request.js';
import type { FunctionSpec } from '../../runner/src/spec/function-spec.js';
import { StateStore } from '../../runner/src/store/state-store.js';

const MiB = 1024 ** 2;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pilotlight-store-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function spec(name: string, image = 'shop:1'): Omit<FunctionSpec, 'revision'> {
  return {
    name,
    image,
    digest: 'shop@sha256:abc',
    imageId: 'sha256:def',
    startupTimeoutMs: 60_000,
    appPort: 3000,
    active: { cpus: 2, memory: 1024 * MiB },
    reserved: { cpus: 0.1, memory: 128 * MiB },
    concurrency: 10,
    timeoutMs: 60_000,
    env: { MODE: 'prod' },
    scaling: { minScale: 1, maxScale: 5 },
    lifecycle: defaultLifecycleConfig(),
    adapter: defaultAdapterSettings(),
    async: defaultAsyncSettings(),
  };
}

describe('StateStore (a real SQLite file)', () => {
  test('functions survive a reopen, and each deploy is a new revision', () => {
    const path = join(dir, 'state.db');
    const store = new StateStore(path);
    expect(store.putFunction(spec('shop'), 1).revision).toBe(1);
    expect(store.putFunction(spec('shop', 'shop:2'), 2).revision).toBe(2);
    store.putFunction(spec('blog'), 3);
    store.close();

    const reopened = new StateStore(path);
    expect(reopened.listFunctions().map((fn) => [fn.name, fn.revision, fn.image])).toEqual([
      ['blog', 1, 'shop:1'],
      ['shop', 2, 'shop:2'],
    ]);
    expect(reopened.getFunction('shop')?.env).toEqual({ MODE: 'prod' });
    expect(reopened.removeFunction('shop')).toBe(true);
    expect(reopened.removeFunction('shop')).toBe(false);
    expect(reopened.getFunction('shop')).toBeUndefined();
    reopened.close();
  });

  test('instance events are kept in order per function', () => {
    const store = new StateStore(join(dir, 'state.db'));
    store.recordInstanceEvent({
      at: 1,
      function: 'shop',
      instance: 'a',
      action: 'shrink',
      detail: { memory: 128 },
    });
    store.recordInstanceEvent({ at: 2, function: 'blog', instance: 'b', action: 'start', detail: {} });
    store.recordInstanceEvent({ at: 3, function: 'shop', instance: 'a', action: 'wake', detail: { ms: 12 } });
    expect(store.instanceEvents('shop').map((event) => [event.action, event.detail])).toEqual([
      ['shrink', { memory: 128 }],
      ['wake', { ms: 12 }],
    ]);
    store.close();
  });
});
