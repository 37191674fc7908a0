import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { PilotlightError } from '../../../common/pilotlight-error.js';

export class BadSpecFileError extends PilotlightError {
  constructor(path: string, detail: string) {
    super('BAD_SPEC_FILE', `${path}: ${detail}`, 400);
  }
}

/**
 * A spec file: YAML or JSON (JSON is YAML), holding one function (a map of fields) or a list of them. The
 * fields themselves are checked by the control API, all at once.
 */
export function readSpecFile(path: string): Array<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new BadSpecFileError(path, (error as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = parse(text, { prettyErrors: true });
  } catch (error) {
    throw new BadSpecFileError(path, `not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const functions = Array.isArray(parsed) ? parsed : [parsed];
  if (functions.length === 0) throw new BadSpecFileError(path, 'holds no function');
  functions.forEach((item, index) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      const where = Array.isArray(parsed) ? `item ${index + 1}` : 'the file';
      throw new BadSpecFileError(path, `${where} is not a map of fields, like \`image: shop:1\``);
    }
  });
  return functions as Array<Record<string, unknown>>;
}
