import {
  request,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { AdapterError, ERROR_HEADER, REQUEST_ID_HEADER, sendAdapterError } from './adapter-error.js';
import type { AppEndpoint } from './app-endpoint.js';
import { appResponseHeaders } from './forward-headers.js';

export interface ProxyOptions {
  path: string;
  headers: OutgoingHttpHeaders;
  timeoutMs: number;
  requestId: string;
  /** How errors name the upstream (default: "the app on HOST:PORT"). */
  upstreamName?: string;
  /**
   * Gives a failure to reach the upstream a more exact cause before it is answered (the app exited, or was
   * OOM-killed, rather than "closed the connection").
   */
  explainFailure?: (error: AdapterError, cause: NodeJS.ErrnoException) => Promise<AdapterError>;
  /**
   * An answer the upstream made without handing the request to any app (it is shutting down, or is not the
   * instance meant): when this returns true for it, nothing is written to the client and the outcome is
   * `{ notServed: CODE }`, so the caller may send the request elsewhere.
   */
  notServed?: (answer: IncomingMessage) => boolean;
}

/**
 * How a pass-through ended: undefined when the app's answer was delivered, the error code when an error was
 * answered, or `{ notServed }` when the upstream served nothing and the client has not been answered yet.
 */
export type ProxyOutcome = string | undefined | { notServed: string; message?: string };

/**
 * Streams the request to the app and the app's answer back, without buffering either body. Answers 504 when
 * the app takes longer than the timeout and 502 when it cannot be reached or drops the connection.
 */
export function proxyRequest(
  app: AppEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  options: ProxyOptions,
): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    const bodiless = isBodiless(req);
    let settled = false;
    let upstream: ClientRequest;
    const settle = (outcome: ProxyOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const fail = (error: AdapterError): void => {
      if (settled) return;
      upstream.destroy();
      sendAdapterError(res, error, options.requestId);
      settle(error.code);
    };

    /** Set when a first attempt was dropped: the app may have seen the request, so it cannot count as unserved. */
    let dropped: NodeJS.ErrnoException | undefined;
    const send = (retry: boolean): void => {
      upstream = request({
        host: app.host,
        port: app.port,
        agent: app.agent,
        method: req.method,
        path: options.path,
        headers: options.headers,
      });
      upstream.on('response', (answer) => {
        if (options.notServed?.(answer)) {
          // The upstream's own error (a small JSON envelope) says why: read it, then let the caller decide.
          const code = String(answer.headers[ERROR_HEADER] ?? answer.statusCode);
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.length < 16 && chunks.push(chunk));
          answer.on('close', () => settle({ notServed: code }));
          answer.on('end', () => {
            upstream.destroy();
            settle({ notServed: code, message: errorMessage(Buffer.concat(chunks)) });
          });
          return;
        }
        const headers = appResponseHeaders(answer.headers);
        headers[REQUEST_ID_HEADER] = options.requestId;
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
        answer.on('aborted', () => res.destroy());
        res.on('finish', () => settle(undefined));
      });
      upstream.on('error', (failure: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive connection the app closed just as we reused it: safe to send a bodiless request again.
        if (retry && bodiless && upstream.reusedSocket && failure.code === 'ECONNRESET') {
          dropped = failure;
          return send(false);
        }
        const cause = dropped ?? failure;
        // Nobody listens there any more: the request reached no app, so the caller may send it elsewhere.
        if (options.notServed && NEVER_CONNECTED.has(cause.code ?? '')) {
          return settle({ notServed: cause.code! });
        }
        const error = new AdapterError(
          'APP_UNREACHABLE',
          502,
          `${options.upstreamName ?? `the app on ${app.host}:${app.port}`} ${describeFailure(cause)}`,
        );
        if (!options.explainFailure) return fail(error);
        upstream.destroy();
        void options.explainFailure(error, cause).then(fail, () => fail(error));
      });
      if (bodiless) upstream.end();
      else req.pipe(upstream);
    };

    const timer = setTimeout(
      () =>
        fail(
          new AdapterError(
            'TIMEOUT',
            504,
            `${options.upstreamName ?? 'the app'} did not finish within the request timeout of ${options.timeoutMs} ms (PILOTLIGHT_REQUEST_TIMEOUT_MS)`,
          ),
        ),
      options.timeoutMs,
    );
    res.on('close', () => {
      if (!res.writableFinished) {
        upstream.destroy();
        settle(settled ? undefined : 'CLIENT_CLOSED');
      }
    });
    send(true);
  });
}

/** A request without a body can be sent again as it is: nothing of it has been consumed. */
export function isBodiless(req: IncomingMessage): boolean {
  return !req.headers['transfer-encoding'] && !Number(req.headers['content-length'] ?? 0);
}

function errorMessage(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { error?: { message?: string } }).error?.message;
  } catch {
    return undefined;
  }
}

const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

function describeFailure(error: NodeJS.ErrnoException): string {
  if (error.code === 'ECONNREFUSED') return 'refused the connection (is it listening on that port?)';
  if (error.code === 'ECONNRESET' || error.message === 'socket hang up') {
    return 'closed the connection before answering (did it crash?)';
  }
  return `failed: ${error.code ?? error.message}`;
}
