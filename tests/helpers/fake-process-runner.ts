import type { ProcessRunner, RunResult } from '../../host/process-runner.js';

/** Records every command; commands on `installed` are found by which(); apt-get install adds packages. */
export class FakeProcessRunner implements ProcessRunner {
  readonly calls: string[] = [];
  readonly spawned: string[] = [];
  constructor(
    readonly installed: Set<string>,
    private readonly results: Record<string, RunResult> = {},
    private readonly onSpawn: () => void = () => {},
  ) {}

  async run(command: string, args: string[]): Promise<RunResult> {
    const line = [command, ...args].join(' ');
    this.calls.push(line);
    const scripted = Object.entries(this.results).find(([prefix]) => line.startsWith(prefix));
    if (scripted) return scripted[1];
    if (command === 'apt-get' && args[0] === 'install') {
      for (const name of args.filter((arg) => !arg.startsWith('-')).slice(1)) {
        this.installed.add(name === 'docker.io' ? 'dockerd' : name);
      }
    }
    return { exitCode: 0, output: '' };
  }

  spawnDetached(command: string, args: string[]): void {
    this.spawned.push([command, ...args].join(' '));
    this.onSpawn();
  }

  async which(command: string): Promise<string | undefined> {
    return this.installed.has(command) ? `/usr/bin/${command}` : undefined;
  }
}
