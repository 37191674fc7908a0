import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, readlink, lstat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Header, type Pack } from 'tar-stream';

export interface ContextFile {
  /** Path inside the context, with forward slashes. */
  name: string;
  mode: number;
  content?: Buffer;
  linkTarget?: string;
  /** A file streamed from disk when the archive is written, for contents too large to hold in memory. */
  source?: { path: string; size: number };
}

/** Lists a folder's files in a stable order, reading their content; symlinks are kept as links. */
export async function readContextFiles(dir: string): Promise<ContextFile[]> {
  const files: ContextFile[] = [];
  async function walk(current: string): Promise<void> {
    const entries = (await readdir(current, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      const full = join(current, entry.name);
      const name = relative(dir, full).split(sep).join('/');
      if (entry.isDirectory()) {
        await walk(full);
      } else if (entry.isSymbolicLink()) {
        files.push({ name, mode: 0o777, linkTarget: await readlink(full) });
      } else if (entry.isFile()) {
        const stats = await lstat(full);
        files.push({ name, mode: stats.mode & 0o777, content: await readFile(full) });
      }
    }
  }
  await walk(dir);
  return files;
}

/** A digest of the context's names, modes and bytes: equal digests build equal images. */
export function hashContext(files: ContextFile[], extra: string[] = []): string {
  const hash = createHash('sha256');
  for (const part of extra) hash.update(`extra\0${part}\0`);
  for (const file of files) {
    hash.update(`${file.name}\0${file.mode}\0${file.linkTarget ?? ''}\0`);
    if (file.content) hash.update(file.content);
  }
  return hash.digest('hex');
}

/** Streams the files as a tar archive, with fixed owners and times so the bytes depend only on content. */
export function tarContext(files: ContextFile[]): Readable {
  const archive = pack();
  void (async () => {
    for (const file of files) {
      const header = { name: file.name, mode: file.mode, mtime: new Date(0), uid: 0, gid: 0 };
      if (file.linkTarget !== undefined) {
        archive.entry({ ...header, type: 'symlink', linkname: file.linkTarget });
      } else if (file.source) {
        await streamEntry(archive, { ...header, size: file.source.size }, file.source.path);
      } else {
        archive.entry(header, file.content ?? Buffer.alloc(0));
      }
    }
    archive.finalize();
  })().catch((error: Error) => archive.destroy(error));
  // tar-stream streams are streamx streams; the Engine client wants a Node stream.
  return Readable.from(archive);
}

async function streamEntry(
  archive: Pack,
  header: Partial<Header> & { name: string },
  path: string,
): Promise<void> {
  let settle: (error?: Error | null) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  const entry = archive.entry(header, (error) => settle(error));
  for await (const chunk of createReadStream(path)) {
    if (!entry.write(chunk as Buffer))
      await new Promise((resolve) => entry.once('drain', () => resolve(undefined)));
  }
  entry.end(undefined);
  await done;
}
