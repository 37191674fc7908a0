import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import { PilotlightError } from '../../common/pilotlight-error.js';
import type { EventIntake } from '../../runner/src/async/accept-event.js';
import { createControlServer } from '../../runner/src/control/control-server.js';
import type { FunctionRegistry } from '../../runner/src/control/function-registry.js';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import { Activator } from '../../runner/src/gateway/activator.js';
import { createRunnerServer } from '../../runner/src/gateway/runner-server.js';
import { lambdaFunctionName, lambdaInvoke } from '../../runner/src/lambda/lambda-invoke.js';

// The runner's own servers in this process, fakes behind them: every answer they make carries x-request-id.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((server) => server.close()));

async function listening(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function answerOf(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  const body = (await response.json()) as { error?: { code?: string; requestId?: string }; __type?: string };
  return {
    status: response.status,
    id: response.headers.get('x-request-id'),
    headers: response.headers,
    body,
  };
}

function controlServer(): Server {
  const registry = { all: () => [] } as unknown as FunctionRegistry;
  const parts = { registry } as unknown as Parameters<typeof createControlServer>[0];
  return createControlServer(parts, 'secret', 'http://127.0.0.1:1') as Server;
}

describe('the control API', () => {
  test('a refused token, an unknown path and a success all carry the request id: the caller’s when sane, else a new one', async () => {
    const url = await listening(controlServer());
    const refused = await answerOf(`${url}/v1/functions`, { headers: { 'x-request-id': 'cli-1' } });
    expect(refused).toMatchObject({
      status: 401,
      id: 'cli-1',
      body: { error: { code: 'UNAUTHORIZED', requestId: 'cli-1' } },
    });

    const auth = { authorization: 'Bearer secret' };
    const unknown = await answerOf(`${url}/v2/nothing`, {
      headers: { ...auth, 'x-request-id': 'not sane!' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.id).toMatch(UUID);
    expect(unknown.body.error?.requestId).toBe(unknown.id);

    const listed = await answerOf(`${url}/v1/functions`, { headers: auth });
    expect(listed.status).toBe(200);
    expect(listed.id).toMatch(UUID);
  });
});

describe("the runner's gateway-side server", () => {
  // No instance of shop can be made ready: the activator refuses what it holds.
  const pool = {
    maxWaitMs: 100,
    activate: () => Promise.reject(new PilotlightError('CRASH_LOOP', 'dying', 503)),
  };
  const fn = { spec: { name: 'shop' }, pool } as unknown as FunctionRuntime;

  function runnerServer(forward: Activator['forward']): Server {
    const registry = {
      find: (name: string) => (name === 'shop' ? fn : undefined),
    } as unknown as FunctionRegistry;
    const invoke = lambdaInvoke({ registry, intake: {} as EventIntake });
    return createRunnerServer({
      registry,
      intake: {} as EventIntake,
      activator: Object.assign(
        new Activator('/nonexistent.sock', { hasServerUp: async () => false }, { find: () => undefined }),
        {
          forward,
        },
      ),
      lambda: (req, res) => {
        const name = lambdaFunctionName(req.url ?? '');
        if (name === undefined) return false;
        void invoke(name, req, res);
        return true;
      },
      log: () => {},
    });
  }

  test('an unknown function, an activation that fails and a Lambda error carry the request id', async () => {
    const failing = () => Promise.reject(new PilotlightError('NO_CAPACITY', 'no room', 503));
    const url = await listening(runnerServer(failing));

    const unknown = await answerOf(`${url}/`, {
      headers: { 'x-pilotlight-function': 'nobody', 'x-request-id': 'r-1' },
    });
    expect(unknown).toMatchObject({
      status: 404,
      id: 'r-1',
      body: { error: { code: 'UNKNOWN_FUNCTION', requestId: 'r-1' } },
    });

    const held = await answerOf(`${url}/cart`, {
      headers: { 'x-pilotlight-function': 'shop', 'x-request-id': 'r-2' },
    });
    expect(held).toMatchObject({
      status: 503,
      id: 'r-2',
      body: { error: { code: 'NO_CAPACITY', requestId: 'r-2' } },
    });

    const lambda = await answerOf(`${url}/2015-03-31/functions/nobody/invocations`, {
      method: 'POST',
      body: '{}',
    });
    expect(lambda.status).toBe(404);
    expect(lambda.body.__type).toBe('ResourceNotFoundException');
    expect(lambda.id).toMatch(UUID);
    expect(lambda.headers.get('x-amzn-requestid')).toBe(lambda.id);
  });

  test('an upgrade for an unknown function, or one no instance can take, is refused with the request id', async () => {
    const url = new URL(await listening(runnerServer(() => Promise.resolve())));
    const upgrade = (fn: string, id: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(Number(url.port), '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.write(
          'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            `x-pilotlight-function: ${fn}\r\nx-request-id: ${id}\r\n\r\n`,
        );
      });
    const unknown = await upgrade('nobody', 'up-1');
    expect(unknown).toMatch(/^HTTP\/1.1 404/);
    expect(unknown).toContain('x-request-id: up-1\r\n');
    const unavailable = await upgrade('shop', 'up-2');
    expect(unavailable).toMatch(/^HTTP\/1.1 503/);
    expect(unavailable).toContain('x-request-id: up-2\r\n');
  });
});
