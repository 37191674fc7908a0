import { readFileSync } from 'node:fs';
import { ControlClient } from '../cli/control-client.js';
import { pullProgress } from '../cli/pull-progress.js';
import type { DeployRequest } from '../control/deploy-request.js';
import { PilotlightError } from '../errors.js';
import { formatBytes } from '../instances/resource-spec.js';

export interface Output {
  json: boolean;
  out: (text: string) => void;
  log: (line: string) => void;
}

export async function runDeploy(dataDir: string, request: DeployRequest, output: Output): Promise<void> {
  const client = new ControlClient(dataDir);
  const progress = pullProgress(request.image);
  const response = await client.call('POST', '/v1/functions', request);
  for await (const line of client.lines(response)) {
    if (line['event'] === 'progress') {
      if (!output.json) progress.update(line);
      continue;
    }
    if (!output.json) progress.finish();
    if (line['event'] === 'error')
      throw new PilotlightError(String(line['code']), String(line['message']), 400);
    if (line['event'] === 'done') {
      if (output.json) return output.out(`${JSON.stringify(line)}\n`);
      for (const warning of (line['warnings'] as string[]) ?? []) output.log(`warning: ${warning}`);
      const digest = line['digest'] ? ` (${String(line['digest'])})` : '';
      output.log(
        `deployed ${String(line['name'])} revision ${String(line['revision'])} from ${String(line['image'])}${digest}, ready in ${String(line['readyMs'])} ms`,
      );
      output.out(`${String(line['url'])}\n`);
    }
  }
}

interface FunctionView {
  name: string;
  revision: number;
  image: string;
  url: string;
  minScale: number;
  maxScale: number;
  desired: number;
  instances: Array<{ name: string; state: string; inflight: number; cpus: number; memory: number }>;
}

export async function runList(dataDir: string, output: Output): Promise<void> {
  const functions = await new ControlClient(dataDir).json<FunctionView[]>('GET', '/v1/functions');
  if (output.json) return output.out(`${JSON.stringify(functions, null, 2)}\n`);
  if (functions.length === 0) return output.out('no functions: deploy one with `runner deploy IMAGE`\n');
  for (const fn of functions) {
    output.out(
      `${fn.name}  revision ${fn.revision}  ${fn.image}  min ${fn.minScale} max ${fn.maxScale} desired ${fn.desired}  ${fn.url}\n`,
    );
    for (const instance of fn.instances) {
      output.out(
        `  ${instance.name}  ${instance.state.padEnd(8)}  ${instance.cpus} cpu  ${formatBytes(instance.memory)}  ${instance.inflight} in flight\n`,
      );
    }
  }
}

export async function runInvoke(
  dataDir: string,
  name: string,
  payload: { data?: string; file?: string; contentType?: string },
  output: Output,
): Promise<number> {
  const data = payload.file ? readFileSync(payload.file) : Buffer.from(payload.data ?? '');
  const response = await new ControlClient(dataDir).call(
    'POST',
    `/v1/functions/${encodeURIComponent(name)}/invoke`,
    undefined,
    {
      data,
      contentType: payload.contentType ?? 'application/json',
    },
  );
  const body = Buffer.from(await response.arrayBuffer());
  const adapterError = response.headers.get('x-pilotlight-error');
  if (adapterError && !response.ok) {
    const parsed = JSON.parse(body.toString('utf8')) as { error: { code: string; message: string } };
    throw new PilotlightError(parsed.error.code, parsed.error.message, response.status);
  }
  output.out(body.toString('utf8'));
  if (!output.json && body.length && body[body.length - 1] !== 10) output.out('\n');
  // A function error (the app answered a status in the error ranges) is exit code 1.
  return response.headers.get('x-pilotlight-function-error') ? 1 : 0;
}

export async function runLogs(
  dataDir: string,
  name: string,
  follow: boolean,
  tail: number,
  output: Output,
): Promise<void> {
  const response = await new ControlClient(dataDir).call(
    'GET',
    `/v1/functions/${encodeURIComponent(name)}/logs?follow=${follow ? 1 : 0}&tail=${tail}`,
  );
  if (!response.ok) {
    const parsed = (await response.json()) as { error: { code: string; message: string } };
    throw new PilotlightError(parsed.error.code, parsed.error.message, response.status);
  }
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) output.out(decoder.decode(chunk as Uint8Array, { stream: true }));
}

export async function runScale(
  dataDir: string,
  name: string,
  min: number | undefined,
  max: number | undefined,
  output: Output,
): Promise<void> {
  const result = await new ControlClient(dataDir).json<{ minScale: number; maxScale: number }>(
    'POST',
    `/v1/functions/${encodeURIComponent(name)}/scale`,
    { min, max },
  );
  output.out(
    output.json ? `${JSON.stringify(result)}\n` : `${name}: min ${result.minScale} max ${result.maxScale}\n`,
  );
}

export async function runRemove(dataDir: string, name: string, output: Output): Promise<void> {
  const result = await new ControlClient(dataDir).json<{ removed: string }>(
    'DELETE',
    `/v1/functions/${encodeURIComponent(name)}`,
  );
  output.out(output.json ? `${JSON.stringify(result)}\n` : `removed ${result.removed}\n`);
}
