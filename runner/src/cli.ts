#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  runDeploy,
  runInvoke,
  runInvocation,
  runInvocations,
  runEvents,
  runDescribe,
  runGet,
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
import { withFunctionFlags } from './cli/deploy-flags.js';
import { deployRequests, readStdin, registryCredentials } from './cli/deploy-input.js';
import { dashValueHint } from './cli/dash-value-hint.js';
import { UsageError } from './cli/usage-error.js';
import { parseDuration } from './spec/units.js';

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
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'machine-readable output; errors too, as {"error":{"code","message"}} on stdout',
    })
    .epilogue(
      'Exit codes: 0 success; 1 the function answered with an error status (invoke); 2 a known error, ' +
        'printed as one line with its code; 64 bad usage; 70 a crash, printed with its stack.',
    )
    .command(
      'setup',
      'find or install a Docker engine and build the project images (idempotent)',
      (args) =>
        args
          .option('for-tests', {
            type: 'boolean',
            default: false,
            describe: 'also build test-only images',
          })
          .example('$0 setup', ''),
      (args) => runSetup({ env: process.env, forTests: args['for-tests'], log }),
    )
    .command(
      'demo',
      'the main job end to end: deploy a sample, call it, watch it go idle → reserved → awake',
      (args) => args.example('$0 demo', ''),
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
            describe: 'control API port (0 picks a free one)',
          })
          .option('control-host', {
            type: 'string',
            default: '127.0.0.1',
            describe: 'control API address; anything but loopback needs --tls-cert and --tls-key',
          })
          .option('tls-cert', {
            type: 'string',
            describe:
              'PEM certificate: the control API is served over HTTPS (the CLI trusts this certificate)',
          })
          .option('tls-key', { type: 'string', describe: "PEM private key of --tls-cert's certificate" })
          .check((given) => {
            if (!given['tls-cert'] !== !given['tls-key']) {
              throw new UsageError('--tls-cert and --tls-key go together: give the certificate and its key');
            }
            return true;
          })
          .option('insecure-control', {
            type: 'boolean',
            default: false,
            describe: 'let --control-host off loopback serve plain HTTP (a warning is printed)',
          })
          .option('keep-instances', {
            type: 'boolean',
            default: false,
            describe: 'leave instances running on stop',
          })
          .option('edge-busy-polling', {
            type: 'boolean',
            default: false,
            describe:
              'the edge never sleeps between events: about 0.1 ms less per request, one CPU always busy',
          })
          .option('tick', { type: 'number', default: 1000, describe: 'autoscaler tick in ms' })
          .option('sweep', {
            type: 'number',
            default: 2000,
            describe: 'ms between full checks of every instance on the engine (besides its events)',
          })
          .option('keep-invocations', {
            type: 'number',
            default: 10_000,
            describe: 'finished async events kept (the oldest go first)',
          })
          .option('keep-invocations-for', {
            type: 'string',
            default: '7d',
            describe: 'how long finished async events are kept (30m, 7d, …)',
          })
          .example('$0 up --port 8080', '')
          .example(
            'PILOTLIGHT_HOME=/srv/pilotlight $0 up --host 0.0.0.0',
            'another data folder, all interfaces',
          )
          .example(
            '$0 up --control-host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem',
            'the control API on every interface, over HTTPS',
          ),
      (args) =>
        runUp({
          env: process.env,
          dataDir: resolveDataDir(args['data-dir'], process.env),
          host: args.host,
          gatewayPort: args.port,
          controlPort: args['control-port'],
          controlHost: args['control-host'],
          ...(args['tls-cert'] && args['tls-key']
            ? { tls: { certFile: args['tls-cert'], keyFile: args['tls-key'] } }
            : {}),
          insecureControl: args['insecure-control'],
          edgeBusyPolling: args['edge-busy-polling'],
          keepInstances: args['keep-instances'],
          tickMs: args.tick,
          sweepMs: args.sweep,
          retention: {
            keep: args['keep-invocations'],
            maxAgeMs: durationFlag(args['keep-invocations-for'], '--keep-invocations-for'),
          },
          log,
          stopSignal: stopSignal(),
        }),
    )
    .command(
      'deploy [image]',
      'pull IMAGE[:TAG] (or each function of a spec file), start its first instance behind the adapter, print its URL',
      (args) =>
        withFunctionFlags(
          args.positional('image', {
            type: 'string',
            describe: 'the image to run, IMAGE[:TAG] or IMAGE@DIGEST (or `image:` in the spec file)',
          }),
        )
          .option('file', {
            alias: 'f',
            type: 'string',
            describe: 'a spec file, YAML or JSON: one function or a list; flags override its fields',
          })
          .option('env-file', {
            type: 'string',
            array: true,
            describe: 'KEY=VALUE lines for the app, read as docker run --env-file reads them (repeatable)',
          })
          .option('username', { type: 'string', describe: 'registry user (default: ~/.docker/config.json)' })
          .option('password', {
            type: 'string',
            describe: 'registry password (prefer --password-stdin: a command line is visible to others)',
          })
          .option('password-stdin', {
            type: 'boolean',
            default: false,
            describe: 'read the registry password from stdin',
          })
          .example('$0 deploy 127.0.0.1:5000/shop:1.2 -m 1g --min 0 --zero-after 10m', '')
          .example('$0 deploy -f shop.yaml --max 4', 'the file, with max overridden')
          .example('echo "$TOKEN" | $0 deploy registry.local/shop:2 --username ci --password-stdin', ''),
      async (args) => {
        const dataDir = resolveDataDir(args['data-dir'], process.env);
        const auth = await registryCredentials(args, log);
        for (const request of deployRequests(args, auth)) {
          await runDeploy(dataDir, request, output(args.json));
        }
      },
    )
    .command(
      'get <name>',
      'print a deployed function as a spec file (what `runner deploy -f` takes back unchanged)',
      (args) =>
        withName(args)
          .option('output', {
            alias: 'o',
            choices: ['yaml', 'json'] as const,
            default: 'yaml' as const,
            describe: 'the format',
          })
          .example('$0 get shop -o yaml > shop.yaml', ''),
      (args) =>
        runGet(resolveDataDir(args['data-dir'], process.env), args.name, args.output, output(args.json)),
    )
    .command(
      'ls',
      'list functions and their instances with state and spec',
      (args) => args.example('$0 ls', '').example('$0 ls --json', ''),
      (args) => runList(resolveDataDir(args['data-dir'], process.env), output(args.json)),
    )
    .command(
      'invoke <name>',
      'invoke a function synchronously with an event (from --data, --file or stdin)',
      (args) =>
        withName(args)
          .option('data', { type: 'string', describe: 'the event, as text' })
          .option('async', {
            type: 'boolean',
            default: false,
            describe: 'store the event and run it later, with retries; prints its invocation id',
          })
          .option('invocation-id', {
            type: 'string',
            describe: 'with --async: your own id (at most 128 characters); the same id runs once',
          })
          .option('file', { type: 'string', describe: 'read the event from a file' })
          .option('content-type', {
            type: 'string',
            default: 'application/json',
            describe: "the event's content type",
          })
          .example(`$0 invoke shop --data '{"httpMethod":"GET","path":"/"}'`, 'an HTTP-shaped event')
          .example('$0 invoke shop --file order.json', 'any other event goes to the events path'),
      async (args) => {
        const data = args.data ?? (args.file ? undefined : await readStdin());
        exitCode = await runInvoke(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          {
            data,
            file: args.file,
            contentType: args['content-type'],
            async: args.async,
            ...(args['invocation-id'] ? { invocationId: args['invocation-id'] } : {}),
          },
          output(args.json),
        );
      },
    )
    .command(
      'invocations <name>',
      "a function's async events and their states",
      (args) =>
        withName(args)
          .option('state', {
            choices: ['queued', 'running', 'retrying', 'succeeded', 'failed', 'expired'] as const,
            describe: 'only events in this state',
          })
          .example('$0 invocations shop --state failed', ''),
      (args) =>
        runInvocations(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          args.state,
          output(args.json),
        ),
    )
    .command(
      'invocation <id>',
      'one async event: its state and every attempt (status, duration, instance)',
      (args) =>
        args
          .positional('id', { type: 'string', demandOption: true, describe: 'the invocation id' })
          .option('redeliver', {
            type: 'boolean',
            default: false,
            describe: 'deliver its destination record again (after a dead letter)',
          })
          .example('$0 invocation 3f6c…', '')
          .example('$0 invocation 3f6c… --redeliver', ''),
      (args) =>
        runInvocation(
          resolveDataDir(args['data-dir'], process.env),
          args.id,
          args.redeliver,
          output(args.json),
        ),
    )
    .command(
      'logs <name>',
      "every instance's output, each line prefixed with its instance",
      (args) =>
        withName(args)
          .option('follow', {
            alias: 'f',
            type: 'boolean',
            default: false,
            describe: 'keep printing new lines',
          })
          .option('tail', {
            type: 'number',
            default: 100,
            describe: 'start from the last N lines of each instance',
          })
          .example('$0 logs shop -f --tail 10', '')
          .example('$0 logs shop --json', 'one {"instance","line"} object per line'),
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
      (args) =>
        withName(args)
          .option('tail', { type: 'number', default: 50, describe: 'the last N events' })
          .option('since', {
            type: 'string',
            describe: 'only events since then: a duration ago (10m, 2h) or a time (2026-11-26T22:00:00Z)',
          })
          .example('$0 events shop --since 10m', ''),
      (args) =>
        runEvents(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          { tail: args.tail, ...(args.since === undefined ? {} : { since: args.since }) },
          output(args.json),
        ),
    )
    .command(
      'describe <name>',
      'one function: its spec, revision, instances, recent events and last errors',
      (args) => withName(args).example('$0 describe shop', ''),
      (args) => runDescribe(resolveDataDir(args['data-dir'], process.env), args.name, output(args.json)),
    )
    .command(
      'scale <name>',
      'change the minimum and maximum instances',
      (args) =>
        withName(args)
          .option('min', { type: 'number', describe: 'instances kept when idle (0: scale to zero)' })
          .option('max', { type: 'number', describe: 'most instances under load' })
          .example('$0 scale shop --min 0 --max 4', ''),
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
      (args) =>
        withName(args)
          .option('drain', {
            type: 'boolean',
            default: false,
            describe: 'wait for its async events to be done first',
          })
          .option('discard', {
            type: 'boolean',
            describe: 'drop its async events that have not started (the count is printed)',
          })
          .example('$0 rm shop', '')
          .example('$0 rm shop --discard', 'even with async events still queued'),
      (args) => {
        if (args.drain && args.discard) throw new UsageError('--drain and --discard are exclusive: pick one');
        return runRemove(
          resolveDataDir(args['data-dir'], process.env),
          args.name,
          args.drain ? 'drain' : args.discard ? 'discard' : undefined,
          output(args.json),
        );
      },
    )
    .command(
      'wrap <image>',
      'build IMAGE-pilotlight: the image plus the adapter as one layer, started as its entrypoint',
      (args) =>
        args
          .positional('image', { type: 'string', demandOption: true, describe: 'IMAGE[:TAG] on the engine' })
          .option('tag', { type: 'string', describe: 'name of the new image (default IMAGE:TAG-pilotlight)' })
          .option('port', { type: 'number', describe: "the app's port (default: the image's EXPOSE)" })
          .example('$0 wrap shop:1.2', 'builds shop:1.2-pilotlight'),
      async (args) => {
        await runWrap({ env: process.env, image: args.image, tag: args.tag, port: args.port, log });
      },
    )
    .fail((message, error) => {
      if (error) throw error;
      const hint = dashValueHint(message, argv);
      throw new UsageError(hint ? `${message}. ${hint}` : message);
    })
    .parseAsync();
}

/** A failure as one line on stderr, or with --json as `{"error":{code,message}}` on stdout; a crash with its stack. */
function report(error: unknown, json: boolean): number {
  const known = isPilotlightError(error)
    ? { code: error.code, message: error.message, exit: EXIT.knownError }
    : error instanceof UsageError
      ? { code: 'USAGE', message: error.message, exit: EXIT.usage }
      : undefined;
  if (json) {
    const { code, message } = known ?? {
      code: 'CRASH',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
    process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
    return known?.exit ?? EXIT.crash;
  }
  if (!known) {
    process.stderr.write(`runner crashed: ${error instanceof Error ? error.stack : String(error)}\n`);
    return EXIT.crash;
  }
  process.stderr.write(
    known.code === 'USAGE' ? `runner: ${known.message}\n` : `runner: ${known.message} [${known.code}]\n`,
  );
  return known.exit;
}

/** A duration flag (`30s`, `7d`, or seconds) in ms, or a usage error naming the flag. */
function durationFlag(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new UsageError(`${flag} ${text} is not a duration: write 30m, 7d or a number of seconds`);
  return ms;
}

const argv = hideBin(process.argv);
main(argv).then(
  () => process.exit(exitCode),
  (error: unknown) => process.exit(report(error, argv.includes('--json'))),
);
