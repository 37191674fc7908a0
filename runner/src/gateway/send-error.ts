import type { ServerResponse } from 'node:http';
import { ERROR_HEADER } from '../../../adapter/forward/adapter-error.js';
import { HEADERS } from '../../../adapter/contract/contract.js';
import type { PilotlightError } from '../../../common/pilotlight-error.js';
import { answerRequestId } from './request-id.js';

/**
 * A known failure as the contract's error answer: JSON body, `x-pilotlight-error`, and the request id (given,
 * or the one withRequestId put on the answer).
 */
export function sendError(
  res: ServerResponse,
  error: PilotlightError,
  requestId: string | undefined = answerRequestId(res),
): void {
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
