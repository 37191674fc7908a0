#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runSetup } from './commands/setup-command.js';
import { runUp } from './commands/up-command.js';
import { runWrap } from './commands/wrap-command.js';
import { resolveDataDir } from './data-dir.js';
import { isPilotlightError } from './errors.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('runner')
    .strict()
    .demandCommand(1, 'name a command: runner --help lists them')
    .option('data-dir', {
      type: 'string',
      describe: 'state folder (default: $PILOTLIGHT_HOME or ~/.pilotlight)',
    })
    .command(
      'setup',
      'find or install a Docker engine and build the project images (idempotent)',
      (args) =>
        args.option('for-tests', {
          type: 'boolean',
          default: false,
          describe: 'also build test-only images',
        }),
      (args) => runSetup({ env: process.env, forTests: args['for-tests'], log }),
    )
    .command(
      'up',
      'run the runner in the foreground until Ctrl-C or SIGTERM',
      (args) =>
        args
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
          .option('port', { type: 'number', default: 7700, describe: 'gateway port (0 picks a free one)' }),
      (args) =>
        runUp({
          env: process.env,
          dataDir: resolveDataDir(args['data-dir'], process.env),
          host: args.host,
          gatewayPort: args.port,
          log,
          stopSignal: stopSignal(),
        }),
    )
    .command(
      'wrap <image>',
      'build IMAGE-pilotlight: the image plus the adapter as one layer, started as its entrypoint',
      (args) =>
        args
          .positional('image', { type: 'string', demandOption: true, describe: 'IMAGE[:TAG] on the engine' })
          .option('tag', { type: 'string', describe: 'name of the new image (default IMAGE:TAG-pilotlight)' })
          .option('port', { type: 'number', describe: "the app's port (default: the image's EXPOSE)" }),
      async (args) => {
        await runWrap({ env: process.env, image: args.image, tag: args.tag, port: args.port, log });
      },
    )
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .parseAsync();
}

class UsageError extends Error {}

main(hideBin(process.argv)).catch((error: unknown) => {
  if (isPilotlightError(error)) {
    process.stderr.write(`runner: ${error.message} [${error.code}]\n`);
    process.exit(2);
  }
  if (error instanceof UsageError) {
    process.stderr.write(`runner: ${error.message}\n`);
    process.exit(64);
  }
  process.stderr.write(`runner crashed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(70);
});
