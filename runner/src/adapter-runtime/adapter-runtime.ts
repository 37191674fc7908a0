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
const ADAPTER_COMMAND = [
  `${RUNTIME_MOUNT}/lib/ld-linux-x86-64.so.2`,
  '--library-path',
  `${RUNTIME_MOUNT}/lib`,
  `${RUNTIME_MOUNT}/bin/node`,
  // A small young generation keeps the resident set low; a proxy's garbage is short-lived and cheap to scavenge.
  '--max-semi-space-size=1',
  `${RUNTIME_MOUNT}/adapter.mjs`,
];

/**
 * The native launcher (adapter/launcher/launch.c) starts the app at once and the adapter beside it: Node's own
 * start, about 30 ms, then overlaps the app's boot. It is static, so it too needs nothing from the image.
 */
const LAUNCHER = 'launch';
const LAUNCHER_SOURCE = join(projectRoot(), 'adapter', 'launcher', 'launch.c');

/** An instance's ENTRYPOINT: the launcher when the runtime has one, the adapter alone otherwise. */
function entrypointOf(launcher: boolean): string[] {
  return launcher ? [`${RUNTIME_MOUNT}/${LAUNCHER}`, ...ADAPTER_COMMAND, '--'] : ADAPTER_COMMAND;
}

export interface AdapterRuntime {
  /** Host folder holding bin/node, lib/ and the adapter's bundles. */
  dir: string;
  digest: string;
  /** Path inside the folder → host path, for copying the folder into an image. */
  files: Array<{ name: string; path: string; mode: number }>;
  /** The container's ENTRYPOINT; the image's CMD follows it. */
  entrypoint: string[];
  /** False when no C compiler was there to build the launcher: the adapter then starts the app itself. */
  launcher: boolean;
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
  const launcher = await buildLauncher(cacheDir, processes);
  const files = [
    ...(launcher ? [{ name: LAUNCHER, path: launcher, mode: 0o755 }] : []),
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
  return {
    dir,
    digest,
    files: files.map((file) => ({ ...file, path: join(dir, file.name) })),
    entrypoint: entrypointOf(launcher !== undefined),
    launcher: launcher !== undefined,
  };
}

/**
 * Compiles the launcher once per source digest (static, so that it runs in any image). Undefined when the host
 * has no working C compiler: instances then start as before, a little slower.
 */
async function buildLauncher(cacheDir: string, processes: ProcessRunner): Promise<string | undefined> {
  const source = await readFile(LAUNCHER_SOURCE);
  const binary = join(cacheDir, `launch-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  if (!(await processes.which('cc'))) return undefined;
  await mkdir(cacheDir, { recursive: true });
  const staging = `${binary}.staging-${process.pid}`;
  const compiled = await processes.run('cc', ['-O2', '-static', '-o', staging, LAUNCHER_SOURCE]);
  if (compiled.exitCode !== 0) {
    await rm(staging, { force: true });
    return undefined;
  }
  await rename(staging, binary);
  return binary;
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
