import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HEADERS } from '../../../adapter/contract/contract.js';
import { isPilotlightError } from '../../../common/pilotlight-error.js';
import { requestIdFrom } from '../../../adapter/forward/forward-headers.js';
import type { EventIntake } from '../async/accept-event.js';
import { isAsyncCall } from '../async/accept-event.js';
import type { FunctionRegistry } from '../control/function-registry.js';
import { FUNCTION_HEADER } from '../edge/edge-config.js';
import { RunnerFailedError, UnknownFunctionError } from '../errors.js';
import type { Activator } from './activator.js';
import { sendError } from './send-error.js';
import { withRequestId } from './request-id.js';

type Log = (msg: string, fields?: Record<string, unknown>) => void;

export interface RunnerServerDeps {
  registry: FunctionRegistry;
  intake: EventIntake;
  activator: Activator;
  /** Lambda's Invoke API; false when the request is not one. */
  lambda: (req: IncomingMessage, res: ServerResponse) => boolean;
  log: Log;
}

/**
 * The runner's HTTP server behind the edge (on a Unix socket only the edge reaches): Lambda's Invoke API,
 * async events, and the activator's requests. The edge has routed each, stripped the /fn/NAME prefix and
 * named the function (in its own header, or in the context it sets for the app).
 */
export function createRunnerServer(deps: RunnerServerDeps): Server {
  const server = createServer(
    withRequestId((req, res) => {
      if (deps.lambda(req, res)) return;
      const fn = functionOf(deps.registry, req);
      if (!fn) return sendError(res, new UnknownFunctionError(nameOf(req) ?? ''));
      const work = isAsyncCall(req)
        ? deps.intake.fromRequest(fn, req.url ?? '/', req, res)
        : deps.activator.forward(fn, req, res);
      work.catch((error: unknown) => {
        if (isPilotlightError(error) && !res.headersSent) return sendError(res, error);
        deps.log('runner request failed', {
          fn: fn.spec.name,
          error: (error as Error).stack ?? String(error),
        });
        // Not the app's failure: a 500 of the runner's own, not a cut connection the edge would call a crash.
        if (!res.headersSent) return sendError(res, new RunnerFailedError((error as Error).message));
        res.destroy();
      });
    }),
  );
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    const fn = functionOf(deps.registry, req);
    if (!fn) {
      const requestId = requestIdFrom(req.headers);
      return void socket.end(
        `HTTP/1.1 404 Not Found\r\n${HEADERS.requestId}: ${requestId}\r\nconnection: close\r\n\r\n`,
      );
    }
    deps.activator.upgrade(fn, req, socket, head).catch(() => socket.destroy());
  });
  // Requests may run as long as a function's timeout (up to 2 h): the edge bounds them, not this server.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}

function nameOf(req: IncomingMessage): string | undefined {
  const named = req.headers[FUNCTION_HEADER];
  if (typeof named === 'string') return named;
  try {
    const context = JSON.parse(String(req.headers[HEADERS.context] ?? '')) as { function?: unknown };
    return typeof context.function === 'string' ? context.function : undefined;
  } catch {
    return undefined;
  }
}

function functionOf(registry: FunctionRegistry, req: IncomingMessage) {
  const name = nameOf(req);
  return name === undefined ? undefined : registry.find(name);
}
