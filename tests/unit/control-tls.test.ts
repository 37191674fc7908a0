import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ControlClient } from '../../runner/src/cli/control-client.js';
import { createControlServer } from '../../runner/src/control/control-server.js';
import type { FunctionRegistry } from '../../runner/src/control/function-registry.js';
import { writeRunnerInfo } from '../../runner/src/control/runner-files.js';
import { selfSignedCert, type SelfSignedCert } from '../helpers/self-signed-cert.js';

// The control API over HTTPS in this process, and the CLI's client trusting the certificate in runner.json.
let tls: SelfSignedCert;
let other: SelfSignedCert;
let server: Server;
let url: string;
const dirs: string[] = [];

beforeAll(async () => {
  tls = selfSignedCert();
  other = selfSignedCert();
  const registry = { all: () => [] } as unknown as FunctionRegistry;
  const parts = { registry } as unknown as Parameters<typeof createControlServer>[0];
  server = createControlServer(parts, 'secret', 'http://127.0.0.1:1', {
    cert: tls.cert,
    key: tls.key,
  }) as Server;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
  for (const dir of [tls.dir, other.dir, ...dirs]) rmSync(dir, { recursive: true, force: true });
});

/** A data directory whose runner.json points at the server, trusting `cert`. */
function dataDir(cert: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-tls-client-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'token'), 'secret\n');
  writeRunnerInfo(dir, {
    pid: 1,
    runnerId: 'r',
    gateway: 'http://127.0.0.1:1',
    control: url,
    controlCert: cert.toString(),
  });
  return dir;
}

describe('the control API over HTTPS', () => {
  test('is not reachable by a client that does not trust its certificate', async () => {
    await expect(fetch(`${url}/v1/functions`)).rejects.toThrow();
  });

  test('the CLI client trusts the certificate from runner.json: answers and error answers come through', async () => {
    const client = new ControlClient(dataDir(tls.cert));
    expect(await client.json('GET', '/v1/functions')).toEqual([]);
    await expect(client.json('GET', '/v1/nothing')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    const raw = await client.call('GET', '/v1/functions');
    expect(raw.headers.get('x-request-id')).toBeTruthy();
  });

  test('a server with another certificate is refused in one line that says so', async () => {
    const client = new ControlClient(dataDir(other.cert));
    const error = await client.json('GET', '/v1/functions').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONTROL_TLS_FAILED' });
    expect((error as Error).message).toContain(`the control API at ${url} failed the TLS check`);
    expect((error as Error).message).not.toContain('\n');
  });
});
