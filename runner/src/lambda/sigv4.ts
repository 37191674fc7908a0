import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Access key id → secret access key. */
export type AccessKeys = ReadonlyMap<string, string>;

export type SignatureCheck =
  | { ok: true; accessKeyId: string }
  | {
      ok: false;
      type:
        'UnrecognizedClientException' | 'InvalidSignatureException' | 'MissingAuthenticationTokenException';
      message: string;
    };

/** How far a request's X-Amz-Date may be from the runner's clock, as AWS allows. */
const MAX_SKEW_MS = 15 * 60_000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/**
 * Checks an AWS Signature Version 4 (header form), as Lambda does: the canonical request is rebuilt from
 * what arrived (method, path, query, the signed headers, the body's hash), signed with the key's secret,
 * and compared in constant time.
 */
export function verifySigV4(
  request: { method: string; url: string; headers: IncomingHttpHeaders },
  body: Buffer,
  keys: AccessKeys,
  now: number,
): SignatureCheck {
  const authorization = String(request.headers['authorization'] ?? '');
  const match = AUTHORIZATION.exec(authorization);
  if (!match) {
    return {
      ok: false,
      type: 'MissingAuthenticationTokenException',
      message: 'the request is not signed with AWS Signature Version 4 (AWS4-HMAC-SHA256)',
    };
  }
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  const secret = keys.get(accessKeyId!);
  if (!secret) {
    return {
      ok: false,
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const at = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (Number.isNaN(at) || !amzDate.startsWith(date!) || Math.abs(now - at) > MAX_SKEW_MS) {
    return {
      ok: false,
      type: 'InvalidSignatureException',
      message: 'Signature expired or X-Amz-Date is missing or malformed.',
    };
  }
  // The body is signed through its hash: a hash header that does not match the body that came is a forgery.
  const bodyHash = sha256(body);
  const declaredHash = request.headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash !== bodyHash) {
    return {
      ok: false,
      type: 'InvalidSignatureException',
      message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
    };
  }
  const scope = `${date}/${region}/${service}/aws4_request`;
  const canonical = canonicalRequest(request, signedHeaders!, bodyHash);
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${secret}`, date!);
  for (const part of [region!, service!, 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, toSign).toString('hex'));
  const given = Buffer.from(signature!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ok: false,
      type: 'InvalidSignatureException',
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  }
  return { ok: true, accessKeyId: accessKeyId! };
}

function canonicalRequest(
  request: { method: string; url: string; headers: IncomingHttpHeaders },
  signedHeaders: string,
  bodyHash: string,
): string {
  const at = request.url.indexOf('?');
  const path = at === -1 ? request.url : request.url.slice(0, at);
  const query = at === -1 ? '' : request.url.slice(at + 1);
  const headers = signedHeaders
    .split(';')
    .map((name) => `${name}:${headerValue(request.headers[name])}\n`)
    .join('');
  return [request.method, canonicalPath(path), canonicalQuery(query), headers, signedHeaders, bodyHash].join(
    '\n',
  );
}

/** Each segment of the path as it arrived, encoded once more (every service but S3 signs it so). */
function canonicalPath(path: string): string {
  return path
    .split('/')
    .map((segment) => strictEncode(segment))
    .join('/');
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
      return [strictEncode(key), strictEncode(value)] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

/** RFC 3986 encoding: everything but unreserved characters. */
function strictEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function headerValue(value: string | string[] | undefined): string {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
