import { parseStatusRanges, type StatusRanges } from './status-ranges.js';
import { ADAPTER_PORT } from '../contract/contract.js';

/** A hook or initializer: an HTTP path on the app, or a command run inside the container. */
export type HookTarget = { kind: 'path'; path: string } | { kind: 'command'; command: string[] } | undefined;

export interface AdapterConfig {
  port: number;
  host: string;
  appHost: string;
  appPort: number;
  /** The app's ENTRYPOINT + CMD; empty when the app is started by someone else. */
  appCommand: string[];
  readiness: { kind: 'http'; path: string; healthy: StatusRanges } | { kind: 'tcp' };
  readinessIntervalMs: number;
  startupTimeoutMs: number;
  eventsPath: string;
  errorStatuses: StatusRanges;
  initializer: HookTarget;
  initializeTimeoutMs: number;
  preStop: HookTarget;
  preFreeze: HookTarget;
  hookTimeoutMs: number;
  drainTimeoutMs: number;
  maxInflight: number;
  maxQueued: number;
  requestTimeoutMs: number;
  maxEventBytes: number;
  /** Largest request body passed to the app; 0: no limit. */
  maxBodyBytes: number;
  context: { function: string; revision: string; instance: string };
  accessLog: boolean;
  /** Most bytes a second of the app's output kept (a burst of 4 s of it allowed); more is dropped and counted. 0: no limit. */
  logBytesPerSecond: number;
}

export class AdapterConfigError extends Error {
  readonly code = 'ADAPTER_CONFIG';
}

const MAX_REQUEST_TIMEOUT_MS = 2 * 60 * 60 * 1000;

/** Reads the adapter's settings from an env map and its argv (the app's CMD). Never reads process.env. */
export function parseAdapterConfig(
  env: Record<string, string | undefined>,
  argv: string[] = [],
): AdapterConfig {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const appEntrypoint = read.jsonArray('PILOTLIGHT_APP_ENTRYPOINT');
  const maxInflight = read.int('PILOTLIGHT_MAX_INFLIGHT', 0, 0);
  const readinessKind = read.choice('PILOTLIGHT_READINESS', ['http', 'tcp'] as const, 'http');
  const config: AdapterConfig = {
    port: read.int('PILOTLIGHT_PORT', ADAPTER_PORT, 0, 65535), // 0 picks a free port
    host: read.string('PILOTLIGHT_HOST', '0.0.0.0'),
    appHost: read.string('PILOTLIGHT_APP_HOST', '127.0.0.1'),
    appPort: read.port('PILOTLIGHT_APP_PORT', Number(env['PORT']) || 8080),
    appCommand: [...appEntrypoint, ...argv],
    readiness:
      readinessKind === 'tcp'
        ? { kind: 'tcp' }
        : {
            kind: 'http',
            path: read.path('PILOTLIGHT_READINESS_PATH', '/'),
            healthy: read.ranges('PILOTLIGHT_READINESS_STATUS', '100-499'),
          },
    readinessIntervalMs: read.int('PILOTLIGHT_READINESS_INTERVAL_MS', 10, 1),
    startupTimeoutMs: read.int('PILOTLIGHT_STARTUP_TIMEOUT_MS', 120_000, 1),
    eventsPath: read.path('PILOTLIGHT_EVENTS_PATH', '/events'),
    errorStatuses: read.ranges('PILOTLIGHT_ERROR_STATUSES', '500-599'),
    initializer: read.hook('PILOTLIGHT_INITIALIZER'),
    initializeTimeoutMs: read.int('PILOTLIGHT_INITIALIZE_TIMEOUT_MS', 300_000, 1),
    preStop: read.hook('PILOTLIGHT_PRE_STOP'),
    preFreeze: read.hook('PILOTLIGHT_PRE_FREEZE'),
    hookTimeoutMs: read.int('PILOTLIGHT_HOOK_TIMEOUT_MS', 10_000, 1),
    drainTimeoutMs: read.int('PILOTLIGHT_DRAIN_TIMEOUT_MS', 30_000, 0),
    maxInflight,
    maxQueued: read.int('PILOTLIGHT_MAX_QUEUED', maxInflight * 10, 0),
    requestTimeoutMs: read.int('PILOTLIGHT_REQUEST_TIMEOUT_MS', 300_000, 1, MAX_REQUEST_TIMEOUT_MS),
    maxEventBytes: read.int('PILOTLIGHT_MAX_EVENT_BYTES', 32 * 1024 * 1024, 1),
    maxBodyBytes: read.int('PILOTLIGHT_MAX_BODY_BYTES', 0, 0),
    context: {
      function: read.string('PILOTLIGHT_FUNCTION', ''),
      revision: read.string('PILOTLIGHT_REVISION', ''),
      instance: read.string('PILOTLIGHT_INSTANCE', env['HOSTNAME'] ?? ''),
    },
    accessLog: read.choice('PILOTLIGHT_ACCESS_LOG', ['0', '1'] as const, '0') === '1',
    logBytesPerSecond: read.int('PILOTLIGHT_LOG_RATE', 2 * 1024 * 1024, 0),
  };
  if (config.port === config.appPort) {
    problems.push(`PILOTLIGHT_PORT and the app port are both ${config.port}: give the app another port`);
  }
  if (problems.length > 0) throw new AdapterConfigError(`bad adapter settings: ${problems.join('; ')}`);
  return config;
}

class EnvReader {
  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly problems: string[],
  ) {}

  string(name: string, fallback: string): string {
    return this.env[name] ?? fallback;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${raw} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, 1, 65535);
  }

  path(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (!value.startsWith('/')) this.problems.push(`${name}=${value} must start with /`);
    return value;
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name}=${raw} must be one of ${choices.join(', ')}`);
    return fallback;
  }

  ranges(name: string, fallback: string): StatusRanges {
    try {
      return parseStatusRanges(this.string(name, fallback));
    } catch (error) {
      this.problems.push(`${name}: ${(error as Error).message}`);
      return parseStatusRanges(fallback);
    }
  }

  jsonArray(name: string): string[] {
    const raw = this.env[name];
    if (raw === undefined || raw === '' || raw === 'null') return [];
    try {
      const value: unknown = JSON.parse(raw);
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
    } catch {
      // reported below
    }
    this.problems.push(`${name} must be a JSON array of strings, like ["node","server.js"]`);
    return [];
  }

  /** "path:/init" or "command:[\"sh\",\"-c\",\"...\"]" (a JSON array) or "command:/bin/warm-up". */
  hook(name: string): HookTarget {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return undefined;
    if (raw.startsWith('path:/')) return { kind: 'path', path: raw.slice('path:'.length) };
    if (raw.startsWith('command:')) {
      const rest = raw.slice('command:'.length).trim();
      if (rest.startsWith('[')) {
        const command = new EnvReader({ [name]: rest }, this.problems).jsonArray(name);
        return command.length > 0 ? { kind: 'command', command } : undefined;
      }
      if (rest) return { kind: 'command', command: [rest] };
    }
    this.problems.push(`${name}=${raw} must be path:/some/path or command:["program","arg"]`);
    return undefined;
  }
}
