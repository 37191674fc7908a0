import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sampleImageRef } from '../../images/catalog.js';
import { projectRoot } from '../../common/project-root.js';
import { startContainer, testDocker, waitForOk, type StartedContainer } from '../helpers/test-docker.js';

const docker = testDocker();

const appSamples = [
  { name: 'express', port: 3000 },
  { name: 'flask', port: 5000 },
  { name: 'jvm', port: 8080 },
] as const;

describe.each(appSamples)('$name sample on the real engine', ({ name, port }) => {
  let app: StartedContainer;

  beforeAll(async () => {
    app = await startContainer(docker, sampleImageRef(name), port, { env: ['SAMPLE_MARKER=present'] });
    await waitForOk(`${app.url}/`);
  });
  afterAll(() => app.remove());

  test('GET / greets with its stack name', async () => {
    const response = await fetch(`${app.url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`hello from ${name}\n`);
  });

  test('POST /echo returns the exact bytes of a 1 MiB binary body', async () => {
    const body = randomBytes(1024 * 1024);
    const response = await fetch(`${app.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    const echoed = Buffer.from(await response.arrayBuffer());
    expect(echoed.length).toBe(body.length);
    expect(echoed.equals(body)).toBe(true);
  });

  test('GET /slow waits the asked time', async () => {
    const started = Date.now();
    const response = await fetch(`${app.url}/slow?ms=300`);
    expect(await response.text()).toBe('slept 300 ms\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  test('GET /stream sends its chunks as they are made', async () => {
    const response = await fetch(`${app.url}/stream?count=4&interval=150`);
    const reader = response.body!.getReader();
    const arrivals: number[] = [];
    let text = '';
    const started = Date.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push(Date.now() - started);
      text += Buffer.from(value).toString();
    }
    expect(text).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals[0]!).toBeLessThan(300);
  });

  test('GET /env shows the environment the container was given', async () => {
    const env = (await (await fetch(`${app.url}/env`)).json()) as Record<string, string>;
    expect(env['SAMPLE_MARKER']).toBe('present');
    expect(env['PORT']).toBe(String(port));
  });

  test('STARTUP_DELAY_MS delays the first answer', async () => {
    const slow = await startContainer(docker, sampleImageRef(name), port, { env: ['STARTUP_DELAY_MS=1500'] });
    try {
      const startedAt = Date.parse((await slow.container.inspect()).State.StartedAt);
      await waitForOk(`${slow.url}/`);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1500);
    } finally {
      await slow.remove();
    }
  });

  test('/crash makes the server process exit with code 3', async () => {
    const doomed = await startContainer(docker, sampleImageRef(name), port);
    try {
      await waitForOk(`${doomed.url}/`);
      await fetch(`${doomed.url}/crash`).catch(() => undefined);
      const result = (await doomed.container.wait()) as { StatusCode: number };
      expect(result.StatusCode).toBe(3);
    } finally {
      await doomed.remove();
    }
  });
});

describe('scratch sample (busybox httpd, no libc)', () => {
  let site: StartedContainer;

  beforeAll(async () => {
    site = await startContainer(docker, sampleImageRef('scratch'), 8000);
    await waitForOk(`${site.url}/`);
  });
  afterAll(() => site.remove());

  test('serves its index page', async () => {
    const response = await fetch(`${site.url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('hello from a static binary in a scratch image');
  });

  test('serves a binary file byte for byte', async () => {
    const expected = readFileSync(join(projectRoot(), 'samples/scratch/www/blob.bin'));
    const response = await fetch(`${site.url}/blob.bin`);
    expect(Buffer.from(await response.arrayBuffer()).equals(expected)).toBe(true);
  });

  test('the image holds nothing but busybox and the site', async () => {
    const image = await docker.getImage(sampleImageRef('scratch')).inspect();
    expect(image.Size).toBeLessThan(5 * 1024 * 1024);
    expect(image.Config.Env ?? []).not.toContainEqual(expect.stringContaining('NODE'));
  });
});
