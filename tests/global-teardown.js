// A safety net after every test file has cleaned up after itself: removes whatever this run still left on
// the engine (a test that timed out halfway, say), found by the run's label or tag.
import Docker from 'dockerode';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';

/** Edges (HAProxy) this run's runners left in their temporary data directories (runTempPrefix), and no other's. */
function stopTestEdges(run) {
  spawnSync('pkill', ['-f', `haproxy -W -D -f ${tmpdir()}/pilotlight-${run}-`]);
}

export default async function globalTeardown() {
  const run = process.env.PILOTLIGHT_TEST_RUN;
  if (!run) return;
  stopTestEdges(run);
  const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
  try {
    await docker.ping();
  } catch {
    return;
  }
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`pilotlight.test-run=${run}`] },
  });
  for (const info of containers) {
    await docker
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  const images = await docker.listImages();
  for (const info of images) {
    const mine =
      info.Labels?.['pilotlight.test-run'] === run || (info.RepoTags ?? []).some((tag) => tag.includes(run));
    if (mine)
      await docker
        .getImage(info.Id)
        .remove({ force: true })
        .catch(() => undefined);
  }
  if (containers.length > 0)
    process.stdout.write(`teardown removed ${containers.length} container(s) left by tests\n`);
}
