/** Every container, image, network and volume Pilotlight creates carries these labels. */
export const LABEL_MANAGED = 'pilotlight.managed';
export const LABEL_KIND = 'pilotlight.kind';
export const LABEL_SOURCE_HASH = 'pilotlight.source-hash';
export const LABEL_TEST_RUN = 'pilotlight.test-run';
/** Instances: the runner (by its data directory's id), the function and the revision they belong to. */
export const LABEL_RUNNER = 'pilotlight.runner';
export const LABEL_FUNCTION = 'pilotlight.function';
export const LABEL_REVISION = 'pilotlight.revision';
/** Capabilities an instance has beyond the allowlist, because its function asked (comma-separated). */
export const LABEL_CAP_ADD = 'pilotlight.cap-add';

export type ResourceKind =
  'base-image' | 'sample' | 'tool-image' | 'wrapped-image' | 'instance' | 'network' | 'test';

export function managedLabels(
  kind: ResourceKind,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_KIND]: kind, ...extra };
}

/** A label filter for the Engine API's list calls, e.g. `{ label: ['pilotlight.managed=true'] }`. */
export function labelFilter(labels: Record<string, string>): { label: string[] } {
  return { label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) };
}
