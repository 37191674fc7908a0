import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sampleImageRef } from '../../images/catalog.js';
import { startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();
const express = sampleImageRef('express');

interface InvocationView {
  id: string;
  state: string;
  attempts: Array<{ status: number | string; outcome: string; instance: string | null }>;
  result: string | null;
  lastError: string | null;
}

async function invocation(runner: RunnerProcess, id: string): Promise<InvocationView> {
  const result = await runner.cli(['invocation', id, '--json']);
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout) as InvocationView;
}

async function settled(runner: RunnerProcess, id: string, state: string): Promise<InvocationView> {
  let last: InvocationView | undefined;
  try {
    return await until(`invocation ${id} ${state}`, async () => {
      last = await invocation(runner, id);
      return last.state === state ? last : undefined;
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

describe('async invocations: accepted durably, run through the adapter, retried, their states readable', () => {
  let runner: RunnerProcess;

  beforeAll(async () => {
    runner = await startRunner(docker);
    const deployed = await runner.cli([
      'deploy',
      express,
      '--name',
      'orders',
      '--error-statuses',
      '400-599',
      '--max-retries',
      '1',
      '--max-async-payload',
      '4k',
    ]);
    expect(deployed.exitCode).toBe(0);
  });
  afterAll(() => runner.stop());

  test('through the gateway: 202 with an id at once, then the app answers the HTTP-shaped event', async () => {
    const accepted = await fetch(`${runner.gateway}/fn/orders/echo`, {
      method: 'POST',
      headers: { 'x-pilotlight-invocation-type': 'Event', 'content-type': 'text/plain' },
      body: 'order 17',
    });
    expect(accepted.status).toBe(202);
    const { invocationId } = (await accepted.json()) as { invocationId: string };
    expect(accepted.headers.get('x-pilotlight-invocation-id')).toBe(invocationId);
    const done = await settled(runner, invocationId, 'succeeded');
    expect(done.attempts).toEqual([expect.objectContaining({ outcome: 'succeeded', status: 200 })]);
    const answer = JSON.parse(done.result!) as { statusCode: number; body: string; isBase64Encoded: boolean };
    expect(answer.statusCode).toBe(200);
    expect(Buffer.from(answer.body, answer.isBase64Encoded ? 'base64' : 'utf8').toString()).toBe('order 17');
  });

  test('a caller id sent twice runs once; the second call gets the first one’s id', async () => {
    const send = () =>
      runner.cli(
        ['invoke', 'orders', '--async', '--invocation-id', 'order-42', '--json'],
        {},
        JSON.stringify({ httpMethod: 'GET', path: '/' }),
      );
    const first = JSON.parse((await send()).stdout) as { invocationId: string; duplicate: boolean };
    const second = JSON.parse((await send()).stdout) as { invocationId: string; duplicate: boolean };
    expect(first).toMatchObject({ invocationId: 'order-42', duplicate: false });
    expect(second).toMatchObject({ invocationId: 'order-42', duplicate: true });
    const done = await settled(runner, 'order-42', 'succeeded');
    expect(done.attempts).toHaveLength(1);
  });

  test('a function error is retried maxRetries times, then the event fails with every attempt recorded', async () => {
    const result = await runner.cli(
      ['invoke', 'orders', '--async', '--json'],
      {},
      JSON.stringify({ httpMethod: 'GET', path: '/no-such-page' }),
    );
    const { invocationId } = JSON.parse(result.stdout) as { invocationId: string };
    const failed = await settled(runner, invocationId, 'failed');
    expect(failed.attempts.map((attempt) => [attempt.outcome, attempt.status])).toEqual([
      ['function-error', 404],
      ['function-error', 404],
    ]);
    const listed = await runner.cli(['invocations', 'orders', '--state', 'failed']);
    expect(listed.stdout).toMatch(/^INVOCATION +STATE +ATTEMPTS +DESTINATION +ACCEPTED +LAST ERROR$/m);
    expect(listed.stdout).toContain(invocationId);
  });

  test('an event over the async limit is refused with 413 naming it, and nothing is stored', async () => {
    const big = await fetch(`${runner.gateway}/fn/orders/echo`, {
      method: 'POST',
      headers: { 'x-pilotlight-invocation-type': 'Event' },
      body: Buffer.alloc(8192),
    });
    expect(big.status).toBe(413);
    const { error } = (await big.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toContain('limit of 4k');
    const unknown = await runner.cli(['invocation', 'no-such-id']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('[UNKNOWN_INVOCATION]');
  });

  test('rm refuses while async events are not done, and --discard drops those not started', async () => {
    expect(
      (await runner.cli(['deploy', express, '--name', 'stuck', '--async-concurrency', '1'])).exitCode,
    ).toBe(0);
    for (let n = 0; n < 3; n++) {
      const accepted = await fetch(`${runner.gateway}/fn/stuck/slow?ms=1500`, {
        headers: { 'x-pilotlight-invocation-type': 'Event' },
      });
      expect(accepted.status).toBe(202);
    }
    const refused = await runner.cli(['rm', 'stuck']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(
      /function stuck has 3 async events not done yet: pass --drain .* or --discard .*\[PENDING_EVENTS\]/,
    );
    const removed = await runner.cli(['rm', 'stuck', '--discard']);
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout.trim()).toBe('removed stuck (2 async events not started were discarded)');
  });

  test('destinations: a success is POSTed to a URL; a failure becomes an event of another function', async () => {
    const received: Array<Record<string, unknown>> = [];
    const hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        res.end();
      });
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    try {
      const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      expect((await runner.cli(['deploy', express, '--name', 'sink'])).exitCode).toBe(0);
      const deployed = await runner.cli([
        'deploy',
        express,
        '--name',
        'notify',
        '--error-statuses',
        '400-599',
        '--max-retries',
        '0',
        '--on-success',
        hookUrl,
        '--on-failure',
        'function:sink',
      ]);
      expect(deployed.exitCode).toBe(0);
      const send = async (path: string) =>
        (
          JSON.parse(
            (
              await runner.cli(
                ['invoke', 'notify', '--async', '--json'],
                {},
                JSON.stringify({ httpMethod: 'GET', path }),
              )
            ).stdout,
          ) as { invocationId: string }
        ).invocationId;

      const ok = await send('/');
      await until('the success record POSTed', async () => (received.length > 0 ? true : undefined));
      expect(received[0]).toMatchObject({ invocationId: ok, function: 'notify', state: 'succeeded' });
      expect(String(received[0]!['response'])).toContain('statusCode');
      expect((await settled(runner, ok, 'succeeded')) as unknown).toMatchObject({ delivery: 'delivered' });

      const bad = await send('/missing');
      const forwarded = await settled(runner, `${bad}.failed`, 'succeeded');
      expect(forwarded.attempts).toHaveLength(1);
      expect(await invocation(runner, bad)).toMatchObject({
        state: 'failed',
        delivery: 'delivered',
      } as object);
    } finally {
      hook.close();
    }
  });

  test('a clean stop lets running events finish once: after the restart none has run twice', async () => {
    const ids = Array.from({ length: 4 }, (_, n) => `clean-${n}`);
    // Long enough to be seen running by a poll that spawns the CLI, on a loaded machine.
    for (const id of ids) {
      const accepted = await fetch(`${runner.gateway}/fn/orders/slow?ms=3000`, {
        headers: { 'x-pilotlight-invocation-type': 'Event', 'x-pilotlight-invocation-id': id },
      });
      expect(accepted.status).toBe(202);
    }
    await until('an event running', async () =>
      (await Promise.all(ids.map((id) => invocation(runner, id)))).some((item) => item.state === 'running')
        ? true
        : undefined,
    );
    runner.process.kill('SIGTERM');
    await runner.process;
    runner = await startRunner(docker, { dataDir: runner.dataDir });
    for (const id of ids) {
      const done = await settled(runner, id, 'succeeded');
      expect(done.attempts).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
    }
  });

  test('events still queued when the runner is killed with -9 run after it comes back', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const accepted = await fetch(`${runner.gateway}/fn/orders/slow?ms=300`, {
        headers: { 'x-pilotlight-invocation-type': 'Event', 'x-pilotlight-invocation-id': `slow-${n}` },
      });
      expect(accepted.status).toBe(202);
      ids.push(`slow-${n}`);
    }
    await runner.kill();
    runner = await startRunner(docker, { dataDir: runner.dataDir });
    for (const id of ids) {
      const done = await settled(runner, id, 'succeeded');
      expect(done.attempts.at(-1)).toMatchObject({ outcome: 'succeeded' });
    }
  });
});
