import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AdapterError } from './adapter-error.js';
import type { AppEndpoint } from './app-endpoint.js';
import { ProxyExchange } from './proxy-exchange.js';
import { errorsPass, headersPass, streamPass, timeoutPass } from './proxy-passes.js';

export interface ProxyOptions {
  path: string;
  headers: OutgoingHttpHeaders;
  timeoutMs: number;
  requestId: string;
  /** Largest request body passed on; a larger one is answered 413 BODY_TOO_LARGE (checked as it streams). */
  maxBodyBytes?: number;
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
 * Streams the request to the app and the app's answer back, without buffering either body: the passes
 * below, in order. Answers 504 when the app takes longer than the timeout (and aborts the upstream request),
 * 502 when it cannot be reached or drops the connection.
 */
export function proxyRequest(
  app: AppEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  options: ProxyOptions,
): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    const exchange = new ProxyExchange(app, req, res, options, resolve);
    timeoutPass(exchange);
    streamPass(exchange, { onAnswer: headersPass, onFailure: errorsPass });
  });
}
