import { describe, expect, test } from '@jest/globals';
import { isHttpShaped, parseJsonEvent, toHttpAnswer, toHttpRequest } from '../../adapter/src/http-event.js';

describe('HTTP-shaped events', () => {
  test("a path with a query of its own gets the event's query fields joined to it", () => {
    const event = { httpMethod: 'GET', path: '/headers?x=1', queryStringParameters: { q: 'v' } };
    expect(toHttpRequest(event).path).toBe('/headers?x=1&q=v');
  });

  test('a decoded path or query is percent-encoded into a request line Node can send', () => {
    const event = { httpMethod: 'GET', path: '/é/\u0000/"x"', queryStringParameters: { q: 'a b' } };
    const { path } = toHttpRequest(event);
    expect(path.startsWith('/%C3%A9/%00/%22x%22')).toBe(true);
    expect(path).not.toMatch(/[^\x21-\x7e]/);
  });

  test('API Gateway v1 fields become the request, with query and base64 body', () => {
    const event = {
      httpMethod: 'post',
      path: '/orders',
      queryStringParameters: { page: '2' },
      multiValueQueryStringParameters: { tag: ['a', 'b'] },
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from([0, 1, 2, 255]).toString('base64'),
      isBase64Encoded: true,
    };
    expect(isHttpShaped(event)).toBe(true);
    const request = toHttpRequest(event);
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/orders?page=2&tag=a&tag=b');
    expect(request.headers).toEqual({ 'content-type': 'application/octet-stream' });
    expect(request.body).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  test('API Gateway v2 fields are understood too', () => {
    const event = { requestContext: { http: { method: 'GET' } }, rawPath: '/a b', rawQueryString: 'x=1' };
    expect(isHttpShaped(event)).toBe(true);
    expect(toHttpRequest(event)).toMatchObject({ method: 'GET', path: '/a%20b?x=1' });
  });

  test('a plain JSON event is not HTTP-shaped', () => {
    expect(isHttpShaped({ orderId: 7 })).toBe(false);
    expect(isHttpShaped([1, 2])).toBe(false);
    expect(isHttpShaped(undefined)).toBe(false);
  });

  test.each([
    [{ httpMethod: 7, path: '/' }, /method must be a string/],
    [{ httpMethod: 'GET', path: 'x' }, /path must be a string starting with \//],
    [{ httpMethod: 'GET', path: '/', headers: [] }, /headers must be an object/],
    [
      { httpMethod: 'GET', path: '/', headers: { a: 1 } },
      /headers.a must be a string or an array of strings/,
    ],
    [{ httpMethod: 'GET', path: '/', body: { a: 1 } }, /body must be a string/],
    [{ httpMethod: 'GET', path: '/', body: '%%%', isBase64Encoded: true }, /not valid base64/],
    [{ httpMethod: 'GET', path: '/', isBase64Encoded: 'yes' }, /isBase64Encoded must be true or false/],
    [
      { httpMethod: 'GET', path: '/', headers: { 'bad name': 'v' } },
      /headers.bad name is not a valid header name/,
    ],
    [{ httpMethod: 'GET', path: '/', headers: { x: 'a\r\nb' } }, /headers.x holds a character/],
    [
      { httpMethod: 'GET', path: '/', multiValueHeaders: { x: ['ok', '\u0100'] } },
      /multiValueHeaders.x holds/,
    ],
  ])('a bad field is a 400 naming it: %j', (event, message) => {
    expect(() => toHttpRequest(event as Record<string, unknown>)).toThrow(message);
    try {
      toHttpRequest(event as Record<string, unknown>);
    } catch (error) {
      expect(error).toMatchObject({ code: 'MALFORMED_EVENT', status: 400 });
    }
  });

  test('invalid JSON is a 400 saying where', () => {
    expect(() => parseJsonEvent(Buffer.from('{"a": }'))).toThrow(
      /the event is not valid JSON \(Unexpected token '}'/,
    );
  });

  test('answers keep text as text and turn anything else into base64', () => {
    const text = toHttpAnswer(
      201,
      { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] },
      Buffer.from('{"ok":true}'),
    );
    expect(text).toMatchObject({ statusCode: 201, body: '{"ok":true}', isBase64Encoded: false });
    expect(text.multiValueHeaders['set-cookie']).toEqual(['a=1', 'b=2']);

    const binary = toHttpAnswer(200, { 'content-type': 'image/png' }, Buffer.from([137, 80, 78, 71]));
    expect(binary).toMatchObject({ body: 'iVBORw==', isBase64Encoded: true });

    const invalidUtf8 = toHttpAnswer(200, { 'content-type': 'text/plain' }, Buffer.from([0xff, 0xfe]));
    expect(invalidUtf8.isBase64Encoded).toBe(true);
  });
});
