import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { ContainerEngine } from '../engine/container-engine.js';
import { SetupError } from '../host/setup-error.js';
import { managedLabels } from '../engine/labels.js';
import type { HostFacts } from '../host/host-facts.js';
import { ensureCommands } from '../host/install-debian-packages.js';
import type { ProcessRunner } from '../host/process-runner.js';

export const BASE_IMAGE = 'pilotlight/base:bookworm';
const SUITE = 'bookworm';

export interface BaseImageDeps {
  engine: ContainerEngine;
  processes: ProcessRunner;
  host: HostFacts;
  mirror: string;
  log: (line: string) => void;
}

/** Returns the id of pilotlight/base:bookworm, building it with debootstrap only when it is absent. */
export async function ensureBaseImage(deps: BaseImageDeps): Promise<string> {
  const existing = (await deps.engine.inspectImage(BASE_IMAGE))?.id;
  if (existing) return existing;

  await ensureCommands(
    [{ command: 'debootstrap', debianPackage: 'debootstrap', purpose: 'to build the base image' }],
    deps.host,
    deps.processes,
    deps.log,
  );
  const rootfs = await mkdtemp(join(tmpdir(), 'pilotlight-rootfs-'));
  try {
    deps.log(`building ${BASE_IMAGE} with debootstrap from ${deps.mirror} (takes about half a minute)`);
    const started = Date.now();
    const result = await deps.processes.run('debootstrap', ['--variant=minbase', SUITE, rootfs, deps.mirror]);
    if (result.exitCode !== 0) {
      throw new SetupError(
        `debootstrap of ${SUITE} from ${deps.mirror} failed (set PILOTLIGHT_DEBIAN_MIRROR to another mirror):\n` +
          result.output.trim().split('\n').slice(-10).join('\n'),
      );
    }
    await trimRootfs(rootfs, deps.mirror);
    await importRootfs(deps.engine, rootfs);
    deps.log(`built ${BASE_IMAGE} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
  const id = (await deps.engine.inspectImage(BASE_IMAGE))?.id;
  if (!id) throw new SetupError(`${BASE_IMAGE} was imported but the engine does not list it`);
  return id;
}

async function trimRootfs(rootfs: string, mirror: string): Promise<void> {
  await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
  const security = mirror.replace(/\/debian\/?$/, '/debian-security');
  await writeFile(
    join(rootfs, 'etc/apt/sources.list'),
    [
      `deb ${mirror} ${SUITE} main`,
      `deb ${mirror} ${SUITE}-updates main`,
      ...(security !== mirror ? [`deb ${security} ${SUITE}-security main`] : []),
      '',
    ].join('\n'),
  );
}

async function importRootfs(engine: ContainerEngine, rootfs: string): Promise<void> {
  const [repo, tag] = BASE_IMAGE.split(':') as [string, string];
  const labels = Object.entries(managedLabels('base-image'))
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  const tar = spawn('tar', ['--numeric-owner', '-C', rootfs, '-c', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tarErrors = '';
  tar.stderr.on('data', (chunk: Buffer) => (tarErrors += chunk.toString()));
  const tarExit = new Promise<number>((resolve) => tar.on('close', (code) => resolve(code ?? 1)));
  await engine.importImage(tar.stdout, {
    repo,
    tag,
    changes: [
      `LABEL ${labels}`,
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'CMD ["/bin/bash"]',
    ],
  });
  if ((await tarExit) !== 0) throw new SetupError(`packing the base rootfs failed: ${tarErrors.trim()}`);
}
