import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SetupError } from '../host/setup-error.js';
import { projectRoot } from '../common/project-root.js';
import type { ProcessRunner } from '../host/process-runner.js';
import type { ImageSpec } from './image-spec.js';

export const SAMPLE_NAMES = ['express', 'flask', 'jvm', 'scratch'] as const;
export type SampleName = (typeof SAMPLE_NAMES)[number];

export const REGISTRY_IMAGE = 'pilotlight/registry:latest';

/** Debian's own nginx and Tomcat packages, unchanged, as images nobody here wrote would run them (tests only). */
export const THIRD_PARTY_NAMES = ['nginx', 'tomcat'] as const;
export type ThirdPartyName = (typeof THIRD_PARTY_NAMES)[number];

export function thirdPartyImageRef(name: ThirdPartyName): string {
  return `pilotlight/third-party-${name}:latest`;
}

export function sampleImageRef(name: SampleName): string {
  return `pilotlight/sample-${name}:latest`;
}

/** The images every run needs (the samples), and those only the tests need (the registry). */
export function imageCatalog(processes: ProcessRunner, options: { forTests: boolean }): ImageSpec[] {
  const root = projectRoot();
  const samples: ImageSpec[] = SAMPLE_NAMES.map((name) => ({
    ref: sampleImageRef(name),
    kind: 'sample',
    contextDir: join(root, 'samples', name),
    prepare:
      name === 'express' ? () => installNodeModules(processes, join(root, 'samples', name)) : undefined,
  }));
  const tools: ImageSpec[] = options.forTests
    ? [
        { ref: REGISTRY_IMAGE, kind: 'tool-image', contextDir: join(root, 'images', 'registry') },
        ...THIRD_PARTY_NAMES.map((name): ImageSpec => ({
          ref: thirdPartyImageRef(name),
          kind: 'tool-image',
          contextDir: join(root, 'images', 'third-party', name),
        })),
      ]
    : [];
  return [...samples, ...tools];
}

/** npm cannot reach the registry from inside a build, so dependencies are installed here and copied in. */
async function installNodeModules(processes: ProcessRunner, dir: string): Promise<void> {
  if (existsSync(join(dir, 'node_modules', '.package-lock.json'))) return;
  const result = await processes.run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir });
  if (result.exitCode !== 0) {
    throw new SetupError(
      `npm ci in ${dir} failed:\n${result.output.trim().split('\n').slice(-10).join('\n')}`,
    );
  }
}
