import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import { appAnswers, AppLiveness } from '../../adapter/src/app-liveness.js';
import { parseStatusRanges } from '../../adapter/src/status-ranges.js';

function watched(probeSays: boolean) {
  let now = 0;
  const found: string[] = [];
  let probes = 0;
  let answerProbe!: (alive: boolean) => void;
  const liveness = new AppLiveness(
    () => {
      probes += 1;
      return new Promise<boolean>((resolve) => (answerProbe = () => resolve(probeSays)));
    },
    () => now,
  );
  void liveness.stuck.then((reason) => found.push(reason));
  return {
    liveness,
    found,
    at: (ms: number) => (now = ms),
    probes: () => probes,
    settleProbe: async () => {
      answerProbe(probeSays);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('AppLiveness', () => {
  test('a call timed out with no answer begun since it began, and a probe unanswered: stuck, with the reason', async () => {
    const { liveness, found, at, probes, settleProbe } = watched(false);
    at(100);
    liveness.answered();
    at(5000);
    liveness.timedOut(2000);
    liveness.timedOut(2500);
    expect(probes()).toBe(1);
    await settleProbe();
    expect(found).toEqual([
      'the app is stuck: a request timed out after 3000 ms with no answer begun to any request meanwhile, and it did not answer a probe either',
    ]);
  });

  test('an app that answers the probe (a slow request, a slow upload) is alive, and its answer counts', async () => {
    const { liveness, found, at, probes, settleProbe } = watched(true);
    at(5000);
    liveness.timedOut(2000);
    await settleProbe();
    at(6000);
    liveness.timedOut(4000);
    expect(probes()).toBe(1);
    expect(found).toEqual([]);
  });

  test('an answer begun after the call began, to it or another request: no probe at all', () => {
    const { liveness, at, probes } = watched(false);
    at(2000);
    liveness.answered();
    at(5000);
    liveness.timedOut(2000);
    expect(probes()).toBe(0);
  });
});

describe('appAnswers', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((server) => server.close()));

  async function app(handler: Parameters<typeof createServer>[1]): Promise<number> {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  test('any status is an answer; none within the time, or a refused connection, is not', async () => {
    const erring = await app((_req, res) => res.writeHead(500).end());
    const silent = await app(() => undefined);
    const config = (appPort: number, kind: 'http' | 'tcp' = 'http'): Parameters<typeof appAnswers>[0] => ({
      appHost: '127.0.0.1',
      appPort,
      readiness:
        kind === 'http' ? { kind, path: '/health', healthy: parseStatusRanges('200-299') } : { kind },
    });
    expect(await appAnswers(config(erring), 1000)).toBe(true);
    expect(await appAnswers(config(erring, 'tcp'), 1000)).toBe(true);
    expect(await appAnswers(config(silent), 300)).toBe(false);
    servers.splice(0).forEach((server) => server.close());
    expect(await appAnswers(config(erring), 300)).toBe(false);
  });
});
