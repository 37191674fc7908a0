import type { ServerResponse } from 'node:http';
import { HEADERS } from '../contract/contract.js';

/** Marks every answer the adapter makes itself, so callers can tell them from the app's own answers. */
export const ERROR_HEADER = HEADERS.error;
export const REQUEST_ID_HEADER = HEADERS.requestId;

export class AdapterError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function sendAdapterError(res: ServerResponse, error: AdapterError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    error: { code: error.code, message: error.message, requestId, ...error.detail },
  });
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    [ERROR_HEADER]: error.code,
    [REQUEST_ID_HEADER]: requestId,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
