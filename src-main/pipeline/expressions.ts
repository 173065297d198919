/**
 * Evaluation of Kiln expressions: job/step `if:` conditions and `${{ expr }}` templates.
 *
 * Semantics follow GitHub Actions, with two documented differences: string comparison and the
 * string functions are case-SENSITIVE (git refs are case-sensitive), and `&&`/`||` return booleans
 * only when used as conditions — inside `${{ }}` they return the deciding operand, like GitHub.
 * Values of different types compare after conversion to numbers (null → 0, true → 1, '' → 0,
 * '20' → 20, 'abc' → NaN, which equals nothing): so `matrix.node == 20` holds for '20'.
 */
import { createRequire } from 'node:module';
import type picomatch from 'picomatch';
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { MatrixValue } from '../../shared/model/plan.js';
import { ExpressionError, parseExpressionAt, STATUS_FUNCTIONS } from './expression-parser.js';
import type { Expr, Literal } from './expression-parser.js';
import { changedMatches, PathPatternError } from './path-filter.js';

export { ExpressionError } from './expression-parser.js';
export type { Expr, Literal } from './expression-parser.js';

export interface ExpressionContext {
  event: string;
  branch?: string;
  tag?: string;
  sha: string;
  repo: string;
  ref?: string;
  matrix: Record<string, MatrixValue>;
  env: Record<string, string>;
  /** Outcome of what came before (previous steps, or a job's needs). Absent means "all passed so far". */
  status?: { success: boolean; failure: boolean; cancelled: boolean };
  /** Only at run time: the outputs (and results) of the job's needs, by job key. Absent at plan time. */
  needs?: Record<string, { outputs: Record<string, string>; result?: string }>;
  /** Only inside a running job: outputs of its earlier steps, by step id. */
  steps?: Record<string, { outputs: Record<string, string> }>;
  /** Only at run time, against the checked-out workspace. Absent → calling hashFiles() is an error. */
  hashFiles?: (patterns: string[]) => string;
  /** The files the run's push or pull request changed, for changed(); absent → everything changed. */
  changes?: ChangeSet;
}

/** Parses an expression (no `${{ }}` wrapper). Throws ExpressionError with a 1-based column. */
export function parseExpression(source: string): Expr {
  return parseExpressionAt(source, 0);
}

// picomatch (CommonJS, ~8 ms to load) is required on the first glob, not at import: `kiln validate`
// parses expressions but never matches a glob, so it does not pay for it.
const requireCjs = createRequire(import.meta.url);
let isMatch: typeof picomatch.isMatch | undefined;

/** Glob matching shared by `matches()` and triggers: `*` stays within a path segment, `**` crosses them. */
export function globMatch(value: string, glob: string): boolean {
  isMatch ??= (requireCjs('picomatch') as typeof picomatch).isMatch;
  return isMatch(value, glob, { dot: true });
}

/** The string form of a value, as `${{ }}` renders it: null → '', true → 'true', 3 → '3'. */
export function toText(value: Literal): string {
  if (value === null) return '';
  return String(value);
}

export function isTruthy(value: Literal): boolean {
  if (value === null || value === false || value === '' || value === 0) return false;
  if (typeof value === 'number' && Number.isNaN(value)) return false;
  return true;
}

function toNumber(value: Literal): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  const trimmed = value.trim();
  if (trimmed === '') return 0;
  return Number(trimmed);
}

export function looseEquals(a: Literal, b: Literal): boolean {
  if (typeof a === typeof b && a !== null && b !== null) return a === b;
  if (a === null && b === null) return true;
  const x = toNumber(a);
  const y = toNumber(b);
  return !Number.isNaN(x) && !Number.isNaN(y) && x === y;
}

/** A map's own entry (never `constructor` or another inherited property). */
function own<T>(map: Record<string, T> | undefined, key: string): T | undefined {
  return map && Object.hasOwn(map, key) ? map[key] : undefined;
}

function lookup(path: string[], ctx: ExpressionContext): Literal {
  const [root, ...rest] = path;
  switch (root) {
    case 'event':
      return ctx.event;
    case 'branch':
      return ctx.branch ?? null;
    case 'tag':
      return ctx.tag ?? null;
    case 'sha':
      return ctx.sha;
    case 'repo':
      return ctx.repo;
    case 'ref':
      return ctx.ref ?? null;
    case 'matrix': {
      // Object-valued matrix entries are flattened to dotted keys (`node.version`) in the plan.
      const v = ctx.matrix[rest.join('.')];
      return v === undefined ? null : v;
    }
    case 'env': {
      const v = ctx.env[rest.join('.')];
      return v === undefined ? null : v;
    }
    case 'needs': {
      const need = own(ctx.needs, rest[0]);
      return (rest[1] === 'result' ? need?.result : own(need?.outputs, rest[2])) ?? null;
    }
    case 'steps':
      return own(own(ctx.steps, rest[0])?.outputs, rest[2]) ?? null;
    default:
      return null;
  }
}

function status(ctx: ExpressionContext) {
  return ctx.status ?? { success: true, failure: false, cancelled: false };
}

function evaluate(expr: Expr, ctx: ExpressionContext): Literal {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'ident':
      return lookup(expr.path, ctx);
    case 'not':
      return !isTruthy(evaluate(expr.operand, ctx));
    case 'binary': {
      if (expr.op === '&&') {
        const left = evaluate(expr.left, ctx);
        return isTruthy(left) ? evaluate(expr.right, ctx) : left;
      }
      if (expr.op === '||') {
        const left = evaluate(expr.left, ctx);
        return isTruthy(left) ? left : evaluate(expr.right, ctx);
      }
      const eq = looseEquals(evaluate(expr.left, ctx), evaluate(expr.right, ctx));
      return expr.op === '==' ? eq : !eq;
    }
    case 'call':
      return call(expr, ctx);
  }
}

function call(expr: Extract<Expr, { kind: 'call' }>, ctx: ExpressionContext): Literal {
  const text = () => expr.args.map((a) => toText(evaluate(a, ctx)));
  switch (expr.name) {
    case 'startsWith': {
      const [a, b] = text();
      return a.startsWith(b);
    }
    case 'endsWith': {
      const [a, b] = text();
      return a.endsWith(b);
    }
    case 'contains': {
      const [a, b] = text();
      return a.includes(b);
    }
    case 'matches': {
      const [a, b] = text();
      return globMatch(a, b);
    }
    case 'hashFiles': {
      if (!ctx.hashFiles) throw new ExpressionError('hashFiles() is only available in cache.key (it needs the checked-out workspace)', expr.col);
      return ctx.hashFiles(text());
    }
    case 'changed':
      try {
        return changedMatches(ctx.changes, text());
      } catch (e) {
        if (e instanceof PathPatternError) throw new ExpressionError(`changed(): ${e.reason}`, expr.col);
        throw e;
      }
    case 'success':
      return status(ctx).success;
    case 'failure':
      return status(ctx).failure;
    case 'cancelled':
      return status(ctx).cancelled;
    case 'always':
      return true;
    default:
      throw new ExpressionError(`unknown function '${expr.name}'`, expr.col);
  }
}

/** Evaluates a parsed expression to its value (for `${{ }}`; no implicit success()). */
export function evaluateExpr(expr: Expr, ctx: ExpressionContext): Literal {
  return evaluate(expr, ctx);
}

/** Parses and evaluates one expression (no `${{ }}` wrapper) to its value. */
export function evaluateExpression(source: string, ctx: ExpressionContext): Literal {
  return evaluate(parseExpression(source), ctx);
}

function walk(expr: Expr, visit: (e: Expr) => boolean): boolean {
  if (visit(expr)) return true;
  switch (expr.kind) {
    case 'not':
      return walk(expr.operand, visit);
    case 'binary':
      return walk(expr.left, visit) || walk(expr.right, visit);
    case 'call':
      return expr.args.some((a) => walk(a, visit));
    default:
      return false;
  }
}

export function exprUsesStatusFunctions(expr: Expr): boolean {
  return walk(expr, (e) => e.kind === 'call' && (STATUS_FUNCTIONS as readonly string[]).includes(e.name));
}

/**
 * The expression inside a condition source, with its column offset: `if:` may be written bare
 * (`branch == 'main'`) or wrapped (`${{ branch == 'main' }}`), as in GitHub Actions.
 */
export function conditionBody(source: string): { body: string; offset: number } {
  const trimmedStart = source.length - source.trimStart().length;
  const trimmed = source.trim();
  if (trimmed.startsWith('${{') && trimmed.endsWith('}}')) {
    const parts = splitTemplate(trimmed);
    if (parts.length === 1 && parts[0].kind === 'expr') return { body: parts[0].source, offset: trimmedStart + parts[0].offset };
  }
  return { body: source, offset: 0 };
}

/** Parses a condition (bare or `${{ }}`-wrapped); columns are relative to `source`. Empty → success(). */
export function parseCondition(source: string): Expr {
  if (source.trim() === '') return { kind: 'call', name: 'success', args: [], col: 1 };
  const { body, offset } = conditionBody(source);
  return parseExpressionAt(body, offset);
}

/** True when the condition explicitly calls success() failure() always() or cancelled() (empty → false). Never throws. */
export function usesStatusFunctions(source: string): boolean {
  if (source.trim() === '') return false;
  try {
    return exprUsesStatusFunctions(parseCondition(source));
  } catch {
    return /\b(success|failure|always|cancelled)\s*\(/.test(source);
  }
}

/**
 * Evaluates a job or step condition to a boolean. Empty source means `success()`. Like GitHub
 * Actions, a condition that calls no status function is implicitly `success() && (condition)`,
 * so `if: branch == 'main'` does not run after a failure. Throws ExpressionError when malformed.
 */
export function evaluateCondition(source: string, ctx: ExpressionContext): boolean {
  const expr = parseCondition(source);
  if (!exprUsesStatusFunctions(expr) && !status(ctx).success) return false;
  return isTruthy(evaluate(expr, ctx));
}

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'expr'; source: string; offset: number };

/**
 * Splits `a ${{ x }} b` into text and expression parts. `offset` is the 0-based index of the
 * expression's first character in the template (add 1 for a column). A `}}` inside a quoted
 * string does not end the expression. Throws ExpressionError for an unterminated `${{`.
 */
export function splitTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('${{', i)) {
      const start = i + 3;
      const end = findClose(template, start);
      if (end < 0) throw new ExpressionError("unterminated '${{' (missing '}}')", i + 1);
      if (text) parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'expr', source: template.slice(start, end), offset: start });
      i = end + 2;
      continue;
    }
    text += template[i];
    i++;
  }
  if (text) parts.push({ kind: 'text', text });
  return parts;
}

/** Index of the `}}` ending an expression that starts at `from`, skipping quoted strings; -1 if none. */
export function findClose(s: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '}' && s[i + 1] === '}') return i;
  }
  return -1;
}

/** Replaces every `${{ expr }}` with the string value of the expression. Throws ExpressionError. */
export function renderTemplate(template: string, ctx: ExpressionContext): string {
  let out = '';
  for (const part of splitTemplate(template)) {
    if (part.kind === 'text') out += part.text;
    else out += toText(evaluate(parseExpressionAt(part.source, part.offset), ctx));
  }
  return out;
}
