import { ADAPTER_EXIT } from '../contract/contract.js';
import { startAppProcess } from './app-process.js';
import { AdapterConfigError, parseAdapterConfig } from './config.js';
import { launchedApp } from './launched-app.js';
import { createLogger } from './logger.js';
import { takeEnvOnStdin } from './env-on-stdin.js';

/**
 * The adapter's entrypoint: `adapter [APP CMD...]`, with the app's ENTRYPOINT in PILOTLIGHT_APP_ENTRYPOINT.
 * It starts the app before the adapter's own HTTP modules load (they cost about 20 ms of a cold start that
 * the app can spend booting instead), then hands the running app to the adapter.
 */
const logger = createLogger();
let config;
try {
  // Into process.env itself: hooks and the initializer get it too, as the app does.
  takeEnvOnStdin(process.env);
  config = parseAdapterConfig(process.env, process.argv.slice(2));
} catch (error) {
  if (!(error instanceof AdapterConfigError)) throw error;
  logger.error(error.message, { code: error.code });
  process.exit(ADAPTER_EXIT.badConfig);
}
const appEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('PILOTLIGHT_')),
);
const outputLimit = {
  bytesPerSecond: config.logBytesPerSecond,
  onDropped: (stream: string, dropped: { lines: number; bytes: number }) =>
    logger.warn(
      `app output dropped: the app wrote faster than PILOTLIGHT_LOG_RATE=${config!.logBytesPerSecond} bytes/s on ${stream}`,
      { stream, droppedLines: dropped.lines, droppedBytes: dropped.bytes },
    ),
};
// Started already by the native launcher when the container has one; started here otherwise.
const app =
  config.appCommand.length === 0
    ? undefined
    : (launchedApp(process.env, config.appCommand, outputLimit) ??
      startAppProcess(config.appCommand, appEnv, outputLimit));

// Not a literal, so that the bundler leaves the adapter in a file of its own, loaded only now.
const adapterModule = new URL('./adapter-main.mjs', import.meta.url).href;
const { runAdapter } = (await import(adapterModule)) as typeof import('./main.js');
runAdapter({ config, logger, appEnv, app }).catch((error: unknown) => {
  process.stderr.write(`pilotlight-adapter crashed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(ADAPTER_EXIT.crashed);
});
