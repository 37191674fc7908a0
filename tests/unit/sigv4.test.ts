import { createHash, createHmac } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { SignatureV4 } from '@smithy/signature-v4';
import { verifySigV4 } from '../../runner/src/lambda/sigv4.js';

/** The SHA-256 the AWS signer takes, from Node's crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const keys = new Map([['AKIDTEST', 'SECRET']]);
const path = '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ashop/invocations';

/** A request signed by the AWS SDK's own signer, with its headers as Node's server would show them. */
async function signed(body: string, secret = 'SECRET', at = new Date()) {
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: secret },
    region: 'us-east-1',
    service: 'lambda',
    sha256: Sha256 as never,
  });
  const request = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 7700,
      path,
      query: { Qualifier: '$LATEST' },
      headers: {
        host: '127.0.0.1:7700',
        'content-type': 'application/json',
        'x-amz-invocation-type': 'Event',
      },
      body,
    },
    { signingDate: at },
  );
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: 'POST', url: `${path}?Qualifier=%24LATEST`, headers };
}

describe('AWS Signature Version 4, checked as Lambda checks it', () => {
  test("a request signed by the SDK's signer passes, an encoded ARN and a query included", async () => {
    const request = await signed('{"a":1}');
    expect(verifySigV4(request, Buffer.from('{"a":1}'), keys, Date.now())).toEqual({
      ok: true,
      accessKeyId: 'AKIDTEST',
    });
  });

  test('a changed body, a wrong secret or an old date do not', async () => {
    const request = await signed('{"a":1}');
    expect(verifySigV4(request, Buffer.from('{"a":2}'), keys, Date.now())).toMatchObject({
      ok: false,
      type: 'InvalidSignatureException',
    });
    const wrong = await signed('{"a":1}', 'OTHER');
    expect(verifySigV4(wrong, Buffer.from('{"a":1}'), keys, Date.now())).toMatchObject({
      ok: false,
      type: 'InvalidSignatureException',
    });
    const old = await signed('{"a":1}', 'SECRET', new Date(Date.now() - 20 * 60_000));
    expect(verifySigV4(old, Buffer.from('{"a":1}'), keys, Date.now())).toMatchObject({
      ok: false,
      message: expect.stringContaining('Signature expired'),
    });
  });
});
