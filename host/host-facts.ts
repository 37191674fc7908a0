import { existsSync } from 'node:fs';

export interface HostFacts {
  isDebian: boolean;
  isRoot: boolean;
}

export function readHostFacts(): HostFacts {
  return { isDebian: existsSync('/etc/debian_version'), isRoot: process.getuid?.() === 0 };
}
