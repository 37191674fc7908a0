import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPilotlightError } from '../../../common/pilotlight-error.js';
import type { EventIntake } from '../async/accept-event.js';
import { callInvoke } from '../async/invoke-instance.js';
import type { FunctionRegistry } from '../control/function-registry.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { systemClock, type Clock } from '../instances/clock.js';
import { verifySigV4, type AccessKeys } from './sigv4.js';
import { answerRequestId } from '../gateway/request-id.js';

/** `/2015-03-31/functions/NAME/invocations`, NAME being a name or a function ARN (a qualifier is ignored). */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?.*)?$/;

/** The function a Lambda Invoke call names, or undefined when the path is not Lambda's Invoke. */
export function lambdaFunctionName(url: string): string | undefined {
  const match = INVOKE_PATH.exec(url);
  if (!match) return undefined;
  const named = decodedOrRaw(match[1]!);
  // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
  const arn = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(named);
  return (arn ? arn[1]! : named.split(':')[0]!) || undefined;
}

/** A name with a malformed escape (`%ff`) is taken as written: it names no function, and is answered so. */
function decodedOrRaw(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** An error in Lambda's shape: the type in `x-amzn-ErrorType` and in the body, as the AWS SDKs read it. */
export function sendLambdaError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: status < 500 ? 'User' : 'Service', __type: type, message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': type,
    'x-amzn-requestid': lambdaRequestId(res),
  });
  res.end(body);
}

/**
 * Lambda's Invoke API on the gateway, so the AWS SDK's Lambda client can call functions: RequestResponse runs
 * the payload through the adapter's /_/invoke and answers the function's result (a function error is
 * `X-Amz-Function-Error: Unhandled`), Event stores it as an async event (202), DryRun only checks (204).
 */
export function lambdaInvoke(deps: {
  registry: FunctionRegistry;
  intake: EventIntake;
  /** When given, every call must be signed (SigV4) with one of these keys. */
  keys?: AccessKeys;
  clock?: Clock;
}) {
  const clock = deps.clock ?? systemClock;
  return async (name: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const fn = deps.registry.find(name);
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const limit = !fn
      ? SYNC_PAYLOAD_LIMIT
      : type === 'Event'
        ? fn.spec.async.maxPayloadBytes
        : fn.spec.adapter.maxEventBytes;
    const payload = await readAll(req, limit);
    if (!payload) {
      return sendLambdaError(
        res,
        413,
        'RequestTooLargeException',
        `the payload is larger than the limit of ${limit} bytes`,
      );
    }
    if (deps.keys) {
      const check = verifySigV4(
        { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers },
        payload,
        deps.keys,
        clock.now(),
      );
      if (!check.ok) return sendLambdaError(res, 403, check.type, check.message);
    }
    if (!fn) return sendLambdaError(res, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
    if (type === 'DryRun') {
      res.writeHead(204, { 'x-amzn-requestid': lambdaRequestId(res) }).end();
      return;
    }
    if (type === 'Event')
      return deps.intake.accept(fn, req, res, 'application/json', payload, { lambda: true });
    if (type !== 'RequestResponse') {
      return sendLambdaError(res, 400, 'InvalidParameterValueException', `unknown invocation type ${type}`);
    }
    await invokeNow(fn, payload, res);
  };
}

/** The request's own id (see withRequestId), which the answer carries as x-request-id too. */
function lambdaRequestId(res: ServerResponse): string {
  return answerRequestId(res) ?? randomUUID();
}

/** Lambda's largest synchronous payload. */
const SYNC_PAYLOAD_LIMIT = 32 * 1024 * 1024;

/** A RequestResponse invocation: the payload through the adapter's /_/invoke, the function's result back. */
async function invokeNow(fn: FunctionRuntime, payload: Buffer, res: ServerResponse): Promise<void> {
  let instance;
  try {
    instance = await fn.pool.acquire();
  } catch (error) {
    const message = (error as Error).message;
    const code = isPilotlightError(error) ? error.code : '';
    return code === 'NO_CAPACITY'
      ? sendLambdaError(res, 429, 'TooManyRequestsException', message)
      : sendLambdaError(res, 503, 'ServiceException', message);
  }
  const requestId = lambdaRequestId(res);
  try {
    const answer = await callInvoke(fn, instance, payload, 'application/json', requestId);
    const { body, adapterError } = answer;
    const functionError = answer.functionError || adapterError === 'TIMEOUT';
    if (adapterError && !functionError && answer.status >= 500) {
      return sendLambdaError(res, 502, 'ServiceException', body.toString('utf8'));
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': body.length,
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': requestId,
      ...(functionError ? { 'x-amz-function-error': 'Unhandled' } : {}),
    });
    res.end(body);
  } catch (error) {
    sendLambdaError(res, 502, 'ServiceException', (error as Error).message);
  } finally {
    fn.pool.release(instance);
  }
}

/** The body, or undefined as soon as it is known to be larger than `limit` (the rest is read and dropped). */
async function readAll(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
