import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADERS, OWN_HEADER_PREFIX } from '../../../adapter/contract/contract.js';
import { endToEndHeaders } from '../../../adapter/forward/forward-headers.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { formatSize } from '../spec/units.js';
import type { Dispatcher } from './dispatcher.js';
import type { GroupCommit } from './group-commit.js';

const INVOCATION_ID = /^[\w.:@/+=-]{1,128}$/;

export class PayloadTooLargeError extends PilotlightError {
  constructor(fn: string, limit: number) {
    super(
      'PAYLOAD_TOO_LARGE',
      `the event is larger than function ${fn}'s limit of ${formatSize(limit)} for async events (maxAsyncPayload)`,
      413,
    );
  }
}

/** Whether a call asks to be run async (`X-Pilotlight-Invocation-Type: Event`). */
export function isAsyncCall(req: IncomingMessage): boolean {
  return String(req.headers[HEADERS.invocationType] ?? '').toLowerCase() === 'event';
}

/**
 * Takes async events in: the body is read up to the function's limit (a larger one is refused from its
 * Content-Length, or as soon as the bytes pass the limit), stored durably, and only then answered 202 with
 * the invocation id. A caller's own id that was seen before gets the first event's id and state.
 */
export class EventIntake {
  constructor(private readonly deps: { commit: GroupCommit; dispatcher: Dispatcher }) {}

  /** From the gateway: the HTTP request itself becomes an HTTP-shaped event. */
  async fromRequest(
    fn: FunctionRuntime,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const body = await readLimited(req, fn);
    const headers = Object.fromEntries(
      Object.entries(endToEndHeaders(req.headers)).filter(([name]) => !name.startsWith(OWN_HEADER_PREFIX)),
    );
    const event = {
      httpMethod: req.method ?? 'GET',
      path,
      headers,
      body: body.toString('base64'),
      isBase64Encoded: true,
    };
    await this.accept(fn, req, res, 'application/json', Buffer.from(JSON.stringify(event)));
  }

  /** From the control API or Lambda's Invoke API: the body is the event, with its content type. */
  async fromEvent(
    fn: FunctionRuntime,
    req: IncomingMessage,
    res: ServerResponse,
    options: { lambda?: boolean } = {},
  ): Promise<void> {
    const body = await readLimited(req, fn);
    await this.accept(fn, req, res, String(req.headers['content-type'] ?? 'application/json'), body, options);
  }

  /** An event whose body was read already (within the function's limit): stored, then answered 202. */
  async accept(
    fn: FunctionRuntime,
    req: IncomingMessage,
    res: ServerResponse,
    contentType: string,
    payload: Buffer,
    options: { lambda?: boolean } = {},
  ): Promise<void> {
    const given = req.headers[HEADERS.invocationId];
    if (given !== undefined && (typeof given !== 'string' || !INVOCATION_ID.test(given))) {
      throw new PilotlightError(
        'BAD_INVOCATION_ID',
        `${HEADERS.invocationId} must be 1 to 128 letters, digits or . _ : @ / + = -`,
        400,
      );
    }
    const { invocation, duplicate } = await this.deps.commit.accept({
      id: given ?? randomUUID(),
      function: fn.spec.name,
      contentType,
      payload,
    });
    if (!duplicate) this.deps.dispatcher.kick(fn.spec.name);
    if (options.lambda) {
      // Lambda answers an Event invocation 202 with no body; its request id is the invocation id.
      res.writeHead(202, { 'x-amzn-requestid': invocation.id, [HEADERS.invocationId]: invocation.id }).end();
      return;
    }
    const answer = JSON.stringify({ invocationId: invocation.id, state: invocation.state, duplicate });
    res.writeHead(202, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(answer),
      [HEADERS.invocationId]: invocation.id,
    });
    res.end(answer);
  }
}

/** The body, refused with 413 as soon as it is known to be larger than the function's async limit. */
function readLimited(req: IncomingMessage, fn: FunctionRuntime): Promise<Buffer> {
  const limit = fn.spec.async.maxPayloadBytes;
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return Promise.reject(new PayloadTooLargeError(fn.spec.name, limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // The rest is read and dropped, so the 413 can still be answered.
        chunks.length = 0;
        reject(new PayloadTooLargeError(fn.spec.name, limit));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
