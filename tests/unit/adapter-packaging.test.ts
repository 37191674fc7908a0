import { describe, expect, test } from '@jest/globals';
import { parseLdd } from '../../runner/src/adapter-runtime/shared-libraries.js';
import { defaultWrappedTag, wrapDockerfile } from '../../runner/src/adapter-runtime/wrap-image.js';

describe('parseLdd', () => {
  test('finds the loader and every linked library', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f10)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f20)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f30)',
    ].join('\n');
    expect(parseLdd(output)).toEqual({
      loader: '/lib64/ld-linux-x86-64.so.2',
      libraries: ['/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6'],
    });
  });

  test('a statically linked binary has no loader to copy, which is an error here', () => {
    expect(() => parseLdd('\tnot a dynamic executable')).toThrow(/cannot find the dynamic loader/);
  });
});

describe('wrap', () => {
  test('the default tag keeps the repository and marks the tag', () => {
    expect(defaultWrappedTag('shop:1.2')).toBe('shop:1.2-pilotlight');
    expect(defaultWrappedTag('127.0.0.1:5000/team/shop')).toBe('127.0.0.1:5000/team/shop:latest-pilotlight');
    expect(defaultWrappedTag('shop@sha256:abc')).toBe('shop:pilotlight');
  });

  test('the Dockerfile adds one COPY layer, sets the adapter as entrypoint and restores the CMD', () => {
    const dockerfile = wrapDockerfile(
      'sha256:123',
      ['/opt/pilotlight/launch', '/opt/pilotlight/bin/node', '/opt/pilotlight/adapter.mjs', '--'],
      { PILOTLIGHT_APP_ENTRYPOINT: '["/bin/sh","-c","echo \\"$HOME\\""]', PILOTLIGHT_APP_PORT: '3000' },
      ['node', 'server.js'],
    );
    const lines = dockerfile.trim().split('\n');
    expect(lines[0]).toBe('FROM sha256:123');
    expect(lines.filter((line) => /^(COPY|ADD|RUN)\b/.test(line))).toEqual([
      'COPY pilotlight/ /opt/pilotlight/',
    ]);
    expect(lines).toContain(
      'ENV PILOTLIGHT_APP_ENTRYPOINT="[\\"/bin/sh\\",\\"-c\\",\\"echo \\\\\\"\\$HOME\\\\\\"\\"]"',
    );
    expect(lines).toContain('CMD ["node","server.js"]');
    expect(lines).toContain(
      'ENTRYPOINT ["/opt/pilotlight/launch","/opt/pilotlight/bin/node","/opt/pilotlight/adapter.mjs","--"]',
    );
  });

  test('an image without CMD gets none', () => {
    expect(wrapDockerfile('img', ['/opt/pilotlight/launch'], {}, [])).not.toContain('CMD');
  });
});
