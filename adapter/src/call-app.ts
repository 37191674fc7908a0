import { request, type OutgoingHttpHeaders, type IncomingHttpHeaders } from 'node:http';
import { AdapterError } from '../forward/adapter-error.js';
import type { AppEndpoint } from '../forward/app-endpoint.js';

export interface AppAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One buffered request to the app, for events, initializers and hooks; never throws for HTTP statuses. */
export function callApp(
  app: AppEndpoint,
  options: {
    method: string;
    path: string;
    headers: OutgoingHttpHeaders;
    body?: Buffer;
    timeoutMs: number;
    what: string;
  },
): Promise<AppAnswer> {
  return new Promise((resolve, reject) => {
    const upstream = request({
      host: app.host,
      port: app.port,
      agent: app.agent,
      method: options.method,
      path: options.path,
      headers: options.body ? { ...options.headers, 'content-length': options.body.length } : options.headers,
    });
    const begunAt = Date.now();
    const timer = setTimeout(() => {
      upstream.destroy();
      app.watch?.timedOut(begunAt);
      reject(
        new AdapterError('TIMEOUT', 504, `${options.what} did not finish within ${options.timeoutMs} ms`),
      );
    }, options.timeoutMs);
    upstream.on('response', (answer) => {
      app.watch?.answered();
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        clearTimeout(timer);
        resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) });
      });
      answer.on('error', () => undefined);
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new AdapterError(
          'APP_UNREACHABLE',
          502,
          `${options.what}: the app did not answer (${error.code ?? error.message})`,
        ),
      );
    });
    // The connection ended with no whole answer and no error: an answer cut short, or one to a CONNECT or an
    // upgrade, whose socket Node closes (this call reads no tunnel). After a whole answer this does nothing.
    upstream.on('close', () => {
      clearTimeout(timer);
      reject(
        new AdapterError('APP_UNREACHABLE', 502, `${options.what}: the app closed the connection mid-answer`),
      );
    });
    upstream.end(options.body);
  });
}
