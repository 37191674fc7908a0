import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from '../forward/adapter-error.js';
import type { AppEndpoint } from '../forward/app-endpoint.js';
import { callApp } from './call-app.js';
import type { AdapterConfig } from './config.js';
import { CONTEXT_HEADER, endToEndHeaders, type InvocationContext } from '../forward/forward-headers.js';
import { isHttpShaped, parseJsonEvent, toHttpAnswer, toHttpRequest } from './http-event.js';
import { readBody } from './read-body.js';
import { statusInRanges } from './status-ranges.js';
import { HEADERS } from '../contract/contract.js';

/** Set on an invoke answer when the app's status counts as a function error (PILOTLIGHT_ERROR_STATUSES). */
export const FUNCTION_ERROR_HEADER = HEADERS.functionError;

/**
 * POST /_/invoke: an HTTP-shaped event becomes that request and its answer comes back as an HTTP-shaped
 * result; any other payload is POSTed to the app's events path and its answer returned as it is.
 */
export async function invokeEvent(
  app: AppEndpoint,
  config: AdapterConfig,
  req: IncomingMessage,
  res: ServerResponse,
  context: InvocationContext,
): Promise<void> {
  const payload = await readBody(req, config.maxEventBytes, 'PILOTLIGHT_MAX_EVENT_BYTES');
  const contentType = String(req.headers['content-type'] ?? '');
  const event = /\bjson\b/i.test(contentType) ? parseJsonEvent(payload) : undefined;
  const ownHeaders = { [REQUEST_ID_HEADER]: context.requestId, [CONTEXT_HEADER]: JSON.stringify(context) };
  const timeoutMs = Math.max(1, context.deadline - Date.now());

  if (isHttpShaped(event)) {
    const shaped = toHttpRequest(event);
    const answer = await callApp(app, {
      method: shaped.method,
      path: shaped.path,
      headers: { ...shaped.headers, ...ownHeaders },
      body: shaped.body,
      timeoutMs,
      what: `the app's answer to ${shaped.method} ${shaped.path}`,
    });
    const result = JSON.stringify(
      toHttpAnswer(answer.status, endToEndHeaders(answer.headers) as never, answer.body),
    );
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(result),
      [REQUEST_ID_HEADER]: context.requestId,
      ...functionError(config, answer.status),
    });
    res.end(result);
    return;
  }

  const answer = await callApp(app, {
    method: 'POST',
    path: config.eventsPath,
    headers: { 'content-type': contentType || 'application/octet-stream', ...ownHeaders },
    body: payload,
    timeoutMs,
    what: `the app's answer to the event on ${config.eventsPath}`,
  });
  const headers: OutgoingHttpHeaders = endToEndHeaders(answer.headers);
  headers['content-length'] = answer.body.length;
  headers[REQUEST_ID_HEADER] = context.requestId;
  res.writeHead(answer.status, { ...headers, ...functionError(config, answer.status) });
  res.end(answer.body);
}

function functionError(config: AdapterConfig, status: number): Record<string, string> {
  return statusInRanges(status, config.errorStatuses) ? { [FUNCTION_ERROR_HEADER]: String(status) } : {};
}
