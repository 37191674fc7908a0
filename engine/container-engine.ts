import type { Readable } from 'node:stream';
import type { ContextFile } from './build-context.js';
import type { ProgressEvent } from './follow-progress.js';

/** CPU and memory limits of a container. */
export interface Resources {
  /** CPUs, fractional allowed. */
  cpus: number;
  /** Bytes; swap is held equal to it, so this is the real limit. */
  memory: number;
}

/** What a container is made from. Paths are on the engine's host. */
export interface ContainerCreate {
  name?: string;
  image: string;
  /** Replaces the image's ENTRYPOINT when given. */
  entrypoint?: string[];
  /** Replaces the image's CMD when given. */
  cmd?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** TCP ports the container declares (EXPOSE). */
  exposedPorts?: number[];
  /** TCP ports published on 127.0.0.1 at free host ports (read them back from `inspect`). */
  publishedPorts?: number[];
  /** Host folders mounted read-only. */
  readOnlyMounts?: Array<{ source: string; target: string }>;
  /** The network it joins (the engine's default bridge when absent). */
  network?: string;
  resources?: Resources;
  /** Seconds between SIGTERM and SIGKILL on stop. */
  stopTimeoutSeconds?: number;
  /** A tiny init as PID 1 that reaps zombies and forwards signals. */
  init?: boolean;
  /** What the container may do beyond Docker's own defaults: capabilities, privileges, processes, files. */
  confinement?: Confinement;
  /** Its stdout and stderr as the engine keeps them: rotated, at most maxFiles of maxFileBytes each. */
  logLimit?: { maxFileBytes: number; maxFiles: number };
  /**
   * Its stdin stays open until start() has written what it was given, then closes. Unlike the environment,
   * what goes this way is kept nowhere by the engine (not in `docker inspect`, not on its disk).
   */
  stdinAtStart?: boolean;
}

/** Linux confinement of a container (the CIS Docker Benchmark's section 5), applied at create. */
export interface Confinement {
  /** Capabilities dropped first (`ALL` for all), then those added back. */
  capDrop: string[];
  capAdd: string[];
  /** No process may gain privileges (setuid binaries, file capabilities) beyond its parent's. */
  noNewPrivileges: boolean;
  /** Most processes and threads at once in the container. */
  pidsLimit: number;
  readOnlyRootfs: boolean;
  /** tmpfs mounts: path inside → size in bytes. */
  tmpfs: Record<string, number>;
  /** UID[:GID] the container's processes run as; the image's USER when absent. */
  user?: string;
}

/** A container as the engine describes it now. */
export interface ContainerDetails {
  id: string;
  name: string;
  running: boolean;
  paused: boolean;
  /** Set once it is no longer running. */
  exitCode: number | undefined;
  oomKilled: boolean;
  resources: Resources;
  /** Its address on each network it is attached to. */
  addresses: Record<string, string>;
  labels: Record<string, string>;
  /** Container TCP port → host port on 127.0.0.1, for the ports it publishes. */
  hostPorts: Record<number, number>;
}

/** A container in a list: enough to decide what to do with it. */
export interface ContainerSummary {
  id: string;
  name: string;
  /** The engine's word: created, running, paused, restarting, removing, exited or dead. */
  state: string;
  labels: Record<string, string>;
  /** Its address on each network it is attached to, by network name. */
  addresses: Record<string, string>;
}

export interface ImageDetails {
  id: string;
  entrypoint: string[];
  cmd: string[];
  /** The TCP ports it EXPOSEs, lowest first. */
  exposedPorts: number[];
  labels: Record<string, string>;
  /** repo@sha256:… for each registry it came from. */
  repoDigests: string[];
}

export interface NetworkSummary {
  name: string;
  labels: Record<string, string>;
}

export interface RegistryCredentials {
  username: string;
  password: string;
  serveraddress: string;
}

export interface EventFilter {
  /** Container events unless said otherwise. */
  type?: 'container' | 'network';
  /** Only containers carry labels in their events: a label filter on network events would drop them all. */
  labels?: Record<string, string>;
  actions: string[];
  /** Replays events from this engine time (seconds). */
  since?: number;
}

/**
 * The container engine as Pilotlight uses it. One implementation talks to Docker (docker-engine.ts); unit
 * tests pass fakes. Calls that find their work already done answer as if they had done it: stopping a
 * stopped container, removing a gone one, pausing a paused one, unpausing one that is not paused.
 */
export interface ContainerEngine {
  /** Whether the engine answers at all. */
  ping(): Promise<boolean>;
  /** The host's CPUs and memory as the engine sees them. */
  capacity(): Promise<Resources>;

  /** Creates a container; its id. A `network` that does not exist fails with NetworkNotFoundError. */
  create(spec: ContainerCreate): Promise<string>;
  /** Starts a container; one created with `stdinAtStart` is given `stdin`, and its stdin then closes. */
  start(id: string, stdin?: string): Promise<void>;
  /** undefined when the container does not exist. */
  inspect(id: string): Promise<ContainerDetails | undefined>;
  update(id: string, resources: Resources): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after the container's stop timeout; a paused container is unpaused first. */
  stop(id: string): Promise<void>;
  /** Removes it, running or not, with its anonymous volumes. */
  remove(id: string): Promise<void>;
  /** Every container (running or not) carrying all of these labels. */
  list(labels: Record<string, string>): Promise<ContainerSummary[]>;
  /** Its last output lines, stdout and stderr interleaved. */
  logs(id: string, tail: number): Promise<string>;
  /** Follows its output from `tail` lines back; each chunk of text goes to `onText`. Returns a stop. */
  followLogs(id: string, tail: number, onText: (text: string) => void): Promise<() => void>;
  /** Memory in use as the kernel counts it for the OOM killer (usage less reclaimable page cache). */
  memoryUsage(id: string): Promise<number>;
  /** The engine's container events as newline-delimited JSON. */
  events(filter: EventFilter): Promise<NodeJS.ReadableStream>;

  /** undefined when the engine has no such image. */
  inspectImage(ref: string): Promise<ImageDetails | undefined>;
  pull(
    ref: string,
    credentials?: RegistryCredentials,
    onProgress?: (event: ProgressEvent) => void,
  ): Promise<void>;
  /** Builds the files (a Dockerfile among them) into `tag`; a failure carries the build's last lines. */
  build(files: ContextFile[], tag: string, labels: Record<string, string>): Promise<void>;
  /** Imports a root filesystem tar as `repo:tag`, with Dockerfile instructions applied. */
  importImage(tar: Readable, target: { repo: string; tag: string; changes: string[] }): Promise<void>;

  networkExists(name: string): Promise<boolean>;
  /** A bridge network; one that exists already is fine. */
  createNetwork(spec: { name: string; labels: Record<string, string>; isolated: boolean }): Promise<void>;
  removeNetwork(name: string): Promise<void>;
  listNetworks(labels: Record<string, string>): Promise<NetworkSummary[]>;
}
