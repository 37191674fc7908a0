import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './usage-error.js';

/**
 * `--secret NAME=@FILE` flags and a spec file's `secrets:` (a map of NAME: '@FILE', or a list of names), with
 * each file read here so only its content travels to the runner. A name alone keeps the value deployed before.
 * A value written out is refused: on the command line it would show in `ps` and the shell's history.
 */
export function readSecrets(
  flags: string[] | undefined,
  fromSpecFile: unknown,
  specFile: string | undefined,
): Record<string, string | null> | undefined {
  if (flags === undefined && fromSpecFile === undefined) return undefined;
  const secrets: Record<string, string | null> = {};
  const base = specFile ? dirname(resolve(specFile)) : process.cwd();
  for (const [name, reference] of specFileEntries(fromSpecFile, specFile)) {
    secrets[name] =
      reference === null ? null : readSecret(name, reference, base, `${specFile}: secrets.${name}`);
  }
  for (const flag of flags ?? []) {
    const eq = flag.indexOf('=');
    if (eq === -1) {
      secrets[flag] = null;
      continue;
    }
    const name = flag.slice(0, eq);
    secrets[name] = readSecret(name, flag.slice(eq + 1), process.cwd(), `--secret ${name}`);
  }
  return secrets;
}

function specFileEntries(value: unknown, specFile: string | undefined): Array<[string, string | null]> {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((name) => [String(name), null]);
  if (typeof value === 'object') {
    return Object.entries(value).map(([name, reference]) => [
      name,
      reference === null ? null : String(reference),
    ]);
  }
  throw new UsageError(`${specFile}: secrets must map names to '@FILE', or list names`);
}

/** The file's content, less one final newline (as `echo value > file` leaves it). */
function readSecret(name: string, reference: string, base: string, where: string): string {
  if (!reference.startsWith('@') || reference.length === 1) {
    throw new UsageError(
      `${where}: give the value in a file, as ${name}=@FILE, so it never shows in ps or the shell's history`,
    );
  }
  const path = resolve(base, reference.slice(1));
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new UsageError(
      `${where}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
