import { ERROR_HEADER } from '../../../adapter/forward/adapter-error.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { NotRoutedError, ReservedPathError, UnknownFunctionError } from '../errors.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { routeRequest, type FunctionRoute } from './route-request.js';
import { CONTROL_PREFIX, HEADERS } from '../../../adapter/contract/contract.js';

/** Forwards a routed request to the function's instances; returns false when the function is unknown. */
export type FunctionHandler = (route: FunctionRoute, req: IncomingMessage, res: ServerResponse) => boolean;

/** The one HTTP endpoint in front of every function (and, when given, Lambda's Invoke API). */
export function createGatewayServer(
  handle: FunctionHandler,
  lambda?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Server {
  return createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (lambda?.(req, res)) return;
    const route = routeRequest(req.url ?? '/', req.headers.host);
    if (!route) return sendError(res, new NotRoutedError(req.url ?? '/'));
    if (route.path.startsWith(CONTROL_PREFIX)) return sendError(res, new ReservedPathError(route.path));
    if (!handle(route, req, res)) sendError(res, new UnknownFunctionError(route.name));
  });
}

export function sendError(res: ServerResponse, error: PilotlightError, requestId?: string): void {
  const body = JSON.stringify({
    error: { ...error.detail, code: error.code, message: error.message, ...(requestId ? { requestId } : {}) },
  });
  res.writeHead(error.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    [ERROR_HEADER]: error.code,
    ...(requestId ? { [HEADERS.requestId]: requestId } : {}),
  });
  res.end(body);
}
