import { readFileSync } from 'node:fs';
import { ControlClient } from '../cli/control-client.js';
import { pullProgress } from '../cli/pull-progress.js';
import type { DeployRequest } from '../spec/deploy-request.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { formatBytes } from '../instances/resource-spec.js';
import { HEADERS } from '../../../adapter/contract/contract.js';

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
  deaths: number;
  lastDeath: { instance: string; reason: string; agoMs: number } | null;
  backoffMs: number;
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
    if (fn.lastDeath) {
      const backoff =
        fn.backoffMs > 0 ? `; crash loop: next start in ${(fn.backoffMs / 1000).toFixed(1)} s` : '';
      output.out(
        `  ${fn.deaths} died; last: ${fn.lastDeath.instance} ${fn.lastDeath.reason}, ${Math.round(fn.lastDeath.agoMs / 1000)} s ago${backoff}\n`,
      );
    }
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
  const adapterError = response.headers.get(HEADERS.error);
  if (adapterError && !response.ok) {
    const parsed = JSON.parse(body.toString('utf8')) as { error: { code: string; message: string } };
    throw new PilotlightError(parsed.error.code, parsed.error.message, response.status);
  }
  output.out(body.toString('utf8'));
  if (!output.json && body.length && body[body.length - 1] !== 10) output.out('\n');
  // A function error (the app answered a status in the error ranges) is exit code 1.
  return response.headers.get(HEADERS.functionError) ? 1 : 0;
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

interface InstanceEventView {
  at: number;
  instance: string;
  action: string;
  detail: Record<string, unknown>;
}

export async function runEvents(dataDir: string, name: string, tail: number, output: Output): Promise<void> {
  const events = await new ControlClient(dataDir).json<InstanceEventView[]>(
    'GET',
    `/v1/functions/${encodeURIComponent(name)}/events`,
  );
  const shown = events.slice(-Math.max(1, tail));
  if (output.json) return output.out(`${JSON.stringify(shown, null, 2)}\n`);
  for (const event of shown) {
    const { logTail, reason, ...rest } = event.detail as { logTail?: string; reason?: string };
    const fields = Object.entries(rest)
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    const what = reason ? `${event.action}: ${reason}` : event.action;
    output.out(`${new Date(event.at).toISOString()}  ${event.instance}  ${what}  ${fields.join(' ')}\n`);
    for (const line of (logTail ?? '').split('\n')) if (line.trim()) output.out(`    | ${line}\n`);
  }
}
