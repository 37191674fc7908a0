import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADERS } from '../../../adapter/contract/contract.js';
import { requestIdFrom } from '../../../adapter/forward/forward-headers.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Every answer the handler makes carries the request's id: the caller's when it is sane, else a new one. The
 * id is written back on the request, so what the handler reads of it (requestIdFrom) is the same id.
 */
export function withRequestId(handler: Handler): Handler {
  return (req, res) => {
    const requestId = requestIdFrom(req.headers);
    req.headers[HEADERS.requestId] = requestId;
    res.setHeader(HEADERS.requestId, requestId);
    handler(req, res);
  };
}

/** The id withRequestId gave the answer, if any. */
export function answerRequestId(res: ServerResponse): string | undefined {
  const value = res.getHeader(HEADERS.requestId);
  return typeof value === 'string' ? value : undefined;
}
