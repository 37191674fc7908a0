import { describe, expect, test } from '@jest/globals';
import { parseAdapterConfig } from '../../adapter/src/config.js';
import { parseStatusRanges, statusInRanges } from '../../adapter/src/status-ranges.js';

describe('parseAdapterConfig', () => {
  test('defaults: port 9000, app on PORT, HTTP readiness on / every 10 ms, no limits', () => {
    const config = parseAdapterConfig({ PORT: '3000' }, ['node', 'server.js']);
    expect(config).toMatchObject({
      port: 9000,
      appPort: 3000,
      appCommand: ['node', 'server.js'],
      readiness: { kind: 'http', path: '/' },
      readinessIntervalMs: 10,
      eventsPath: '/events',
      maxInflight: 0,
    });
  });

  test("the app command is the image's ENTRYPOINT followed by the CMD in argv", () => {
    const config = parseAdapterConfig({ PILOTLIGHT_APP_ENTRYPOINT: '["gunicorn","--config"]' }, ['app.conf']);
    expect(config.appCommand).toEqual(['gunicorn', '--config', 'app.conf']);
  });

  test('the queue defaults to ten times the in-flight limit', () => {
    expect(parseAdapterConfig({ PILOTLIGHT_MAX_INFLIGHT: '4' }).maxQueued).toBe(40);
  });

  test('hooks are an app path or a command', () => {
    const config = parseAdapterConfig({
      PILOTLIGHT_INITIALIZER: 'path:/warm',
      PILOTLIGHT_PRE_STOP: 'command:["sh","-c","sync"]',
      PILOTLIGHT_PRE_FREEZE: 'command:/bin/flush',
    });
    expect(config.initializer).toEqual({ kind: 'path', path: '/warm' });
    expect(config.preStop).toEqual({ kind: 'command', command: ['sh', '-c', 'sync'] });
    expect(config.preFreeze).toEqual({ kind: 'command', command: ['/bin/flush'] });
  });

  test('every bad setting is named in one error, with what is expected', () => {
    expect(() =>
      parseAdapterConfig({
        PILOTLIGHT_PORT: '70000',
        PILOTLIGHT_READINESS: 'grpc',
        PILOTLIGHT_READINESS_STATUS: '200-abc',
        PILOTLIGHT_APP_ENTRYPOINT: 'node server.js',
        PILOTLIGHT_INITIALIZER: 'run-something',
        PILOTLIGHT_REQUEST_TIMEOUT_MS: String(3 * 60 * 60 * 1000),
      }),
    ).toThrow(
      new RegExp(
        [
          'PILOTLIGHT_APP_ENTRYPOINT must be a JSON array of strings',
          'PILOTLIGHT_READINESS=grpc must be one of http, tcp',
          'PILOTLIGHT_PORT=70000 must be a whole number from 0 to 65535',
          'PILOTLIGHT_READINESS_STATUS: "200-abc" is not a status',
          'PILOTLIGHT_INITIALIZER=run-something must be path:/some/path or command:',
        ].join('.*'),
      ),
    );
    expect(() => parseAdapterConfig({ PILOTLIGHT_REQUEST_TIMEOUT_MS: String(3 * 60 * 60 * 1000) })).toThrow(
      /PILOTLIGHT_REQUEST_TIMEOUT_MS=10800000 must be a whole number from 1 to 7200000/,
    );
  });

  test('the adapter and the app cannot share a port', () => {
    expect(() => parseAdapterConfig({ PILOTLIGHT_APP_PORT: '9000' })).toThrow(
      /both 9000: give the app another port/,
    );
  });
});

describe('status ranges', () => {
  test('single statuses and inclusive ranges', () => {
    const ranges = parseStatusRanges('200-399, 404');
    expect([199, 200, 399, 400, 404, 405].map((status) => statusInRanges(status, ranges))).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  test('a backwards range is refused', () => {
    expect(() => parseStatusRanges('500-400')).toThrow(/runs backwards/);
  });
});
