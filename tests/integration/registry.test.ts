import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sampleImageRef } from '../../images/catalog.js';
import { followProgress } from '../../engine/follow-progress.js';
import { testDocker, TEST_RUN_ID } from '../helpers/test-docker.js';
import { pushToRegistry, startTestRegistry, untag, type TestRegistry } from '../helpers/test-registry.js';

const docker = testDocker();

describe('the test registry (Debian docker-registry with htpasswd)', () => {
  let registry: TestRegistry;
  const created: string[] = [];

  beforeAll(async () => {
    registry = await startTestRegistry(docker);
  });
  afterAll(async () => {
    for (const ref of created) await untag(docker, ref);
    await registry.stop();
  });

  test('refuses anonymous calls', async () => {
    const response = await fetch(`http://${registry.address}/v2/_catalog`);
    expect(response.status).toBe(401);
  });

  test('a sample pushed with credentials can be pulled back with them', async () => {
    const ref = await pushToRegistry(
      docker,
      registry,
      sampleImageRef('scratch'),
      'samples/scratch',
      TEST_RUN_ID,
    );
    created.push(ref);
    const auth = `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`;
    const tags = await fetch(`http://${registry.address}/v2/samples/scratch/tags/list`, {
      headers: { authorization: auth },
    });
    expect(((await tags.json()) as { tags: string[] }).tags).toContain(TEST_RUN_ID);

    await untag(docker, ref);
    const stream = await docker.pull(ref, { authconfig: registry.auth });
    await followProgress(docker, stream);
    const pulled = await docker.getImage(ref).inspect();
    const local = await docker.getImage(sampleImageRef('scratch')).inspect();
    expect(pulled.Id).toBe(local.Id);
  });

  test('a pull with a wrong password is refused with a clear reason', async () => {
    const ref = `${registry.address}/samples/scratch:${TEST_RUN_ID}`;
    const pull = async () => {
      const stream = await docker.pull(ref, { authconfig: { ...registry.auth, password: 'wrong' } });
      await followProgress(docker, stream);
    };
    await expect(pull()).rejects.toThrow(/unauthorized|authentication required|no basic auth/i);
  });
});
