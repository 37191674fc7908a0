import { describe, expect, test } from '@jest/globals';
import { appRequestHeaders, endToEndHeaders, requestIdFrom } from '../../adapter/forward/forward-headers.js';

const context = { function: 'shop', revision: 'r1', instance: 'i1', requestId: 'req-1', deadline: 1000 };

describe('headers towards the app', () => {
  test('hop-by-hop headers and those named in Connection are dropped', () => {
    expect(
      endToEndHeaders({
        connection: 'keep-alive, x-secret',
        'keep-alive': 'timeout=5',
        'x-secret': '1',
        te: 'trailers',
        accept: '*/*',
      }),
    ).toEqual({ accept: '*/*' });
  });

  test('a client cannot set the context header or any x-pilotlight- header', () => {
    const headers = appRequestHeaders(
      {
        'x-pilotlight-context': '{"function":"admin"}',
        'x-pilotlight-anything': 'x',
        host: 'shop.localhost',
      },
      context,
      { remoteAddress: '::ffff:10.1.2.3', host: 'shop.localhost', proto: 'http' },
    );
    expect(JSON.parse(String(headers['x-pilotlight-context']))).toEqual(context);
    expect(headers['x-pilotlight-anything']).toBeUndefined();
    expect(headers['x-request-id']).toBe('req-1');
  });

  test('Forwarded and X-Forwarded-* describe the caller, appending to what came before', () => {
    const headers = appRequestHeaders(
      { 'x-forwarded-for': '203.0.113.9', host: 'shop.localhost:7700' },
      context,
      { remoteAddress: '::ffff:127.0.0.1', host: 'shop.localhost:7700', proto: 'http' },
    );
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('shop.localhost:7700');
    expect(headers['forwarded']).toBe('for=127.0.0.1;host="shop.localhost:7700";proto=http');
  });

  test('a sane request id is kept, anything else replaced', () => {
    expect(requestIdFrom({ 'x-request-id': 'abc-123' })).toBe('abc-123');
    expect(requestIdFrom({ 'x-request-id': 'bad id\n' })).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFrom({})).toMatch(/^[0-9a-f-]{36}$/);
  });
});
