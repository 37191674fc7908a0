import { describe, expect, test } from '@jest/globals';
import { routeRequest } from '../../runner/src/gateway/route-request.js';

describe('routeRequest', () => {
  test('takes the function from /fn/NAME and strips that prefix, keeping the query', () => {
    expect(routeRequest('/fn/shop/cart/42?x=1&y=2', '127.0.0.1:7700')).toEqual({
      name: 'shop',
      path: '/cart/42?x=1&y=2',
    });
  });

  test('a bare /fn/NAME becomes the app root', () => {
    expect(routeRequest('/fn/shop', undefined)).toEqual({ name: 'shop', path: '/' });
    expect(routeRequest('/fn/shop?a=b', undefined)).toEqual({ name: 'shop', path: '/?a=b' });
  });

  test('takes the function from Host: NAME.localhost and keeps the whole path', () => {
    expect(routeRequest('/fn/other/x', 'Shop.localhost:7700')).toEqual({ name: 'shop', path: '/fn/other/x' });
  });

  test('paths that name no function are not routed', () => {
    expect(routeRequest('/', '127.0.0.1')).toBeUndefined();
    expect(routeRequest('/fn/', '127.0.0.1')).toBeUndefined();
    expect(routeRequest('/fnx/shop', '127.0.0.1')).toBeUndefined();
    expect(routeRequest('/fn/Bad_Name/', '127.0.0.1')).toBeUndefined();
  });
});
