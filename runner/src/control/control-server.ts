import { inUse } from '../instances/instance.js';
import { sleep } from '../../../common/sleep.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { requestIdFrom } from '../../../adapter/forward/forward-headers.js';
import { proxyRequest } from '../../../adapter/forward/proxy-request.js';
import type { ContainerEngine } from '../../../engine/container-engine.js';
import { PilotlightError, isPilotlightError } from '../../../common/pilotlight-error.js';
import { sendError } from '../gateway/send-error.js';
import { withRequestId } from '../gateway/request-id.js';
import { tokenCheck } from './control-token.js';
import { endpointOf, instanceHeaders } from '../gateway/instance-endpoint.js';
import type { Deployer } from './deploy.js';
import type { FunctionRegistry } from './function-registry.js';
import { isAsyncCall, type EventIntake } from '../async/accept-event.js';
import type { Deliverer } from '../async/deliverer.js';
import type { Invocation, InvocationState, InvocationStore } from '../async/invocation-store.js';
import type { DeployRequest } from '../spec/deploy-request.js';
import { documentOf } from '../spec/function-document.js';
import { CONTROL_PATHS } from '../../../adapter/contract/contract.js';

export class UnauthorizedError extends PilotlightError {
  constructor() {
    super('UNAUTHORIZED', 'missing or wrong control token: the CLI reads it from the data directory', 401);
  }
}

class NotFoundError extends PilotlightError {
  constructor(method: string, path: string) {
    super('NOT_FOUND', `${method} ${path} is not part of the control API`, 404);
  }
}

const MAX_CONTROL_BODY = 1024 * 1024;

export type ControlServer = Server | HttpsServer;

/**
 * The token-protected API the CLI talks to, over HTTPS when given a certificate and key. Deploy answers
 * with a stream of NDJSON progress lines.
 */
export function createControlServer(
  parts: {
    registry: FunctionRegistry;
    deployer: Deployer;
    engine: ContainerEngine;
    intake: EventIntake;
    invocations: InvocationStore;
    deliverer: Deliverer;
  },
  token: string,
  gatewayUrl: string,
  tls?: { cert: Buffer; key: Buffer },
): ControlServer {
  const { registry, deployer, engine, intake, invocations, deliverer } = parts;
  const authorized = tokenCheck(token);
  const handler = withRequestId((req, res) => {
    if (!authorized(req.headers.authorization)) return sendError(res, new UnauthorizedError());
    route(req, res).catch((error: unknown) => {
      if (isPilotlightError(error)) return sendError(res, error);
      sendError(res, new PilotlightError('INTERNAL', (error as Error).stack ?? String(error), 500));
    });
  });
  return tls ? createHttpsServer(tls, handler) : createServer(handler);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://control');
    const parts = url.pathname.split('/').filter(Boolean); // v1, functions, NAME, action
    const method = req.method ?? 'GET';
    if (parts[0] === 'v1' && parts[1] === 'invocations' && parts[2]) {
      const id = decodeURIComponent(parts[2]);
      if (!parts[3] && method === 'GET') return json(res, 200, invocationView(invocationOrNotFound(id)));
      if (parts[3] === 'redeliver' && method === 'POST') {
        invocationOrNotFound(id);
        if (!invocations.redeliver(id, Date.now())) {
          throw new PilotlightError(
            'NO_DESTINATION',
            `invocation ${id} has no destination to deliver to`,
            409,
          );
        }
        deliverer.kick();
        return json(res, 200, invocationView(invocationOrNotFound(id)));
      }
    }
    if (parts[0] !== 'v1' || parts[1] !== 'functions') throw new NotFoundError(method, url.pathname);
    const name = parts[2];
    const action = parts[3];

    if (!name && method === 'GET') return json(res, 200, listFunctions());
    if (!name && method === 'POST') return deploy(req, res);
    if (!name) throw new NotFoundError(method, url.pathname);
    if (!action && method === 'DELETE') return remove(res, name, url.searchParams.get('pending'));
    if (action === 'scale' && method === 'POST') {
      const body = (await readJson(req)) as { min?: number; max?: number };
      const spec = await deployer.scale(name, body.min, body.max);
      return json(res, 200, { name, minScale: spec.scaling.minScale, maxScale: spec.scaling.maxScale });
    }
    if (action === 'invoke' && method === 'POST') {
      return isAsyncCall(req) ? intake.fromEvent(registry.get(name), req, res) : invoke(name, req, res);
    }
    if (action === 'invocations' && method === 'GET') {
      registry.get(name);
      const state = url.searchParams.get('state') ?? undefined;
      if (state !== undefined && !STATES.has(state)) {
        throw new PilotlightError(
          'BAD_STATE',
          `--state ${state} is not one of ${[...STATES].join(', ')}`,
          400,
        );
      }
      const limit = Number(url.searchParams.get('limit') ?? 100);
      return json(
        res,
        200,
        invocations.list(name, state as InvocationState | undefined, limit).map(invocationView),
      );
    }
    if (action === 'logs' && method === 'GET') return logs(name, url, res);
    if (action === 'events' && method === 'GET') return json(res, 200, deployer.events(name));
    if (action === 'spec' && method === 'GET') return json(res, 200, documentOf(registry.get(name).spec));
    throw new NotFoundError(method, url.pathname);
  }

  /**
   * A function with async events not yet done is only removed when told what to do with them: wait for them
   * (`drain`) or drop those not started (`discard`).
   */
  async function remove(res: ServerResponse, name: string, pending: string | null): Promise<void> {
    registry.get(name);
    const waiting = invocations.pending(name);
    if (waiting > 0 && pending !== 'drain' && pending !== 'discard') {
      throw new PilotlightError(
        'PENDING_EVENTS',
        `function ${name} has ${waiting} async events not done yet: pass --drain to wait for them or --discard to drop them`,
        409,
      );
    }
    const discarded = pending === 'discard' ? invocations.discardWaiting(name) : 0;
    let callerLeft = false;
    res.once('close', () => (callerLeft = true));
    while (invocations.pending(name) > 0) {
      if (callerLeft) return;
      await sleep(100);
    }
    await deployer.remove(name);
    return json(res, 200, { removed: name, discarded });
  }

  function invocationOrNotFound(id: string): Invocation {
    const found = invocations.get(id);
    if (!found) throw new PilotlightError('UNKNOWN_INVOCATION', `no invocation with id ${id}`, 404);
    return found;
  }

  function listFunctions(): unknown {
    return registry.all().map((fn) => ({
      name: fn.spec.name,
      revision: fn.spec.revision,
      image: fn.spec.image,
      digest: fn.spec.digest,
      url: `${gatewayUrl}/fn/${fn.spec.name}/`,
      concurrency: fn.spec.concurrency,
      minScale: fn.spec.scaling.minScale,
      maxScale: fn.spec.scaling.maxScale,
      desired: fn.lastDecision.desired,
      mode: fn.lastDecision.mode,
      waiting: fn.pool.waitingCount,
      deaths: fn.deaths,
      lastDeath: fn.lastDeath(Date.now()),
      backoffMs: Math.max(0, fn.crash.holdStartsUntil - Date.now()),
      active: fn.spec.active,
      reserved: fn.spec.reserved,
      instances: fn.pool.instances.map((instance) => ({
        name: instance.name,
        id: instance.id,
        state: instance.state,
        inflight: inUse(instance),
        cpus: instance.spec.cpus,
        memory: instance.spec.memory,
        address: instance.address,
      })),
    }));
  }

  async function deploy(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req)) as DeployRequest;
    if (typeof body.image !== 'string' || !body.image) {
      throw new PilotlightError('BAD_DEPLOY', 'the deploy request names no image', 400);
    }
    // Bad fields are a 400 with all of them, before the progress stream begins.
    deployer.check(body);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const line = (value: unknown): boolean => res.write(`${JSON.stringify(value)}\n`);
    try {
      const result = await deployer.deploy(body, (event) => line({ event: 'progress', ...event }));
      line({ event: 'done', ...result, url: `${gatewayUrl}/fn/${result.name}/` });
    } catch (error) {
      const known = isPilotlightError(error);
      line({
        event: 'error',
        code: known ? error.code : 'INTERNAL',
        message: known ? error.message : ((error as Error).stack ?? String(error)),
      });
    }
    res.end();
  }

  /** The event is streamed to an instance's /_/invoke through the same forwarding as the gateway's. */
  async function invoke(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fn = registry.get(name);
    const requestId = requestIdFrom(req.headers);
    const instance = await fn.pool.acquire();
    try {
      const headers = instanceHeaders(req, requestId, instance);
      delete headers['authorization']; // the control token is the runner's, never the app's
      await proxyRequest(endpointOf(instance), req, res, {
        path: CONTROL_PATHS.invoke,
        headers,
        timeoutMs: fn.spec.timeoutMs + 5_000,
        requestId,
        upstreamName: `instance ${instance.name}`,
      });
    } finally {
      fn.pool.release(instance);
    }
  }

  /** Every instance's output, demuxed, each line prefixed with its instance name. */
  async function logs(name: string, url: URL, res: ServerResponse): Promise<void> {
    const fn = registry.get(name);
    const follow = url.searchParams.get('follow') === '1';
    const tail = Number(url.searchParams.get('tail') ?? 100);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    const stops = await Promise.all(
      fn.pool.instances.map(async (instance) => {
        const prefix = `[${instance.name}] `;
        const write = (text: string): void => {
          for (const line of text.split('\n')) if (line) res.write(`${prefix}${line}\n`);
        };
        if (!follow) return void write(await engine.logs(instance.id, tail));
        return engine.followLogs(instance.id, tail, write);
      }),
    );
    if (!follow) return void res.end();
    res.on('close', () => stops.forEach((stop) => stop?.()));
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so the 413 can still be answered.
      if (size > MAX_CONTROL_BODY)
        reject(new PilotlightError('BODY_TOO_LARGE', 'control requests are at most 1 MiB', 413));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  try {
    return body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch (error) {
    throw new PilotlightError(
      'BAD_JSON',
      `the request body is not valid JSON: ${(error as Error).message}`,
      400,
    );
  }
}

const STATES: ReadonlySet<string> = new Set([
  'queued',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'expired',
]);

/** An invocation as the API shows it: the payload's size, not its bytes. */
function invocationView(invocation: Invocation): Record<string, unknown> {
  const { payload, ...rest } = invocation;
  return { ...rest, payloadBytes: payload.length };
}
