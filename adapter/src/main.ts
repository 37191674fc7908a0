import { ADAPTER_EXIT } from '../contract/contract.js';
import { Adapter } from './adapter.js';
import { watchPidsLimit } from './cgroup-pids.js';
import type { AppProcess } from './app-process.js';
import type { AdapterConfig } from './config.js';
import type { Logger } from './logger.js';

export interface AdapterStart {
  config: AdapterConfig;
  logger: Logger;
  /** The app's environment: the container's, without the adapter's own settings. */
  appEnv: Record<string, string | undefined>;
  /** The app, already started by the entrypoint (none when the adapter runs without one). */
  app: AppProcess | undefined;
}

/** Serves the contract in front of the running app until SIGTERM, or until the app exits on its own. */
export async function runAdapter({ config, logger, appEnv, app }: AdapterStart): Promise<void> {
  const adapter = new Adapter({ config, logger, appEnv, startApp: app ? () => app : undefined });

  const stop = async (signal: string): Promise<void> => {
    logger.info('signal received, draining', { signal });
    process.exit(await adapter.shutdown());
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  const port = await adapter.start();
  logger.info('adapter listening', { port, app: config.appCommand, appPort: config.appPort });

  const exited = adapter.appExited;
  if (!exited) return;
  const pids = watchPidsLimit();
  const end = await Promise.race([
    exited.then((code) => ({ code, reason: undefined })),
    pids.reached.then((reason) => ({ code: ADAPTER_EXIT.pidsLimit, reason })),
    adapter.appStuck.then((reason) => ({ code: ADAPTER_EXIT.appStuck, reason })),
  ]);
  pids.stop();
  if (adapter.state === 'draining' || adapter.state === 'stopped') return;
  adapter.state = 'stopped';
  if (end.reason) {
    // Forks fail from now on, or the app answers nothing: leave at once; the engine ends every process in the
    // container with the adapter.
    logger.error(`${end.reason}: instance going away`, { exitCode: end.code });
    process.exit(end.code);
  }
  // The app died on its own: give answers already being written (502s) a moment, then go with it.
  logger.error('app exited, instance going away', { exitCode: end.code, reason: app?.exitReason() });
  await adapter.drain(1000);
  process.exit(end.code);
}
