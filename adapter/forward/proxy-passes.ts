import { request, type IncomingMessage } from 'node:http';
import { AdapterError, ERROR_HEADER, REQUEST_ID_HEADER } from './adapter-error.js';
import { ENV, MESSAGE_LIMITS } from '../contract/contract.js';
import { appResponseHeaders } from './forward-headers.js';
import { isBodiless, type ProxyExchange } from './proxy-exchange.js';

/**
 * The proxy's passes, each with one job, in the style of http-proxy-3's: `timeout` bounds the whole
 * exchange, `stream` carries the bodies both ways, `headers` writes the answer's head, `errors` turns a
 * failure into the answer the contract names.
 */

/** Past the timeout the upstream request is aborted (its socket destroyed) and the client gets 504. */
export function timeoutPass(exchange: ProxyExchange): void {
  const { options } = exchange;
  exchange.timer = setTimeout(() => {
    exchange.fail(
      new AdapterError(
        'TIMEOUT',
        504,
        `${options.upstreamName ?? 'the app'} did not finish within the request timeout of ${options.timeoutMs} ms (${ENV.requestTimeoutMs})`,
      ),
    );
    exchange.app.watch?.timedOut(exchange.begunAt);
  }, options.timeoutMs);
}

/**
 * Sends the request (its body piped, never buffered) and hands the answer to `onAnswer` or the failure to
 * `onFailure`. A bodiless request whose kept-alive connection the upstream closed as it was reused is sent
 * once more. A client that goes away aborts the upstream request.
 */
export function streamPass(
  exchange: ProxyExchange,
  next: {
    onAnswer: (exchange: ProxyExchange, answer: IncomingMessage) => void;
    onFailure: (exchange: ProxyExchange, failure: NodeJS.ErrnoException) => void;
  },
): void {
  const { app, req, res, options } = exchange;
  const bodiless = isBodiless(req);
  res.on('close', () => {
    if (res.writableFinished) return;
    exchange.upstream?.destroy();
    exchange.settle(exchange.settled ? undefined : 'CLIENT_CLOSED');
  });
  if (!bodiless && options.maxBodyBytes !== undefined && !bodyWithinLimit(exchange, options.maxBodyBytes))
    return;
  const send = (mayRetry: boolean): void => {
    const upstream = request({
      host: app.host,
      port: app.port,
      ...(app.socketPath === undefined ? {} : { socketPath: app.socketPath }),
      agent: app.agent,
      method: req.method,
      path: options.path,
      headers: options.headers,
      // As the edge takes an answer straight from the app (Node's own limit is 16 KiB).
      maxHeaderSize: MESSAGE_LIMITS.answerHeaderBytes,
    });
    exchange.upstream = upstream;
    upstream.on('response', (answer) => {
      app.watch?.answered();
      next.onAnswer(exchange, answer);
    });
    upstream.on('error', (failure: NodeJS.ErrnoException) => {
      if (exchange.settled) return;
      if (mayRetry && bodiless && upstream.reusedSocket && failure.code === 'ECONNRESET') {
        exchange.dropped = failure;
        return send(false);
      }
      next.onFailure(exchange, exchange.dropped ?? failure);
    });
    if (bodiless) upstream.end();
    else req.pipe(upstream);
  };
  send(true);
}

/**
 * A body larger than the limit is refused: at once when its length is declared, else as soon as the bytes
 * passed on exceed it (the upstream request is aborted, so the app never gets a whole oversized body).
 */
function bodyWithinLimit(exchange: ProxyExchange, limit: number): boolean {
  const tooLarge = (): AdapterError =>
    new AdapterError(
      'BODY_TOO_LARGE',
      413,
      `the request body is larger than this function's limit of ${limit} bytes (maxBodySize)`,
      { connection: 'close' },
    );
  const declared = Number(exchange.req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    exchange.fail(tooLarge());
    return false;
  }
  let seen = 0;
  exchange.req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) exchange.fail(tooLarge());
  });
  return true;
}

/**
 * The answer's head: the app's status and end-to-end headers with the request id added; then its body is
 * piped to the client. An answer the upstream made without reaching any app goes back to the caller instead.
 */
export function headersPass(exchange: ProxyExchange, answer: IncomingMessage): void {
  const { res, options } = exchange;
  if (options.notServed?.(answer)) return readNotServed(exchange, answer);
  const headers = appResponseHeaders(answer.headers);
  headers[REQUEST_ID_HEADER] = options.requestId;
  res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
  answer.pipe(res);
  // The app dropped its answer midway: the client's answer is cut too, and the outcome says it was the app.
  const dropped = (): void => {
    exchange.settle('APP_UNREACHABLE');
    res.destroy();
  };
  answer.on('error', dropped);
  answer.on('aborted', dropped);
  res.on('finish', () => exchange.settle(undefined));
}

/** The upstream's own error (a small JSON envelope) says why it served nothing: read it, then settle. */
function readNotServed(exchange: ProxyExchange, answer: IncomingMessage): void {
  const code = String(answer.headers[ERROR_HEADER] ?? answer.statusCode);
  const chunks: Buffer[] = [];
  answer.on('data', (chunk: Buffer) => chunks.length < 16 && chunks.push(chunk));
  answer.on('close', () => exchange.settle({ notServed: code }));
  answer.on('end', () => exchange.notServed(code, errorMessage(Buffer.concat(chunks))));
}

/** Connections nobody accepted: the request reached no app. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A failure to reach the upstream or to get its whole answer: `notServed` when nothing was ever connected
 * (so the caller may send the request elsewhere), else 502 APP_UNREACHABLE, made more exact by
 * `explainFailure` when the caller can tell why (the app exited, or was OOM-killed).
 */
export function errorsPass(exchange: ProxyExchange, cause: NodeJS.ErrnoException): void {
  const { options } = exchange;
  if (options.notServed && NEVER_CONNECTED.has(cause.code ?? '')) {
    return exchange.settle({ notServed: cause.code! });
  }
  const error = new AdapterError(
    'APP_UNREACHABLE',
    502,
    `${exchange.upstreamName} ${describeFailure(cause)}`,
  );
  if (!options.explainFailure) return exchange.fail(error);
  exchange.upstream?.destroy();
  void options.explainFailure(error, cause).then(
    (explained) => exchange.fail(explained),
    () => exchange.fail(error),
  );
}

function describeFailure(error: NodeJS.ErrnoException): string {
  if (error.code === 'ECONNREFUSED') return 'refused the connection (is it listening on that port?)';
  if (error.code === 'ECONNRESET' || error.message === 'socket hang up') {
    return 'closed the connection before answering (did it crash?)';
  }
  return `failed: ${error.code ?? error.message}`;
}

function errorMessage(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { error?: { message?: string } }).error?.message;
  } catch {
    return undefined;
  }
}
