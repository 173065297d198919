/**
 * Variable substitution for fields OUTSIDE `run` (image, env values, service fields, cache key,
 * artifact paths, concurrency group), and the injection-safe treatment of `run` scripts.
 *
 * Outside `run`: `${VAR}`, `$VAR`, `${VAR:-default}` (unset or empty → default), `${VAR-default}`
 * (unset → default), `${VAR:?message}` / `${VAR?message}` (error naming the field), `$$` → `$`,
 * `${{ expr }}` → the expression's value. An unknown `${VAR}`/`$VAR` becomes '' with a warning.
 *
 * Inside `run`: nothing is spliced. Each `${{ expr }}` becomes `${KILN_EXPR_n}` and its value goes
 * into the step's environment; `$VAR`, `$$` and everything else are left for the shell.
 */
import { ExpressionError, parseExpressionAt } from './expression-parser.js';
import type { Expr } from './expression-parser.js';
import { evaluateExpr, findClose, toText } from './expressions.js';
import type { ExpressionContext } from './expressions.js';
import { identifiersOf, readsOutputs } from './flow.js';

export type VariableProblem =
  | { kind: 'required'; name: string; message: string; col: number }
  | { kind: 'undefined'; name: string; col: number }
  | { kind: 'expression'; message: string; col: number }
  | { kind: 'syntax'; message: string; col: number };

export interface SubstituteOptions {
  vars: Record<string, string>;
  /** Absent: syntax check only (expressions parsed, not evaluated; unknown variables not reported). */
  ctx?: ExpressionContext;
  /** Keep `${{ … hashFiles(…) … }}` verbatim for run-time rendering (cache keys). */
  keepHashFiles?: boolean;
}

export interface SubstituteResult {
  value: string;
  problems: VariableProblem[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function usesHashFiles(expr: Expr): boolean {
  switch (expr.kind) {
    case 'call':
      return expr.name === 'hashFiles' || expr.args.some(usesHashFiles);
    case 'not':
      return usesHashFiles(expr.operand);
    case 'binary':
      return usesHashFiles(expr.left) || usesHashFiles(expr.right);
    default:
      return false;
  }
}

/** Index of the `}` closing the `${` whose `{` is at `open`, counting nested braces; -1 if none. */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function expressionValue(text: string, start: number, opts: SubstituteOptions, problems: VariableProblem[]): { value: string; end: number } {
  const end = findClose(text, start + 3);
  if (end < 0) {
    problems.push({ kind: 'syntax', message: "unterminated '${{' (missing '}}')", col: start + 1 });
    return { value: text.slice(start), end: text.length };
  }
  const source = text.slice(start + 3, end);
  try {
    const expr = parseExpressionAt(source, start + 3);
    // Outputs exist only at run time: kept for flow.ts's withNeedsOutputs (needs) and the executor (steps).
    const later = (opts.keepHashFiles && usesHashFiles(expr)) || (!opts.ctx?.needs && !opts.ctx?.steps && readsOutputs(identifiersOf(expr)));
    if (!opts.ctx || later) return { value: text.slice(start, end + 2), end: end + 2 };
    return { value: toText(evaluateExpr(expr, opts.ctx)), end: end + 2 };
  } catch (e) {
    if (!(e instanceof ExpressionError)) throw e;
    problems.push({ kind: 'expression', message: e.reason, col: e.col });
    return { value: '', end: end + 2 };
  }
}

/** Substitutes variables and expressions in a field outside `run`. Never throws. */
export function substituteVariables(text: string, opts: SubstituteOptions): SubstituteResult {
  if (!text.includes('$')) return { value: text, problems: [] };
  const problems: VariableProblem[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{' && text[i + 2] === '{') {
      if (findClose(text, i + 3) < 0) {
        problems.push({ kind: 'syntax', message: "unterminated '${{' (missing '}}')", col: i + 1 });
        out += text.slice(i);
        break;
      }
      const r = expressionValue(text, i, opts, problems);
      out += r.value;
      i = r.end;
      continue;
    }
    if (next === '{') {
      const close = closingBrace(text, i + 1);
      if (close < 0) {
        problems.push({ kind: 'syntax', message: "unterminated '${' (missing '}')", col: i + 1 });
        out += text.slice(i);
        break;
      }
      out += reference(text.slice(i + 2, close), i + 1, opts, problems);
      i = close + 1;
      continue;
    }
    const name = NAME.exec(text.slice(i + 1));
    if (name) {
      out += lookup(name[0], i + 1, opts, problems);
      i += 1 + name[0].length;
      continue;
    }
    out += '$';
    i++;
  }
  return { value: out, problems };
}

function lookup(name: string, col: number, opts: SubstituteOptions, problems: VariableProblem[]): string {
  const v = opts.vars[name];
  if (v === undefined) {
    if (opts.ctx) problems.push({ kind: 'undefined', name, col });
    return '';
  }
  return v;
}

/** The inside of `${…}`: NAME, NAME:-word, NAME-word, NAME:?msg, NAME?msg. */
function reference(body: string, col: number, opts: SubstituteOptions, problems: VariableProblem[]): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([\s\S]*))?$/.exec(body);
  if (!m) {
    problems.push({ kind: 'syntax', message: `invalid variable reference '\${${body}}' (use \${NAME}, \${NAME:-default} or \${NAME:?message})`, col });
    return '';
  }
  const [, name, colon, op, word = ''] = m;
  if (!op) return lookup(name, col, opts, problems);
  const value = opts.vars[name];
  const missing = value === undefined || (colon === ':' && value === '');
  if (!missing) return value;
  // The word may itself hold variables: `${A:-${B}}`.
  const inner = substituteVariables(word, opts);
  problems.push(...inner.problems.map((p) => ({ ...p, col: col + 2 + name.length + colon.length + 1 + p.col - 1 })));
  if (op === '-') return inner.value;
  if (opts.ctx) {
    const message = inner.value.trim() || 'is required but not set';
    problems.push({ kind: 'required', name, message, col });
  }
  return '';
}

export interface RunScript {
  /** The script with every `${{ expr }}` replaced by `${KILN_EXPR_n}`. */
  run: string;
  /** KILN_EXPR_n → value. */
  env: Record<string, string>;
  problems: VariableProblem[];
}

/**
 * Prepares a `run` script: expressions become environment variables (`${KILN_EXPR_0}`, …) so that
 * values such as a branch name `x;$(touch${IFS}/tmp/pwned)` reach the shell as data, never as code.
 * Without `ctx` only the syntax is checked. Never throws.
 */
export function prepareRunScript(script: string, ctx?: ExpressionContext): RunScript {
  if (!script.includes('${{')) return { run: script, env: {}, problems: [] };
  const problems: VariableProblem[] = [];
  const env: Record<string, string> = {};
  let run = '';
  let n = 0;
  let i = 0;
  while (i < script.length) {
    if (!script.startsWith('${{', i)) {
      run += script[i];
      i++;
      continue;
    }
    if (findClose(script, i + 3) < 0) {
      problems.push({ kind: 'syntax', message: "unterminated '${{' (missing '}}')", col: i + 1 });
      run += script.slice(i);
      break;
    }
    const r = expressionValue(script, i, { vars: {}, ctx }, problems);
    const name = `KILN_EXPR_${n++}`;
    env[name] = ctx ? r.value : '';
    run += `\${${name}}`;
    i = r.end;
  }
  return { run, env, problems };
}
