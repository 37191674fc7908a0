import type Docker from 'dockerode';
import { LABEL_CAP_ADD, LABEL_KIND, LABEL_TEST_RUN } from '../../engine/labels.js';
import { RUNTIME_MOUNT } from '../../runner/src/adapter-runtime/adapter-runtime.js';
import { DEFAULT_CAPABILITIES } from '../../runner/src/spec/function-schema.js';

/** What is wrong with an instance container's confinement (CIS Docker Benchmark, section 5), if anything. */
export function confinementProblems(info: Docker.ContainerInspectInfo): string[] {
  const host = info.HostConfig;
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const allowed = new Set([
    ...DEFAULT_CAPABILITIES,
    ...(info.Config.Labels[LABEL_CAP_ADD] ?? '').split(',').filter(Boolean),
  ]);
  expect(host.Privileged === false, 'privileged');
  expect(JSON.stringify(host.CapDrop) === '["ALL"]', `CapDrop ${JSON.stringify(host.CapDrop)}, not ["ALL"]`);
  for (const capability of host.CapAdd ?? []) {
    expect(allowed.has(capability), `capability ${capability} beyond the allowlist and the function's own`);
  }
  expect((host.SecurityOpt ?? []).includes('no-new-privileges:true'), 'no-new-privileges not set');
  expect(
    !(host.SecurityOpt ?? []).some((option: string) => option.startsWith('seccomp')),
    'seccomp profile replaced',
  );
  expect((host.PidsLimit ?? 0) > 0, `no pids limit (${host.PidsLimit})`);
  expect(
    (host.Memory ?? 0) > 0 && host.MemorySwap === host.Memory,
    `memory ${host.Memory}, swap ${host.MemorySwap}`,
  );
  expect((host.NanoCpus ?? 0) > 0, 'no CPU limit');
  for (const mount of info.Mounts) {
    if (mount.Type !== 'bind') continue;
    expect(
      mount.Destination === RUNTIME_MOUNT && mount.RW === false,
      `host path ${mount.Source} mounted at ${mount.Destination}${mount.RW ? ' read-write' : ''}`,
    );
  }
  expect(!JSON.stringify(info.Mounts).includes('docker.sock'), 'the Docker socket is mounted');
  expect(!/^(host|container:)/.test(host.NetworkMode ?? ''), `network mode ${host.NetworkMode}`);
  expect(/^pilotlight-/.test(host.NetworkMode ?? ''), `not on its function's network (${host.NetworkMode})`);
  for (const [name, mode] of [
    ['pid', host.PidMode],
    ['ipc', host.IpcMode],
    ['uts', host.UTSMode],
    ['userns', host.UsernsMode],
  ] as const) {
    expect(!/^(host|container:)/.test(mode ?? ''), `the ${name} namespace is shared (${mode})`);
  }
  expect(Boolean(host.LogConfig?.Config?.['max-size']), 'its log has no size cap');
  return problems;
}

/**
 * Watches the engine for every instance container made while a test file runs and checks each as it is
 * created (before a test can remove it): the suite's own audit of the isolation defaults.
 */
export async function auditInstances(docker: Docker): Promise<{ stop: () => Promise<string[]> }> {
  const problems: string[] = [];
  const checks: Promise<void>[] = [];
  const events = (await docker.getEvents({
    filters: { type: ['container'], event: ['create'], label: [`${LABEL_KIND}=instance`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let buffered = '';
  events.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const event = JSON.parse(buffered.slice(0, newline)) as { id: string };
      buffered = buffered.slice(newline + 1);
      checks.push(
        docker
          .getContainer(event.id)
          .inspect()
          .then(
            (info) => {
              // A container a test made to look like an instance (an orphan to adopt) is the test's own.
              if (info.Config.Labels[LABEL_TEST_RUN]) return;
              problems.push(...confinementProblems(info).map((problem) => `${info.Name}: ${problem}`));
            },
            () => undefined, // removed before it could be looked at
          )
          .then(() => undefined),
      );
    }
  });
  events.on('error', () => undefined);
  return {
    stop: async () => {
      events.destroy();
      await Promise.all(checks);
      return problems;
    },
  };
}
