#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  runDeploy,
  runInvoke,
  runEvents,
  runList,
  runLogs,
  runRemove,
  runScale,
  type Output,
} from './commands/function-commands.js';
import { runDemo } from './commands/demo-command.js';
import { runSetup } from './commands/setup-command.js';
import { runUp } from './commands/up-command.js';
import { runWrap } from './commands/wrap-command.js';
import { resolveDataDir } from './data-dir.js';
import { isPilotlightError } from '../../common/pilotlight-error.js';
import type { PullPolicy } from './registry/pull-image.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, functionError: 1, knownError: 2, usage: 64, crash: 70 } as const;

const log = (line: string): void => void process.stderr.write(`${line}\n`);
let exitCode: number = EXIT.ok;

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function output(json: boolean): Output {
  return { json, out: (text) => void process.stdout.write(text), log };
}

const withName = <T>(args: Argv<T>) =>
  args.positional('name', { type: 'string', demandOption: true, describe: 'function name' });

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('runner')
    .strict()
    .demandCommand(1, 'name a command: runner --help lists them')
    .option('data-dir', {
      type: 'string',
      describe: 'state folder (default: $PILOTLIGHT_HOME or ~/.pilotlight)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
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
      'demo',
      'the main job end to end: deploy a sample, call it, watch it go idle → reserved → awake',
      (args) => args,
      () => runDemo({ env: process.env, log }),
    )
    .command(
      'up',
      'run the runner in the foreground until Ctrl-C or SIGTERM',
      (args) =>
        args
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'gateway address' })
          .option('port', { type: 'number', default: 7700, describe: 'gateway port (0 picks a free one)' })
          .option('control-port', {
            type: 'number',
            default: 7701,
            describe: 'control API port on 127.0.0.1 (0: free)',
          })
          .option('keep-instances', {
            type: 'boolean',
            default: false,
            describe: 'leave instances running on stop',
          })
          .option('tick', { type: 'number', default: 1000, describe: 'autoscaler tick in ms' })
          .option('sweep', {
            type: 'number',
            default: 2000,
            describe: 'ms between full checks of every instance on the engine (besides its events)',
          }),
      (args) =>
        runUp({
          env: process.env,
          dataDir: resolveDataDir(args['data-dir'], process.env),
          host: args.host,
          gatewayPort: args.port,
          controlPort: args['control-port'],
          keepInstances: args['keep-instances'],
          tickMs: args.tick,
          sweepMs: args.sweep,
          log,
          stopSignal: stopSignal(),
        }),
    )
    .command(
      'deploy <image>',
      'pull IMAGE[:TAG], start its first instance behind the adapter and print its URL',
      (args) =>
        args
          .positional('image', { type: 'string', demandOption: true })
          .option('name', { type: 'string', describe: 'function name (default: from the image)' })
          .option('port', { type: 'number', describe: "the app's port (default: the image's EXPOSE)" })
          .option('cpus', { type: 'string', describe: 'active spec CPUs (default 1)' })
          .option('memory', { type: 'string', describe: 'active spec memory (default 512m)' })
          .option('reserved-cpus', { type: 'string', describe: 'idle spec CPUs (default 0.05)' })
          .option('reserved-memory', { type: 'string', describe: 'idle spec memory (default 128m)' })
          .option('concurrency', { type: 'number', describe: 'requests per instance (default 10)' })
          .option('min', { type: 'number', describe: 'instances kept, shrunk when idle (default 1)' })
          .option('max', { type: 'number', describe: 'most instances (default 10)' })
          .option('timeout', {
            type: 'number',
            describe: 'request timeout in seconds, up to 7200 (default 300)',
          })
          .option('env', { type: 'string', array: true, describe: 'KEY=VALUE for the app (repeatable)' })
          .option('error-statuses', {
            type: 'string',
            describe: 'app statuses that are function errors (default 500-599)',
          })
          .option('reserve-after', { type: 'number', describe: 'idle seconds before shrinking (default 30)' })
          .option('freeze-after', {
            type: 'number',
            describe: 'reserved seconds before freezing (default 120)',
          })
          .option('zero-after', {
            type: 'number',
            describe: 'with --min 0, idle seconds before removal (default 300)',
          })
          .option('startup-timeout', {
            type: 'number',
            describe: 'seconds the app may take to be ready (default 120)',
          })
          .option('stable-window', {
            type: 'number',
            describe: 'autoscaler stable window, seconds (default 60)',
          })
          .option('scale-down-delay', {
            type: 'number',
            describe: 'seconds a lower count must hold (default 30)',
          })
          .option('pull', { choices: ['always', 'missing', 'never'] as const, describe: 'pull policy' })
          .option('username', { type: 'string', describe: 'registry user (default: ~/.docker/config.json)' })
          .option('password', { type: 'string', describe: 'registry password' }),
      async (args) => {
        const image = args.image;
        await runDeploy(
          resolveDataDir(args['data-dir'], process.env),
          {
            image,
            name: args.name,
            port: args.port,
            cpus: args.cpus,
            memory: args.memory,
            reservedCpus: args['reserved-cpus'],
            reservedMemory: args['reserved-memory'],
            concurrency: args.concurrency,
            min: args.min,
            max: args.max,
            timeout: args.timeout,
            env: args.env,
            errorStatuses: args['error-statuses'],
            reserveAfter: args['reserve-after'],
            freezeAfter: args['freeze-after'],
            zeroAfter: args['zero-after'],
            startupTimeout: args['startup-timeout'],
            stableWindow: args['stable-window'],
            scaleDownDelay: args['scale-down-delay'],
            pull: args.pull as PullPolicy | undefined,
            auth:
              args.username !== undefined
                ? {
                    username: args.username,
                    password: args.password ?? '',
                    serveraddress: image.split('/')[0]!,
                  }
                : undefined,
          },
          output(args.json),
        );
      },
    )
    .command(
      'ls',
      'list functions and their instances with state and spec',
      (args) => args,
      (args) => runList(resolveDataDir(args['data-dir'], process.env), output(args.json)),
    )
    .command(
      'invoke <name>',
      'invoke a function synchronously with an event (from --data, --file or stdin)',
      (args) =>
        withName(args)
          .option('data', { type: 'string', describe: 'the event' })
          .option('file', { type: 'string', describe: 'read the event from a file' })
          .option('content-type', { type: 'string', default: 'application/json' }),
      async (args) => {
        const data = args.data ?? (args.file ? undefined : await readStdin());
        exitCode = await runInvoke(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          { data, file: args.file, contentType: args['content-type'] },
          output(args.json),
        );
      },
    )
    .command(
      'logs <name>',
      "every instance's output, each line prefixed with its instance",
      (args) =>
        withName(args)
          .option('follow', { alias: 'f', type: 'boolean', default: false })
          .option('tail', { type: 'number', default: 100 }),
      (args) =>
        runLogs(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          args.follow,
          args.tail,
          output(args.json),
        ),
    )
    .command(
      'events <name>',
      "a function's instance events: starts, shrinks, wakes, stops and deaths (exit code, OOM, last log lines)",
      (args) => withName(args).option('tail', { type: 'number', default: 50 }),
      (args) =>
        runEvents(resolveDataDir(args['data-dir'], process.env), args.name, args.tail, output(args.json)),
    )
    .command(
      'scale <name>',
      'change the minimum and maximum instances',
      (args) => withName(args).option('min', { type: 'number' }).option('max', { type: 'number' }),
      (args) =>
        runScale(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          args.min,
          args.max,
          output(args.json),
        ),
    )
    .command(
      'rm <name>',
      'drain and remove a function',
      (args) => withName(args),
      (args) => runRemove(resolveDataDir(args['data-dir'], process.env), args.name, output(args.json)),
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

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

class UsageError extends Error {}

main(hideBin(process.argv)).then(
  () => process.exit(exitCode),
  (error: unknown) => {
    if (isPilotlightError(error)) {
      process.stderr.write(`runner: ${error.message} [${error.code}]\n`);
      process.exit(EXIT.knownError);
    }
    if (error instanceof UsageError) {
      process.stderr.write(`runner: ${error.message}\n`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`runner crashed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(EXIT.crash);
  },
);
