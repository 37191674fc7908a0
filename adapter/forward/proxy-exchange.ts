import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { sendAdapterError, type AdapterError } from './adapter-error.js';
import type { AppEndpoint } from './app-endpoint.js';
import type { ProxyOptions, ProxyOutcome } from './proxy-request.js';

/** A request without a body can be sent again as it is: nothing of it has been consumed. */
export function isBodiless(req: IncomingMessage): boolean {
  return !req.headers['transfer-encoding'] && !Number(req.headers['content-length'] ?? 0);
}

/**
 * One request on its way through the proxy: what the passes share. It settles once, whichever pass gets
 * there first (the answer delivered, an error answered, the timeout, the client gone).
 */
export class ProxyExchange {
  upstream: ClientRequest | undefined;
  timer: NodeJS.Timeout | undefined;
  settled = false;
  /** Set when a first attempt was dropped: the app may have seen the request, so it cannot count as unserved. */
  dropped: NodeJS.ErrnoException | undefined;
  readonly begunAt = Date.now();

  constructor(
    readonly app: AppEndpoint,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly options: ProxyOptions,
    private readonly resolve: (outcome: ProxyOutcome) => void,
  ) {}

  get upstreamName(): string {
    return this.options.upstreamName ?? `the app on ${this.app.host}:${this.app.port}`;
  }

  settle(outcome: ProxyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(outcome);
  }

  /** Aborts the upstream request and answers the error (or cuts the client off, if its answer had begun). */
  fail(error: AdapterError): void {
    if (this.settled) return;
    this.upstream?.destroy();
    sendAdapterError(this.res, error, this.options.requestId);
    this.settle(error.code);
  }

  /** An answer the upstream made without reaching any app: the caller decides where the request goes. */
  notServed(code: string, message?: string): void {
    this.upstream?.destroy();
    this.settle(message === undefined ? { notServed: code } : { notServed: code, message });
  }
}
