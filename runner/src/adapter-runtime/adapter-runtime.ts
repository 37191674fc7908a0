import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SetupError } from '../../../host/setup-error.js';
import { projectRoot } from '../../../common/project-root.js';
import type { ProcessRunner } from '../../../host/process-runner.js';
import { sharedLibrariesOf } from './shared-libraries.js';

/** Where the runtime folder appears inside an instance's container. */
export const RUNTIME_MOUNT = '/opt/pilotlight';
export { ADAPTER_PORT } from '../../../adapter/contract/contract.js';

/** Starts the adapter with the folder's own loader and libraries, so the image needs no libc of its own. */
export const ADAPTER_ENTRYPOINT = [
  `${RUNTIME_MOUNT}/lib/ld-linux-x86-64.so.2`,
  '--library-path',
  `${RUNTIME_MOUNT}/lib`,
  `${RUNTIME_MOUNT}/bin/node`,
  // A small young generation keeps the resident set low; a proxy's garbage is short-lived and cheap to scavenge.
  '--max-semi-space-size=1',
  `${RUNTIME_MOUNT}/adapter.mjs`,
];

export interface AdapterRuntime {
  /** Host folder holding bin/node, lib/ and the adapter's bundles. */
  dir: string;
  digest: string;
  /** Path inside the folder → host path, for copying the folder into an image. */
  files: Array<{ name: string; path: string; mode: number }>;
}

/** The adapter's entrypoint (adapter.mjs) and the adapter it loads once the app is started. */
export const ADAPTER_BUNDLES = ['adapter.mjs', 'adapter-main.mjs'];

export function adapterBundlePath(name = ADAPTER_BUNDLES[0]!): string {
  return join(projectRoot(), 'dist', 'adapter', name);
}

/**
 * A self-contained folder with the host's Node binary, its shared libraries, the dynamic loader and the
 * bundled adapter. Built once per content digest under cacheDir and reused.
 */
export async function ensureAdapterRuntime(
  cacheDir: string,
  processes: ProcessRunner,
): Promise<AdapterRuntime> {
  for (const bundle of ADAPTER_BUNDLES.map((name) => adapterBundlePath(name))) {
    if (!existsSync(bundle)) throw new SetupError(`${bundle} is missing: run \`npm run build\` first`);
  }
  const node = process.execPath;
  const { loader, libraries } = await sharedLibrariesOf(node, processes);
  const files = [
    { name: 'bin/node', path: node, mode: 0o755 },
    { name: 'lib/ld-linux-x86-64.so.2', path: loader, mode: 0o755 },
    ...libraries.map((path) => ({ name: `lib/${basename(path)}`, path, mode: 0o644 })),
    ...ADAPTER_BUNDLES.map((name) => ({ name, path: adapterBundlePath(name), mode: 0o644 })),
  ];

  const digest = await digestOf(files);
  const dir = join(cacheDir, `adapter-runtime-${digest.slice(0, 16)}`);
  if (!existsSync(join(dir, '.complete'))) {
    const staging = `${dir}.staging-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    for (const file of files) {
      const target = join(staging, file.name);
      await mkdir(join(target, '..'), { recursive: true });
      await copyFile(file.path, target);
      await chmod(target, file.mode);
    }
    await writeFile(join(staging, '.complete'), `${digest}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    await pruneOldRuntimes(cacheDir, dir);
  }
  return { dir, digest, files: files.map((file) => ({ ...file, path: join(dir, file.name) })) };
}

/** Binaries are identified by path, size and mtime (hashing 100 MB each run would cost more than it saves). */
async function digestOf(files: Array<{ name: string; path: string }>): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    const info = await stat(file.path);
    hash.update(`${file.name}\0${file.path}\0${info.size}\0${info.mtimeMs}\0`);
    if (ADAPTER_BUNDLES.includes(file.name)) hash.update(await readFile(file.path));
  }
  return hash.digest('hex');
}

/** Runtime folders live beside the build output they are made from. */
export function defaultRuntimeCacheDir(): string {
  return join(projectRoot(), 'dist', 'runtime');
}

/** Older runtime folders go after a day: instances started from them have long been replaced or adopted. */
async function pruneOldRuntimes(cacheDir: string, keep: string): Promise<void> {
  const dayAgo = Date.now() - 24 * 60 * 60 * 1000;
  for (const entry of await readdir(cacheDir)) {
    const path = join(cacheDir, entry);
    if (path === keep || !entry.startsWith('adapter-runtime-')) continue;
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < dayAgo) await rm(path, { recursive: true, force: true });
  }
}
