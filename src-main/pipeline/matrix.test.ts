import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { combinationLabel, expandMatrix, flattenCombination } from './matrix.js';
import { readYaml } from './yaml-source.js';

// The copies under testdata/ keep a clean clone self-contained; when the project's shared fixtures sit
// beside the repository (../shared/fixtures/matrix), any case added there is tested as well.
const dirs = [join(import.meta.dirname, 'testdata', 'matrix'), join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'matrix')];
const files = new Map<string, string>();
for (const dir of dirs.filter((d) => existsSync(d))) {
  for (const f of readdirSync(dir).filter((name) => name.endsWith('.yaml'))) if (!files.has(f)) files.set(f, join(dir, f));
}
const cases = [...files.keys()]
  .sort()
  .map((f) => {
    // Read with Kiln's own YAML reading, so inputs and expectations get the same scalar policy.
    const { source, diagnostics } = readYaml(readFileSync(files.get(f) as string, 'utf8'), f);
    expect(diagnostics).toEqual([]);
    const data = source.data as { matrix: Record<string, unknown>; expected: unknown[] };
    return [f, data.matrix, data.expected] as const;
  });

describe('expandMatrix with GitHub documentation examples', () => {
  it('has the shared fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(4);
  });

  it.each(cases)('%s expands to exactly the documented combinations, in order', (_file, matrix, expected) => {
    const r = expandMatrix(matrix);
    expect(r.tooLarge).toBe(false);
    expect(r.combinations).toEqual(expected);
    expect(r.count).toBe(expected.length);
  });

  // "Example: Expanding configurations" (docs.github.com, Running variations of jobs in a workflow):
  // the documented explanation of each include entry is quoted in the comments.
  it('applies include entries one by one as the documented fruit/animal example explains', () => {
    const matrix = {
      fruit: ['apple', 'pear'],
      animal: ['cat', 'dog'],
      include: [
        { color: 'green' }, // added to all original combinations
        { color: 'pink', animal: 'cat' }, // only to cat combinations; overwrites the added 'green'
        { fruit: 'apple', shape: 'circle' }, // only to apple combinations
        { fruit: 'banana' }, // cannot extend any without overwriting: a new combination
        { fruit: 'banana', animal: 'cat' }, // not added to the {fruit: banana} combination: that one is not original
      ],
    };
    expect(expandMatrix(matrix).combinations).toEqual([
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' },
    ]);
  });

  it('removes partial matches with exclude before include', () => {
    const matrix = {
      os: ['macos', 'windows'],
      version: ['12', '14', '16'],
      environment: ['staging', 'production'],
      exclude: [{ os: 'macos', version: '12', environment: 'production' }, { os: 'windows', version: '16' }],
    };
    const r = expandMatrix(matrix);
    expect(r.count).toBe(12 - 1 - 2);
    expect(r.combinations).not.toContainEqual({ os: 'macos', version: '12', environment: 'production' });
    expect(r.combinations.filter((c) => c.os === 'windows' && c.version === '16')).toEqual([]);
  });

  it('lets include re-add a combination that exclude removed, as a new combination', () => {
    const r = expandMatrix({ a: ['1', '2'], exclude: [{ a: '2' }], include: [{ a: '2', extra: 'x' }] });
    expect(r.combinations).toEqual([{ a: '1' }, { a: '2', extra: 'x' }]);
  });

  it('matches include entries against object values as a whole', () => {
    const r = expandMatrix({ node: [{ version: '14' }, { version: '20' }], include: [{ node: { version: '20' }, lts: true }] });
    expect(r.combinations).toEqual([{ node: { version: '14' } }, { node: { version: '20' }, lts: true }]);
  });

  it('refuses to expand a product beyond the hard limit', () => {
    const values = Array.from({ length: 50 }, (_, i) => String(i));
    const r = expandMatrix({ a: values, b: values, c: values }, 65_536);
    expect(r).toEqual({ combinations: [], count: 125_000, tooLarge: true });
  });

  it('yields nothing for an empty matrix', () => {
    expect(expandMatrix({}).combinations).toEqual([]);
  });
});

describe('flattenCombination and combinationLabel', () => {
  it('flattens object values to dotted keys and labels in definition order', () => {
    const flat = flattenCombination({ os: 'ubuntu-latest', node: { version: '20', env: 'X=1' }, experimental: true });
    expect(flat).toEqual({ os: 'ubuntu-latest', 'node.version': '20', 'node.env': 'X=1', experimental: true });
    expect(combinationLabel(flat)).toBe('os=ubuntu-latest, node.version=20, node.env=X=1, experimental=true');
  });
});
