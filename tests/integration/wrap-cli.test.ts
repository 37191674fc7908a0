import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sampleImageRef } from '../../images/catalog.js';
import { followProgress } from '../../engine/follow-progress.js';
import { tarContext } from '../../engine/build-context.js';
import { removeImage } from '../helpers/adapter-instance.js';
import { runRunner } from '../helpers/runner-cli.js';
import { startContainer, testDocker, testLabels, TEST_RUN_ID, waitForOk } from '../helpers/test-docker.js';

const docker = testDocker();
const source = `pilotlight/test-user-app:${TEST_RUN_ID}`;
const wrapped = `pilotlight/test-user-app:${TEST_RUN_ID}-wrapped`;

// An image with the things wrap must keep: a non-root user, a workdir, env, and an entrypoint full of quotes.
const dockerfile = `FROM ${sampleImageRef('express')}
USER nobody
WORKDIR /app
ENV GREETING="it's \\"quoted\\" \\$HOME"
ENTRYPOINT ["/bin/sh", "-c", "echo \\"starting $0 $1\\" && exec node server.js", "first"]
CMD ["second"]
`;

describe('runner wrap', () => {
  beforeAll(async () => {
    const stream = await docker.buildImage(
      tarContext([{ name: 'Dockerfile', mode: 0o644, content: Buffer.from(dockerfile) }]),
      { t: source, labels: testLabels() } as Parameters<typeof docker.buildImage>[1],
    );
    await followProgress(docker, stream as NodeJS.ReadableStream);
  });
  afterAll(async () => {
    await removeImage(docker, wrapped);
    await removeImage(docker, source);
  });

  test('builds an image whose plain docker run serves the app behind the adapter, keeping user, workdir and env', async () => {
    const result = await runRunner(['wrap', source, '--tag', wrapped]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toBe(wrapped);

    const original = await docker.getImage(source).inspect();
    const image = await docker.getImage(wrapped).inspect();
    expect(image.Config.User).toBe('nobody');
    expect(image.Config.WorkingDir).toBe('/app');
    expect(image.Config.Env).toEqual(expect.arrayContaining(original.Config.Env));
    expect(image.Config.Cmd).toEqual(['second']);
    const layers = image.RootFS.Layers ?? [];
    expect(layers.slice(0, -1)).toEqual(original.RootFS.Layers);
    expect(layers).toHaveLength((original.RootFS.Layers ?? []).length + 1);

    const instance = await startContainer(docker, wrapped, 9000);
    try {
      await waitForOk(`${instance.url}/_/ready`);
      const hello = await fetch(`${instance.url}/`);
      expect(await hello.text()).toBe('hello from express\n');
      const env = (await (await fetch(`${instance.url}/env`)).json()) as Record<string, string>;
      expect(env['GREETING']).toBe(`it's "quoted" $HOME`);
      expect(env['HOME']).toBe('/nonexistent'); // nobody's home: the app runs as the image's user
      expect(Object.keys(env).filter((key) => key.startsWith('PILOTLIGHT_'))).toEqual([]);
      const logs = (await instance.container.logs({ stdout: true, stderr: true })).toString();
      expect(logs).toContain('starting first second');
    } finally {
      await instance.remove();
    }
  });

  test('a missing image is one clear line and exit code 2', async () => {
    const result = await runRunner(['wrap', 'pilotlight/no-such-image:nope']);
    expect(result.exitCode).toBe(2);
    expect(String(result.all).trim()).toBe(
      'runner: image pilotlight/no-such-image:nope is not on this Docker engine: pull or build it first [IMAGE_NOT_FOUND]',
    );
  });
});
