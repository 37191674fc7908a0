import { PilotlightError } from '../../../common/pilotlight-error.js';

/** CPU and memory of one container: the active (full) spec or the reserved (pilot light) one. */
export interface ResourceSpec {
  /** CPUs, fractional allowed (Docker's NanoCpus / 1e9). */
  cpus: number;
  /** Bytes. */
  memory: number;
}

export class BadSpecError extends PilotlightError {
  constructor(message: string) {
    super('BAD_SPEC', message, 400);
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "512m", "2g", "1.5g", "67108864" → bytes. */
export function parseMemory(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?$/i.exec(text.trim());
  if (!match)
    throw new BadSpecError(`${flag} ${text} is not a size: use a number with k, m or g, like 512m or 2g`);
  const bytes = Math.round(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
  if (bytes < 6 * 1024 ** 2) throw new BadSpecError(`${flag} ${text} is below Docker's minimum of 6m`);
  return bytes;
}

export function parseCpus(text: string, flag: string): number {
  const cpus = Number(text);
  if (!Number.isFinite(cpus) || cpus <= 0)
    throw new BadSpecError(`${flag} ${text} must be a positive number of CPUs, like 0.25 or 2`);
  return cpus;
}

export interface HostCapacity {
  cpus: number;
  memory: number;
}

/** A spec larger than the host is capped to it, with a warning that says what was asked and what is used. */
export function capToHost(
  spec: ResourceSpec,
  host: HostCapacity,
  what: string,
): { spec: ResourceSpec; warnings: string[] } {
  const warnings: string[] = [];
  let { cpus, memory } = spec;
  if (cpus > host.cpus) {
    warnings.push(`${what} asks for ${cpus} CPUs but this host has ${host.cpus}: using ${host.cpus}`);
    cpus = host.cpus;
  }
  if (memory > host.memory) {
    warnings.push(
      `${what} asks for ${formatBytes(memory)} but this host has ${formatBytes(host.memory)}: using ${formatBytes(host.memory)}`,
    );
    memory = host.memory;
  }
  return { spec: { cpus, memory }, warnings };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3}g`;
  if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)}m`;
  return `${Math.round(bytes / 1024)}k`;
}
