import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { ControlClient } from '../cli/control-client.js';
import { pullProgress } from '../cli/pull-progress.js';
import type { DeployRequest } from '../spec/deploy-request.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { formatBytes } from '../instances/resource-spec.js';
import { formatTable } from '../cli/table.js';
import { parseDuration } from '../spec/units.js';
import { HEADERS } from '../../../adapter/contract/contract.js';
import type { Invocation } from '../async/invocation-store.js';

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
  output.out(
    formatTable(
      ['NAME', 'REVISION', 'IMAGE', 'MIN', 'MAX', 'DESIRED', 'INSTANCES', 'URL'],
      functions.map((fn) => [
        fn.name,
        String(fn.revision),
        fn.image,
        String(fn.minScale),
        String(fn.maxScale),
        String(fn.desired),
        String(fn.instances.length),
        fn.url,
      ]),
    ),
  );
  const instances = functions.flatMap((fn) => fn.instances.map((instance) => ({ fn: fn.name, ...instance })));
  if (instances.length > 0) {
    output.out(
      `\n${formatTable(
        ['INSTANCE', 'FUNCTION', 'STATE', 'CPUS', 'MEMORY', 'IN FLIGHT'],
        instances.map((instance) => [
          instance.name,
          instance.fn,
          instance.state,
          String(instance.cpus),
          formatBytes(instance.memory),
          String(instance.inflight),
        ]),
      )}`,
    );
  }
  for (const fn of functions) {
    if (!fn.lastDeath) continue;
    const backoff =
      fn.backoffMs > 0 ? `; crash loop: next start in ${(fn.backoffMs / 1000).toFixed(1)} s` : '';
    output.out(
      `\n${fn.name}: ${fn.deaths} died; last: ${fn.lastDeath.instance} ${fn.lastDeath.reason}, ${Math.round(fn.lastDeath.agoMs / 1000)} s ago${backoff}\n`,
    );
  }
}

/** A deployed function as a spec file, YAML or JSON. */
export async function runGet(
  dataDir: string,
  name: string,
  format: 'yaml' | 'json',
  output: Output,
): Promise<void> {
  const document = await new ControlClient(dataDir).json<Record<string, unknown>>(
    'GET',
    `/v1/functions/${encodeURIComponent(name)}/spec`,
  );
  output.out(
    format === 'json' || output.json ? `${JSON.stringify(document, null, 2)}\n` : stringify(document),
  );
}

export async function runInvoke(
  dataDir: string,
  name: string,
  payload: { data?: string; file?: string; contentType?: string; async?: boolean; invocationId?: string },
  output: Output,
): Promise<number> {
  const data = payload.file ? readFileSync(payload.file) : Buffer.from(payload.data ?? '');
  if (payload.async) return runInvokeAsync(dataDir, name, data, payload, output);
  const response = await postInvoke(dataDir, name, data, payload.contentType);
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

/** The control API's invoke of a function with a payload (JSON unless said otherwise). */
function postInvoke(
  dataDir: string,
  name: string,
  data: Buffer,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): Promise<Response> {
  return new ControlClient(dataDir).call(
    'POST',
    `/v1/functions/${encodeURIComponent(name)}/invoke`,
    undefined,
    {
      data,
      contentType,
      headers,
    },
  );
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
  let pending = '';
  for await (const chunk of response.body!) {
    const text = decoder.decode(chunk as Uint8Array, { stream: true });
    if (!output.json) {
      output.out(text);
      continue;
    }
    // With --json, one JSON object per line: {"instance","line"}.
    const lines = (pending + text).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) output.out(`${JSON.stringify(logLine(line))}\n`);
  }
  if (output.json && pending) output.out(`${JSON.stringify(logLine(pending))}\n`);
}

/** `[instance] text` → `{instance, line}`. */
function logLine(prefixed: string): { instance: string | null; line: string } {
  const match = /^\[([^\]]+)\] (.*)$/s.exec(prefixed);
  return match ? { instance: match[1]!, line: match[2]! } : { instance: null, line: prefixed };
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

export async function runRemove(
  dataDir: string,
  name: string,
  pending: 'drain' | 'discard' | undefined,
  output: Output,
): Promise<void> {
  const result = await new ControlClient(dataDir).json<{ removed: string; discarded: number }>(
    'DELETE',
    `/v1/functions/${encodeURIComponent(name)}${pending ? `?pending=${pending}` : ''}`,
  );
  if (output.json) return output.out(`${JSON.stringify(result)}\n`);
  const dropped =
    result.discarded > 0 ? ` (${result.discarded} async events not started were discarded)` : '';
  output.out(`removed ${result.removed}${dropped}\n`);
}

interface InstanceEventView {
  at: number;
  instance: string;
  action: string;
  detail: Record<string, unknown>;
}

export async function runEvents(
  dataDir: string,
  name: string,
  options: { tail: number; since?: string },
  output: Output,
): Promise<void> {
  const events = await new ControlClient(dataDir).json<InstanceEventView[]>(
    'GET',
    `/v1/functions/${encodeURIComponent(name)}/events`,
  );
  const from = options.since === undefined ? -Infinity : sinceTime(options.since, Date.now());
  const shown = events.filter((event) => event.at >= from).slice(-Math.max(1, options.tail));
  if (output.json) return output.out(`${JSON.stringify(shown, null, 2)}\n`);
  writeEvents(shown, output);
}

/** `--since 10m` (that long ago) or `--since 2026-11-26T22:00:00Z` (a moment), as epoch ms. */
export function sinceTime(text: string, now: number): number {
  const ago = parseDuration(text);
  if (ago !== undefined) return now - ago;
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    throw new PilotlightError(
      'BAD_SINCE',
      `--since ${text} is neither a duration (10m, 2h) nor a time (2026-11-26T22:00:00Z)`,
      400,
    );
  }
  return at;
}

function writeEvents(events: InstanceEventView[], output: Output): void {
  for (const event of events) {
    const { logTail, reason, ...rest } = event.detail as { logTail?: string; reason?: string };
    const fields = Object.entries(rest)
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    const what = reason ? `${event.action}: ${reason}` : event.action;
    output.out(`${new Date(event.at).toISOString()}  ${event.instance}  ${what}  ${fields.join(' ')}\n`);
    for (const line of (logTail ?? '').split('\n')) if (line.trim()) output.out(`    | ${line}\n`);
  }
}

/** Spec, revision, instances, recent events and the last errors of one function. */
export async function runDescribe(dataDir: string, name: string, output: Output): Promise<void> {
  const client = new ControlClient(dataDir);
  const path = `/v1/functions/${encodeURIComponent(name)}`;
  const [spec, events, functions] = await Promise.all([
    client.json<Record<string, unknown>>('GET', `${path}/spec`),
    client.json<InstanceEventView[]>('GET', `${path}/events`),
    client.json<FunctionView[]>('GET', '/v1/functions'),
  ]);
  const fn = functions.find((item) => item.name === name)!;
  const errors = events.filter((event) => ERROR_ACTIONS.has(event.action)).slice(-5);
  const recent = events.slice(-10);
  if (output.json)
    return output.out(`${JSON.stringify({ function: fn, spec, events: recent, errors }, null, 2)}\n`);
  output.out(
    [
      `Name:       ${fn.name}`,
      `Revision:   ${fn.revision}`,
      `Image:      ${fn.image}`,
      `URL:        ${fn.url}`,
      `Scale:      min ${fn.minScale}, max ${fn.maxScale}, desired ${fn.desired}`,
      'Spec:',
      ...stringify(spec)
        .trimEnd()
        .split('\n')
        .map((line) => `  ${line}`),
      'Instances:',
      '',
    ].join('\n'),
  );
  output.out(
    fn.instances.length === 0
      ? '  none\n'
      : formatTable(
          ['  INSTANCE', 'STATE', 'CPUS', 'MEMORY', 'IN FLIGHT'],
          fn.instances.map((instance) => [
            `  ${instance.name}`,
            instance.state,
            String(instance.cpus),
            formatBytes(instance.memory),
            String(instance.inflight),
          ]),
        ),
  );
  output.out(`Events (last ${recent.length}):\n`);
  writeEvents(recent, output);
  output.out(errors.length === 0 ? 'Last errors: none\n' : 'Last errors:\n');
  writeEvents(errors, output);
}

/** Events that are failures: a death, an initializer that failed. */
const ERROR_ACTIONS = new Set(['die', 'initializer-failed']);

/** Stores the event for an async run: prints its invocation id once it is durably stored. */
async function runInvokeAsync(
  dataDir: string,
  name: string,
  data: Buffer,
  payload: { contentType?: string; invocationId?: string },
  output: Output,
): Promise<number> {
  const response = await postInvoke(dataDir, name, data, payload.contentType, {
    [HEADERS.invocationType]: 'Event',
    ...(payload.invocationId ? { [HEADERS.invocationId]: payload.invocationId } : {}),
  });
  const answer = (await response.json()) as {
    invocationId?: string;
    duplicate?: boolean;
    error?: { code: string; message: string };
  };
  if (!response.ok && answer.error)
    throw new PilotlightError(answer.error.code, answer.error.message, response.status);
  if (output.json) output.out(`${JSON.stringify(answer)}\n`);
  else {
    if (answer.duplicate) output.log(`already accepted as ${answer.invocationId}: it runs once`);
    output.out(`${answer.invocationId}\n`);
  }
  return 0;
}

/** An invocation as the control API shows it: the payload's size instead of its bytes. */
type InvocationView = Omit<Invocation, 'payload'> & { payloadBytes: number };

/** A function's async events, oldest first, optionally in one state. */
export async function runInvocations(
  dataDir: string,
  name: string,
  state: string | undefined,
  output: Output,
): Promise<void> {
  const query = state ? `?state=${encodeURIComponent(state)}` : '';
  const list = await new ControlClient(dataDir).json<InvocationView[]>(
    'GET',
    `/v1/functions/${encodeURIComponent(name)}/invocations${query}`,
  );
  if (output.json) return output.out(`${JSON.stringify(list, null, 2)}\n`);
  if (list.length === 0)
    return output.out(`no async events${state ? ` in state ${state}` : ''} for ${name}\n`);
  output.out(
    formatTable(
      ['INVOCATION', 'STATE', 'ATTEMPTS', 'DESTINATION', 'ACCEPTED', 'LAST ERROR'],
      list.map((item) => [
        item.id,
        item.state,
        String(item.attempts.length),
        item.delivery ?? '-',
        new Date(item.acceptedAt).toISOString(),
        (item.lastError ?? '').split('\n')[0]!.slice(0, 80),
      ]),
    ),
  );
}

/** One async event: its state, and each attempt with its status, duration and instance. */
export async function runInvocation(
  dataDir: string,
  id: string,
  redeliver: boolean,
  output: Output,
): Promise<void> {
  const item = await new ControlClient(dataDir).json<InvocationView>(
    redeliver ? 'POST' : 'GET',
    `/v1/invocations/${encodeURIComponent(id)}${redeliver ? '/redeliver' : ''}`,
  );
  if (output.json) return output.out(`${JSON.stringify(item, null, 2)}\n`);
  output.out(
    [
      `Invocation: ${item.id}`,
      `Function:   ${item.function}`,
      `State:      ${item.state}`,
      `Accepted:   ${new Date(item.acceptedAt).toISOString()}`,
      `Payload:    ${item.payloadBytes} bytes`,
      ...(item.lastError ? [`Last error: ${item.lastError}`] : []),
      ...(item.destination
        ? [
            `Destination: ${item.destination}: ${item.delivery} after ${item.deliveryAttempts} attempts${item.deliveryError ? ` (${item.deliveryError})` : ''}`,
          ]
        : []),
      ...(item.result !== null ? [`Result:     ${item.result.slice(0, 500)}`] : []),
      '',
    ].join('\n'),
  );
  if (item.attempts.length === 0) return output.out('Attempts: none yet\n');
  output.out(
    formatTable(
      ['ATTEMPT', 'AT', 'MS', 'INSTANCE', 'STATUS', 'OUTCOME'],
      item.attempts.map((attempt, index) => [
        String(index + 1),
        new Date(attempt.at).toISOString(),
        String(attempt.durationMs),
        attempt.instance ?? '-',
        String(attempt.status),
        attempt.outcome,
      ]),
    ),
  );
}
