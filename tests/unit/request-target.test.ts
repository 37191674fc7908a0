import { describe, expect, test } from '@jest/globals';
import { disguisedReserved, originForm } from '../../adapter/src/request-target.js';

describe('originForm', () => {
  test('an origin-form target is kept as it is', () => {
    expect(originForm('/_/stats')).toEqual({ path: '/_/stats', absolute: false });
    expect(originForm('/a/http://b?c=d')).toEqual({ path: '/a/http://b?c=d', absolute: false });
  });

  test('an absolute-form target becomes its path and query, whatever the scheme, its case or the authority', () => {
    expect(originForm('http://x/_/stats')).toEqual({ path: '/_/stats', absolute: true });
    expect(originForm('HTTP://user@x:9000/_/invoke?a=1')).toEqual({ path: '/_/invoke?a=1', absolute: true });
    expect(originForm('https://[::1]:8443/cart')).toEqual({ path: '/cart', absolute: true });
    expect(originForm('http://x')).toEqual({ path: '/', absolute: true });
    expect(originForm('http://x?page=2')).toEqual({ path: '/?page=2', absolute: true });
  });

  test('the asterisk form is left alone', () => {
    expect(originForm('*')).toEqual({ path: '*', absolute: false });
  });
});

describe('disguisedReserved', () => {
  test('spellings many apps read as /_/… are caught', () => {
    for (const path of [
      '//_/stats',
      '/%5F/stats',
      '/%5f/x',
      '/a/../_/x',
      '/./_/x',
      '/%2F_/x',
      '/\\_/x',
      '/_%2Fstats',
    ]) {
      expect({ path, reserved: disguisedReserved(path, '/_/') }).toEqual({ path, reserved: true });
    }
  });

  test('ordinary paths, and /_/ itself (routed as written), are not', () => {
    for (const path of ['/', '/_/stats', '/a_/b', '/__/x', '/x?next=/_/stats', '/%E0%A4%A', '/a/_/b']) {
      expect({ path, reserved: disguisedReserved(path, '/_/') }).toEqual({ path, reserved: false });
    }
  });
});
