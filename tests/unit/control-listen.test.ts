import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { controlListen, controlUrl, isLoopback } from '../../runner/src/control/control-listen.js';
import { selfSignedCert, type SelfSignedCert } from '../helpers/self-signed-cert.js';

let tls: SelfSignedCert;
beforeAll(() => {
  tls = selfSignedCert();
});
afterAll(() => rmSync(tls.dir, { recursive: true, force: true }));

function refusal(run: () => unknown): { code: string; message: string } | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error as { code: string; message: string };
  }
}

describe('how the control API listens', () => {
  test('loopback is plain HTTP without a warning; any other address is loopback only by its IP', () => {
    expect(controlListen({ host: '127.0.0.1', insecure: false })).toEqual({
      host: '127.0.0.1',
      insecure: false,
    });
    expect(['127.0.0.1', '127.0.0.2', '::1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', 'localhost', 'example.com', '128.0.0.1'].some(isLoopback)).toBe(
      false,
    );
  });

  test('off loopback without TLS it refuses, naming the flags that fix it', () => {
    const error = refusal(() => controlListen({ host: '0.0.0.0', insecure: false }));
    expect(error?.code).toBe('CONTROL_NEEDS_TLS');
    expect(error?.message).toBe(
      '--control-host 0.0.0.0 puts the control API and its token on the network: pass --tls-cert FILE --tls-key FILE to serve it over HTTPS, or --insecure-control to accept plain HTTP',
    );
  });

  test('--insecure-control lets it start in plain HTTP, marked so a warning is printed', () => {
    expect(controlListen({ host: '0.0.0.0', insecure: true })).toEqual({ host: '0.0.0.0', insecure: true });
  });

  test('with a certificate and key it serves HTTPS, and keeps only the certificate for the CLI', () => {
    const files: Record<string, Buffer> = {
      '/tls/cert.pem': Buffer.concat([tls.cert, tls.key]),
      '/tls/key.pem': tls.key,
    };
    const listen = controlListen(
      { host: '0.0.0.0', insecure: false, tls: { certFile: '/tls/cert.pem', keyFile: '/tls/key.pem' } },
      (path) => files[path] ?? Buffer.alloc(0),
    );
    expect(listen.insecure).toBe(false);
    expect(listen.tls?.certificates).toBe(tls.cert.toString('utf8').trim());
    expect(listen.tls?.certificates).not.toContain('PRIVATE KEY');
    expect(controlUrl(listen, 7701)).toBe('https://127.0.0.1:7701');
  });

  test('an unreadable file, or a key that is not the certificate’s, stops it in one line naming the flag', () => {
    const missing = refusal(() =>
      controlListen({
        host: '0.0.0.0',
        insecure: false,
        tls: { certFile: '/no/cert.pem', keyFile: tls.keyFile },
      }),
    );
    expect(missing).toMatchObject({
      code: 'TLS_FILES',
      message: '--tls-cert /no/cert.pem cannot be read (ENOENT): give a PEM file',
    });
    const other = selfSignedCert();
    try {
      const mismatch = refusal(() =>
        controlListen({
          host: '::',
          insecure: false,
          tls: { certFile: tls.certFile, keyFile: other.keyFile },
        }),
      );
      expect(mismatch?.code).toBe('TLS_FILES');
      expect(mismatch?.message).toMatch(/are not a PEM certificate and its key: .*key values mismatch/);
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });

  test('the URL the CLI calls: a wildcard address on loopback, an IPv6 address in brackets', () => {
    expect(controlUrl({ host: '127.0.0.1', insecure: false }, 7701)).toBe('http://127.0.0.1:7701');
    expect(controlUrl({ host: '::', insecure: true }, 7701)).toBe('http://[::1]:7701');
    expect(controlUrl({ host: '10.1.2.3', insecure: true }, 80)).toBe('http://10.1.2.3:80');
  });
});
