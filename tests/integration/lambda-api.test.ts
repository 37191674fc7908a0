import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { sampleImageRef } from '../../images/catalog.js';
import { startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();

const KEY_ID = 'AKIDPILOTLIGHTTEST';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

describe("the AWS SDK's unmodified Lambda client calls functions on the gateway, signed with SigV4", () => {
  let runner: RunnerProcess;
  let lambda: LambdaClient;
  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new LambdaClient({ endpoint: runner.gateway, region: 'us-east-1', credentials, maxAttempts: 1 });

  beforeAll(async () => {
    runner = await startRunner(docker, {
      env: { PILOTLIGHT_AWS_ACCESS_KEY_ID: KEY_ID, PILOTLIGHT_AWS_SECRET_ACCESS_KEY: SECRET },
    });
    const deployed = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'shop',
      '--error-statuses',
      '400-599',
    ]);
    expect(deployed.exitCode).toBe(0);
    lambda = client({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
  });
  afterAll(async () => {
    lambda.destroy();
    await runner.stop();
  });

  const event = (path: string) => new TextEncoder().encode(JSON.stringify({ httpMethod: 'GET', path }));

  test('RequestResponse: the function answers; a function error is FunctionError Unhandled', async () => {
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'shop', Payload: event('/') }));
    expect(ok.StatusCode).toBe(200);
    expect(ok.FunctionError).toBeUndefined();
    const answer = JSON.parse(new TextDecoder().decode(ok.Payload)) as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('hello from express');

    const failed = await lambda.send(new InvokeCommand({ FunctionName: 'shop', Payload: event('/missing') }));
    expect(failed.StatusCode).toBe(200);
    expect(failed.FunctionError).toBe('Unhandled');
  });

  test('Event: 202, stored and run async; DryRun: 204', async () => {
    const queued = await lambda.send(
      new InvokeCommand({ FunctionName: 'shop', InvocationType: 'Event', Payload: event('/') }),
    );
    expect(queued.StatusCode).toBe(202);
    const id = queued.$metadata.requestId!;
    await until('the event succeeded', async () => {
      const shown = await runner.cli(['invocation', id, '--json']);
      return shown.exitCode === 0 && (JSON.parse(shown.stdout) as { state: string }).state === 'succeeded'
        ? true
        : undefined;
    });
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'shop', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
  });

  test("an unknown function is Lambda's ResourceNotFoundException, and an ARN names a function", async () => {
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: 'nobody', Payload: event('/') })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    const byArn = await lambda.send(
      new InvokeCommand({
        FunctionName: 'arn:aws:lambda:us-east-1:123456789012:function:shop',
        Payload: event('/'),
      }),
    );
    expect(byArn.StatusCode).toBe(200);
  });

  test("a wrong secret or an unknown key is refused 403 in Lambda's shape, before anything runs", async () => {
    const wrong = client({ accessKeyId: KEY_ID, secretAccessKey: 'not-the-secret' });
    await expect(
      wrong.send(new InvokeCommand({ FunctionName: 'shop', Payload: event('/') })),
    ).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 403 },
    });
    const stranger = client({ accessKeyId: 'AKIDSOMEONEELSE', secretAccessKey: SECRET });
    await expect(
      stranger.send(
        new InvokeCommand({ FunctionName: 'shop', InvocationType: 'Event', Payload: event('/') }),
      ),
    ).rejects.toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } });
    wrong.destroy();
    stranger.destroy();
    const unsigned = await fetch(`${runner.gateway}/2015-03-31/functions/shop/invocations`, {
      method: 'POST',
      body: JSON.stringify({ httpMethod: 'GET', path: '/' }),
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });
});
