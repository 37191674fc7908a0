import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import { projectRoot } from '../../common/project-root.js';
import { fieldsTable } from '../../runner/src/spec/function-schema.js';

/** A markdown table with its cells trimmed, so the formatter's column padding does not count. */
function cells(table: string): string[] {
  return table
    .trim()
    .split('\n')
    .filter((line) => !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .split('|')
        .map((cell) => cell.trim())
        .join('|'),
    );
}

test("the README's table of function fields is the schema's", () => {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const match = /<!-- function-fields:start -->([\s\S]*?)<!-- function-fields:end -->/.exec(readme);
  expect(match).not.toBeNull();
  // On a mismatch, the expected table below is what belongs between the markers.
  expect(cells(match![1]!)).toEqual(cells(fieldsTable()));
});
