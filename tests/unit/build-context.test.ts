import { mkdtemp, rm, symlink, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { extract } from 'tar-stream';
import { hashContext, readContextFiles, tarContext } from '../../engine/build-context.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pilotlight-ctx-'));
  await mkdir(join(dir, 'www'));
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\n');
  await writeFile(join(dir, 'www', 'blob.bin'), Buffer.from([0, 255, 1, 254]));
  await writeFile(join(dir, 'run.sh'), '#!/bin/sh\n');
  await chmod(join(dir, 'run.sh'), 0o755);
  await symlink('busybox', join(dir, 'sh'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

type Entry = { mode: number; body: Buffer; link?: string };

async function untar(stream: NodeJS.ReadableStream): Promise<Record<string, Entry>> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const reader = extract();
  reader.end(Buffer.concat(chunks));
  const entries: Record<string, Entry> = {};
  for await (const entry of reader) {
    const body: Buffer[] = [];
    for await (const piece of entry) body.push(piece as Buffer);
    const { name, mode, linkname } = entry.header;
    entries[name] = { mode: mode ?? 0, body: Buffer.concat(body), link: linkname ?? undefined };
  }
  return entries;
}

describe('build context', () => {
  test('the tar holds every file with its bytes, mode and symlinks', async () => {
    const entries = await untar(tarContext(await readContextFiles(dir)));
    expect(Object.keys(entries).sort()).toEqual(['Dockerfile', 'run.sh', 'sh', 'www/blob.bin']);
    expect(entries['www/blob.bin']!.body).toEqual(Buffer.from([0, 255, 1, 254]));
    expect(entries['run.sh']!.mode & 0o777).toBe(0o755);
    expect(entries['sh']!.link).toBe('busybox');
  });

  test('the digest changes with a byte, a mode or the base image, and only then', async () => {
    const before = hashContext(await readContextFiles(dir), ['base-1']);
    expect(hashContext(await readContextFiles(dir), ['base-1'])).toBe(before);
    expect(hashContext(await readContextFiles(dir), ['base-2'])).not.toBe(before);

    await chmod(join(dir, 'run.sh'), 0o644);
    const afterMode = hashContext(await readContextFiles(dir), ['base-1']);
    expect(afterMode).not.toBe(before);

    await writeFile(join(dir, 'www', 'blob.bin'), Buffer.from([0, 255, 1, 253]));
    expect(hashContext(await readContextFiles(dir), ['base-1'])).not.toBe(afterMode);
  });
});
