import { startAppProcess } from './app-process.js';
import { AdapterConfigError, parseAdapterConfig } from './config.js';
import { createLogger } from './logger.js';

/**
 * The container's entrypoint: `adapter [APP CMD...]`, with the app's ENTRYPOINT in PILOTLIGHT_APP_ENTRYPOINT.
 * It starts the app before the adapter's own HTTP modules load (they cost about 20 ms of a cold start that
 * the app can spend booting instead), then hands the running app to the adapter.
 */
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
const app = config.appCommand.length > 0 ? startAppProcess(config.appCommand, appEnv) : undefined;

// Not a literal, so that the bundler leaves the adapter in a file of its own, loaded only now.
const adapterModule = new URL('./adapter-main.mjs', import.meta.url).href;
const { runAdapter } = (await import(adapterModule)) as typeof import('./main.js');
runAdapter({ config, logger, appEnv, app }).catch((error: unknown) => {
  process.stderr.write(`pilotlight-adapter crashed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(70);
});
