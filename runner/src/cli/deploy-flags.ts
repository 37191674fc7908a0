import type { Argv } from 'yargs';
import { FIELDS, describeDefault, describeRange, type Field } from '../spec/function-schema.js';

/** Kinds whose flag may be given again and again, each adding an item. */
const REPEATABLE = new Set<Field['kind']>(['env', 'capabilities', 'tmpfs', 'secrets']);

/** Every schema field but the image as a `runner deploy` flag, its help made from the field's doc. */
export function withFunctionFlags<T>(args: Argv<T>): Argv<T> {
  let withFlags = args;
  for (const field of FIELDS as readonly Field[]) {
    if (field.key === 'image') continue;
    const range = describeRange(field);
    const describe = `${field.doc} (default: ${describeDefault(field)}${range ? `; allowed: ${range}` : ''})`;
    withFlags = withFlags.option(field.flag, {
      type: field.kind === 'boolean' ? 'boolean' : 'string',
      ...(REPEATABLE.has(field.kind) ? { array: true } : {}),
      ...(field.short ? { alias: field.short } : {}),
      ...(field.choices ? { choices: field.choices } : {}),
      describe,
    }) as unknown as Argv<T>;
  }
  return withFlags;
}

/** The schema fields the user gave as flags, keyed as in a spec file. */
export function functionFlags(args: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const field of FIELDS as readonly Field[]) {
    if (field.key === 'image') continue;
    const value = args[field.flag];
    if (value !== undefined) given[field.key] = value;
  }
  return given;
}
