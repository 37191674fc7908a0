import { BadDeployError } from '../spec/deploy-request.js';
import type { SecretBox } from '../store/secret-box.js';

/**
 * The secrets of a new revision, sealed: a value given is sealed anew; a name given alone keeps the sealed
 * value of the revision before it, and is refused when there is none.
 */
export function sealSecrets(
  given: Record<string, string | null>,
  before: Record<string, string> | undefined,
  box: SecretBox,
): Record<string, string> {
  const sealed: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, value] of Object.entries(given)) {
    if (value !== null) sealed[name] = box.seal(value);
    else if (before?.[name] !== undefined) sealed[name] = before[name];
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new BadDeployError(
      missing.map(
        (name) => `secrets: ${name} has no value deployed before: give it with --secret ${name}=@FILE`,
      ),
    );
  }
  return sealed;
}
