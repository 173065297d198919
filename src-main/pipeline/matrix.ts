/**
 * Matrix expansion with GitHub Actions' documented semantics:
 * 1. the cartesian product of the matrix variables, the first-defined variable varying slowest;
 * 2. `exclude`: a combination is removed when it matches every key of an exclude entry (partial match);
 * 3. `include`, entry by entry: the entry's keys are added to every ORIGINAL combination whose
 *    original-variable values the entry does not overwrite (values it added earlier may be overwritten);
 *    an entry that extends no original combination becomes a new combination of its own (and later
 *    entries never extend such added combinations).
 * A matrix with only `include` runs one combination per entry.
 */
import type { MatrixValue } from '../../shared/model/plan.js';

export type MatrixCell = string | number | boolean | null | MatrixCell[] | { [key: string]: MatrixCell };
export type Combination = Record<string, MatrixCell>;

export interface MatrixExpansion {
  combinations: Combination[];
  /** Number of combinations; when `tooLarge`, the size of the product before exclude (not expanded). */
  count: number;
  tooLarge: boolean;
}

function isObject(v: unknown): v is Record<string, MatrixCell> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function cellEquals(a: MatrixCell | undefined, b: MatrixCell | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => cellEquals(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && cellEquals(a[k], b[k]));
  }
  return false;
}

/** The matrix variables (every key but include/exclude) in definition order. */
export function matrixVariables(matrix: Record<string, unknown>): Array<[string, MatrixCell[]]> {
  return Object.entries(matrix)
    .filter(([k, v]) => k !== 'include' && k !== 'exclude' && Array.isArray(v))
    .map(([k, v]) => [k, v as MatrixCell[]]);
}

function entries(list: unknown): Combination[] {
  return Array.isArray(list) ? list.filter(isObject) : [];
}

/**
 * Expands a matrix definition (as read from YAML). When the product before `exclude` exceeds
 * `hardLimit`, nothing is expanded and `tooLarge` is set: a 50×50×50 typo must not eat memory.
 */
export function expandMatrix(matrix: Record<string, unknown>, hardLimit = 65_536): MatrixExpansion {
  const variables = matrixVariables(matrix);
  const product = variables.length === 0 ? 0 : variables.reduce((n, [, values]) => n * values.length, 1);
  if (product > hardLimit) return { combinations: [], count: product, tooLarge: true };

  let originals: Combination[] = variables.length === 0 ? [] : [{}];
  for (const [key, values] of variables) {
    const next: Combination[] = [];
    for (const combo of originals) for (const value of values) next.push({ ...combo, [key]: value });
    originals = next;
  }

  const excludes = entries(matrix.exclude);
  originals = originals.filter((combo) => !excludes.some((ex) => Object.keys(ex).every((k) => cellEquals(combo[k], ex[k]))));

  const originalKeys = new Set(variables.map(([k]) => k));
  // Original values are checked against the combination as the product made it, not as includes changed it.
  const base = originals.map((c) => ({ ...c }));
  const added: Combination[] = [];
  for (const inc of entries(matrix.include)) {
    let extended = false;
    for (let i = 0; i < originals.length; i++) {
      const fits = Object.keys(inc).every((k) => !originalKeys.has(k) || cellEquals(base[i][k], inc[k]));
      if (!fits) continue;
      Object.assign(originals[i], inc);
      extended = true;
    }
    if (!extended) added.push({ ...inc });
  }
  const combinations = [...originals, ...added];
  return { combinations, count: combinations.length, tooLarge: false };
}

function flattenInto(out: Record<string, MatrixValue>, prefix: string, cell: MatrixCell): void {
  if (isObject(cell)) {
    for (const [k, v] of Object.entries(cell)) flattenInto(out, `${prefix}.${k}`, v);
  } else if (Array.isArray(cell)) {
    out[prefix] = JSON.stringify(cell);
  } else {
    out[prefix] = cell === null ? '' : cell;
  }
}

/**
 * The plan's view of a combination: object values become dotted keys (`node: {version: 14}` →
 * `node.version: '14'`), which is also how `matrix.node.version` resolves in expressions.
 */
export function flattenCombination(combo: Combination): Record<string, MatrixValue> {
  const out: Record<string, MatrixValue> = {};
  for (const [k, v] of Object.entries(combo)) flattenInto(out, k, v);
  return out;
}

/** `node=20, os=bookworm` — the suffix of an expanded job's id and name, keys in definition order. */
export function combinationLabel(flat: Record<string, MatrixValue>): string {
  return Object.entries(flat)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}
