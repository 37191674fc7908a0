import { Adapter } from './adapter.js';
import { startAppProcess } from './app-process.js';
import { AdapterConfigError, parseAdapterConfig } from './config.js';
import { createLogger } from './logger.js';

/** The container's entrypoint: `adapter [APP CMD...]`, with the app's ENTRYPOINT in PILOTLIGHT_APP_ENTRYPOINT. */
async function main(): Promise<void> {
  const logger = createLogger();
  let config;
  try {
    config = parseAdapterConfig(process.env, process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof AdapterConfigError)) throw error;
    logger.error(error.message, { code: error.code });
    process.exit(78);
  }

  const appEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('PILOTLIGHT_')),
  );
  const command = config.appCommand;
  const adapter = new Adapter({
    config,
    logger,
    appEnv,
    startApp: command.length > 0 ? () => startAppProcess(command, appEnv) : undefined,
  });

  const stop = async (signal: string): Promise<void> => {
    logger.info('signal received, draining', { signal });
    process.exit(await adapter.shutdown());
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  const port = await adapter.start();
  logger.info('adapter listening', { port, app: command, appPort: config.appPort });

  const exited = adapter.appExited;
  if (exited) {
    const code = await exited;
    if (adapter.state === 'draining' || adapter.state === 'stopped') return;
    // The app died on its own: give answers already being written (502s) a moment, then go with it.
    logger.error('app exited, instance going away', { exitCode: code });
    adapter.state = 'stopped';
    await adapter.drain(1000);
    process.exit(code);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`pilotlight-adapter crashed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(70);
});
