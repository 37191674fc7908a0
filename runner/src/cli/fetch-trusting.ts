import { request } from 'node:https';
import { Readable } from 'node:stream';

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
}

/** Statuses whose answer has no body: a Response may not be given one. */
const NO_BODY = new Set([204, 205, 304]);

/**
 * fetch over HTTPS that trusts exactly the given certificate (PEM: the one the server presents, self-signed
 * or issued by anyone), host name still checked. Node's fetch takes no CA of its own; its answer is turned
 * into a web Response so callers read it as they read fetch's.
 */
export function fetchTrusting(cert: string): (url: string, init: FetchInit) => Promise<Response> {
  return (url, init) =>
    new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: init.method, headers: init.headers, ca: cert, allowPartialTrustChain: true },
        (res) => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const item of [value ?? []].flat()) headers.append(name, item);
          }
          const status = res.statusCode ?? 502;
          const empty = NO_BODY.has(status) || init.method === 'HEAD';
          if (empty) res.resume();
          try {
            const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
            resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }));
          } catch (error) {
            res.destroy();
            reject(error as Error);
          }
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
}
