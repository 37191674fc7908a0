import { SetupError } from './setup-error.js';
import type { HostFacts } from './host-facts.js';
import type { ProcessRunner } from './process-runner.js';

export interface RequiredCommand {
  command: string;
  /** One package, or several separated by spaces. */
  debianPackage: string;
  purpose: string;
}

/**
 * Makes sure each command is on PATH, installing its Debian package when the host is Debian and we are root.
 * Installs nothing when everything is already there, so a second run costs only the lookups.
 */
export async function ensureCommands(
  required: RequiredCommand[],
  host: HostFacts,
  processes: ProcessRunner,
  log: (line: string) => void,
): Promise<void> {
  const missing: RequiredCommand[] = [];
  for (const item of required) {
    if (!(await processes.which(item.command))) missing.push(item);
  }
  if (missing.length === 0) return;

  const packages = [...new Set(missing.flatMap((item) => item.debianPackage.split(' ')))];
  if (!host.isDebian || !host.isRoot) {
    const what = missing.map((item) => `${item.command} (${item.purpose})`).join(', ');
    throw new SetupError(
      `missing ${what}; install the Debian package${packages.length > 1 ? 's' : ''} ${packages.join(' ')} ` +
        `(or your system's equivalent) and run this again`,
    );
  }

  log(`installing ${packages.join(' ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const update = await processes.run('apt-get', ['update', '-q'], { env });
  if (update.exitCode !== 0) throw new SetupError(`apt-get update failed:\n${tail(update.output)}`);
  const install = await processes.run(
    'apt-get',
    ['install', '-y', '-q', '--no-install-recommends', ...packages],
    { env },
  );
  if (install.exitCode !== 0) {
    throw new SetupError(`apt-get install ${packages.join(' ')} failed:\n${tail(install.output)}`);
  }
}

function tail(output: string, lines = 15): string {
  return output.trim().split('\n').slice(-lines).join('\n');
}
