import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { checkDeploy, nameFromImage } from '../../runner/src/spec/deploy-request.js';
import { defaultPullPolicy, explainPullFailure } from '../../runner/src/registry/pull-image.js';
import { authFromDockerConfig, registryHost } from '../../runner/src/registry/registry-auth.js';

const host = { cpus: 2, memory: 8 * 1024 ** 3 };

describe('checkDeploy', () => {
  test('defaults: 1 CPU / 512m active, 0.05 CPU / 128m reserved, min 1, name from the image', () => {
    const checked = checkDeploy({ image: '127.0.0.1:5000/team/Shop_App:1.2' }, host);
    expect(checked).toMatchObject({
      name: 'shop-app',
      active: { cpus: 1, memory: 512 * 1024 ** 2 },
      reserved: { cpus: 0.05, memory: 128 * 1024 ** 2 },
      minScale: 1,
      timeoutMs: 300_000,
      warnings: [],
    });
    expect(checked.lifecycle).toMatchObject({ minScale: 1, reserveAfterMs: 30_000 });
  });

  test('graces and windows are per function, in seconds or with units', () => {
    const checked = checkDeploy(
      {
        image: 'shop',
        reserveAfter: 2,
        freezeAfter: 5,
        zeroAfter: 9,
        stableWindow: '20s',
        scaleDownDelay: 3,
        min: 0,
      },
      host,
    );
    expect(checked.lifecycle).toEqual({
      minScale: 0,
      reserveAfterMs: 2000,
      freezeAfterMs: 5000,
      zeroAfterMs: 9000,
    });
    expect(checked.autoscaler).toEqual({
      stableWindowMs: 20_000,
      panicWindowMs: 2000,
      scaleDownDelayMs: 3000,
    });
  });

  test('a reserved spec larger than the active one is refused', () => {
    expect(() => checkDeploy({ image: 'shop', cpus: '0.5', reservedCpus: '1' }, host)).toThrow(
      /reservedCpus: 1 is above cpus 0.5: the reserved spec is the small one/,
    );
  });

  test('the 2 h timeout limit and reserved env names are enforced', () => {
    expect(() => checkDeploy({ image: 'shop', timeout: 7201 }, host)).toThrow(
      'timeout: 7201 is out of range: allowed 1s–2h',
    );
    expect(() => checkDeploy({ image: 'shop', env: ['PILOTLIGHT_PORT=1'] }, host)).toThrow(
      'env: PILOTLIGHT_PORT is reserved for the adapter (PILOTLIGHT_*)',
    );
    expect(checkDeploy({ image: 'shop', env: ['A=b=c'] }, host).env).toEqual({ A: 'b=c' });
    expect(checkDeploy({ image: 'shop', timeout: 7200 }, host).timeoutMs).toBe(7_200_000);
  });

  test('port 9000 belongs to the adapter', () => {
    expect(() => checkDeploy({ image: 'shop', port: 9000 }, host)).toThrow(
      "port: 9000 is the adapter's port",
    );
  });

  test('names come from the last path part of the image, without tag or digest', () => {
    expect(nameFromImage('shop')).toBe('shop');
    expect(nameFromImage('registry.local:5000/a/b/blog:2')).toBe('blog');
    expect(nameFromImage('shop@sha256:abc')).toBe('shop');
  });
});

describe('pulling', () => {
  test('registry hosts and the default pull policy', () => {
    expect(registryHost('127.0.0.1:5000/shop:1')).toBe('127.0.0.1:5000');
    expect(registryHost('localhost/shop')).toBe('localhost');
    expect(registryHost('team/shop:1')).toBe('docker.io');
    expect(defaultPullPolicy('127.0.0.1:5000/shop:1')).toBe('always');
    expect(defaultPullPolicy('pilotlight/sample-express:latest')).toBe('missing');
  });

  test.each([
    [
      'unauthorized: authentication required',
      'REGISTRY_AUTH',
      /refused the credentials .* pass --username and --password/,
    ],
    [
      'manifest unknown: manifest unknown',
      'IMAGE_NOT_FOUND',
      /was not found in registry 127.0.0.1:5000: check the name and the tag/,
    ],
    [
      'Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused',
      'REGISTRY_UNREACHABLE',
      /cannot reach registry 127.0.0.1:5000/,
    ],
    ['something else', 'PULL_FAILED', /pulling 127.0.0.1:5000\/shop:1 failed: something else/],
  ])('"%s" becomes %s', (message, code, text) => {
    const error = explainPullFailure('127.0.0.1:5000/shop:1', new Error(message));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(text);
  });

  test('credentials come from the Docker config file', async () => {
    const home = await mkdtemp(join(tmpdir(), 'pilotlight-home-'));
    try {
      await mkdir(join(home, '.docker'));
      await writeFile(
        join(home, '.docker', 'config.json'),
        JSON.stringify({
          auths: { '127.0.0.1:5000': { auth: Buffer.from('pilot:s3cr:et').toString('base64') } },
        }),
      );
      expect(authFromDockerConfig('127.0.0.1:5000', { HOME: home })).toEqual({
        username: 'pilot',
        password: 's3cr:et',
        serveraddress: '127.0.0.1:5000',
      });
      expect(authFromDockerConfig('other:5000', { HOME: home })).toBeUndefined();
      expect(authFromDockerConfig('127.0.0.1:5000', { HOME: join(home, 'nowhere') })).toBeUndefined();
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
