import { functionFlags } from './deploy-flags.js';
import { readSecrets } from './secret-files.js';
import { UsageError } from './usage-error.js';
import type { DeployRequest } from '../spec/deploy-request.js';
import { readEnvFile } from '../spec/env-file.js';
import { readSpecFile } from '../spec/spec-file.js';

/** One deploy request per function: the spec file's (if any), the env files, then the flags on top. */
export function deployRequests(
  args: Record<string, unknown> & { image?: string; file?: string; 'env-file'?: string[] },
  auth: DeployRequest['auth'],
): DeployRequest[] {
  const flags = functionFlags(args);
  const documents = args.file ? readSpecFile(args.file) : [{}];
  if (documents.length > 1 && flags['name'] !== undefined) {
    throw new UsageError(
      `--name cannot name all ${documents.length} functions of ${args.file}: set name: in the file`,
    );
  }
  const fromEnvFiles = (args['env-file'] ?? []).flatMap((path) => readEnvFile(path, process.env));
  return documents.map((document) => {
    const image = args.image ?? document['image'];
    if (typeof image !== 'string' || !image) {
      throw new UsageError(
        'name an image: runner deploy IMAGE[:TAG], or a spec file with `image:` (-f FILE)',
      );
    }
    const merged: DeployRequest = { ...document, ...flags, image };
    const secrets = readSecrets(flags['secrets'] as string[] | undefined, document['secrets'], args.file);
    if (secrets) merged.secrets = secrets;
    const fileEnv = document['env'];
    // Env adds up, as with docker run: the file's, then the env files', then -e (a later KEY wins).
    if (fileEnv === undefined || Array.isArray(fileEnv) || isMap(fileEnv)) {
      const env = [
        ...envEntries(fileEnv),
        ...fromEnvFiles,
        ...((flags['env'] as string[] | undefined) ?? []),
      ];
      if (env.length > 0) merged.env = env;
    }
    return auth ? { ...merged, auth: { ...auth, serveraddress: image.split('/')[0]! } } : merged;
  });
}

function isMap(value: unknown): value is Record<string, unknown> {
  return Boolean(value) && typeof value === 'object' && !Array.isArray(value);
}

/** A file's env, a list of KEY=VALUE or a map, as KEY=VALUE entries (anything else is left to the API to refuse). */
function envEntries(env: unknown): string[] {
  if (Array.isArray(env)) return env.map(String);
  if (isMap(env)) return Object.entries(env).map(([key, value]) => `${key}=${String(value)}`);
  return [];
}

/** --username with --password-stdin, or (with a warning, as docker login says) --password. */
export async function registryCredentials(
  args: { username?: string; password?: string; 'password-stdin': boolean },
  log: (line: string) => void,
): Promise<DeployRequest['auth']> {
  if (args.password === '') {
    throw new UsageError('--password needs a value: --password=VALUE, or better, --password-stdin');
  }
  if (args['password-stdin'] && args.password !== undefined) {
    throw new UsageError('--password and --password-stdin are exclusive: give the password one way');
  }
  if (args.username === undefined) {
    if (args.password !== undefined || args['password-stdin'])
      throw new UsageError('a password needs --username');
    return undefined;
  }
  if (args.password !== undefined)
    log('warning: using --password on the command line is insecure: use --password-stdin');
  const password = args['password-stdin'] ? (await readStdin()).replace(/\r?\n$/, '') : (args.password ?? '');
  return { username: args.username, password, serveraddress: '' };
}

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
