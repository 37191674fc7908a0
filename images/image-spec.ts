import type { ResourceKind } from '../engine/labels.js';

/** An image the project builds from a folder with a Dockerfile. */
export interface ImageSpec {
  /** Repository and tag, e.g. `pilotlight/sample-express:latest`. */
  ref: string;
  kind: ResourceKind;
  /** Absolute path of the build context. */
  contextDir: string;
  /** Work done on the host before the context is read (npm dependencies cannot be fetched inside builds). */
  prepare?: () => Promise<void>;
}
