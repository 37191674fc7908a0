import { describe, expect, test } from '@jest/globals';
import { describeEndpoint, dockerEndpointFromEnv } from '../../engine/docker-endpoint.js';

describe('dockerEndpointFromEnv', () => {
  test('defaults to the local socket', () => {
    expect(dockerEndpointFromEnv({})).toEqual({ kind: 'socket', socketPath: '/var/run/docker.sock' });
  });

  test('reads unix and tcp forms of DOCKER_HOST', () => {
    expect(dockerEndpointFromEnv({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toEqual({
      kind: 'socket',
      socketPath: '/run/user/1000/docker.sock',
    });
    const tcp = dockerEndpointFromEnv({ DOCKER_HOST: 'tcp://127.0.0.1:2375' });
    expect(tcp).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(describeEndpoint(tcp)).toBe('http://127.0.0.1:2375');
  });

  test('uses https and port 2376 when TLS is asked for', () => {
    expect(dockerEndpointFromEnv({ DOCKER_HOST: 'tcp://docker.local', DOCKER_TLS_VERIFY: '1' })).toEqual({
      kind: 'tcp',
      host: 'docker.local',
      port: 2376,
      protocol: 'https',
    });
  });

  test('rejects what it cannot read, naming the accepted forms', () => {
    expect(() => dockerEndpointFromEnv({ DOCKER_HOST: 'ssh://me@host' })).toThrow(
      /DOCKER_HOST=ssh:\/\/me@host is not understood: use unix:\/\/\/path\/to\/docker.sock or tcp:\/\/HOST:PORT/,
    );
  });
});
