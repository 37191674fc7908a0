import type { ProcessRunner } from '../../../host/process-runner.js';
import { SetupError } from '../../../host/setup-error.js';

export interface SharedLibraries {
  /** The dynamic loader, e.g. /lib64/ld-linux-x86-64.so.2 */
  loader: string;
  /** Every other library the binary links, as absolute host paths. */
  libraries: string[];
}

/** Parses `ldd BINARY` output into the loader and the libraries it would load. */
export function parseLdd(output: string): SharedLibraries {
  let loader: string | undefined;
  const libraries: string[] = [];
  for (const line of output.split('\n')) {
    const linked = /=>\s+(\/\S+)/.exec(line);
    if (linked?.[1]) {
      libraries.push(linked[1]);
      continue;
    }
    const bare = /^\s*(\/\S*ld-linux\S*)\s/.exec(line);
    if (bare?.[1]) loader = bare[1];
  }
  if (!loader) throw new SetupError(`cannot find the dynamic loader in ldd's output:\n${output}`);
  return { loader, libraries };
}

export async function sharedLibrariesOf(binary: string, processes: ProcessRunner): Promise<SharedLibraries> {
  const result = await processes.run('ldd', [binary]);
  if (result.exitCode !== 0) throw new SetupError(`ldd ${binary} failed: ${result.output.trim()}`);
  return parseLdd(result.output);
}
