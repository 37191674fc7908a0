/** CPU and memory of one container: the active (full) spec or the reserved (pilot light) one. */
export interface ResourceSpec {
  /** CPUs, fractional allowed (Docker's NanoCpus / 1e9). */
  cpus: number;
  /** Bytes. */
  memory: number;
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
