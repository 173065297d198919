/**
 * Validation of the changed-file features, kept apart from semantic-checks.ts: the path patterns
 * of `on.push` / `on.pull_request` (GitHub's syntax, see path-filter.ts), GitHub's rule that one
 * event has `paths` or `paths-ignore` but not both, and `changed()` — allowed in a job's `if:` only
 * (the changed files are known when the run is planned, not inside a container), with its literal
 * patterns checked like the filters'. Every access is defensive: it runs on unvalidated data.
 */
import type { Diagnostic, DiagnosticCode } from '../../shared/diagnostics.js';
import { ExpressionError } from './expression-parser.js';
import type { Expr } from './expression-parser.js';
import { parseCondition } from './expressions.js';
import { pathPatternProblem } from './path-filter.js';
import { keyPositionOf, positionInScalar, positionOf } from './yaml-source.js';
import type { Path, Position, YamlSource } from './yaml-source.js';

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Every call of `name` in an expression. */
function callsOf(expr: Expr, name: string, out: Extract<Expr, { kind: 'call' }>[] = []): Extract<Expr, { kind: 'call' }>[] {
  if (expr.kind === 'call') {
    if (expr.name === name) out.push(expr);
    for (const a of expr.args) callsOf(a, name, out);
  } else if (expr.kind === 'not') callsOf(expr.operand, name, out);
  else if (expr.kind === 'binary') {
    callsOf(expr.left, name, out);
    callsOf(expr.right, name, out);
  }
  return out;
}

function changedCalls(source: unknown): Extract<Expr, { kind: 'call' }>[] {
  if (typeof source !== 'string' || !source.includes('changed')) return [];
  try {
    return callsOf(parseCondition(source), 'changed');
  } catch (e) {
    if (e instanceof ExpressionError) return []; // reported by semantic-checks.ts
    throw e;
  }
}

export function pathFilterChecks(source: YamlSource): Diagnostic[] {
  const out: Diagnostic[] = [];
  const emit = (code: DiagnosticCode, pos: Position, message: string) =>
    out.push({ code, severity: 'error', message, file: pos.file ?? source.file, line: pos.line, col: pos.col });
  const root = rec(source.data);
  const on = rec(root.on);
  for (const event of ['push', 'pull_request']) {
    const filter = rec(on[event]);
    if ('paths' in filter && 'paths-ignore' in filter) {
      emit('INVALID_VALUE', keyPositionOf(source, ['on', event, 'paths-ignore']),
        `on.${event}: use paths or paths-ignore, not both (as in GitHub Actions); to leave files out of paths, list them with a leading '!'`);
    }
    for (const key of ['paths', 'paths-ignore']) {
      list(filter[key]).forEach((p, i) => {
        if (typeof p !== 'string') return;
        const problem = pathPatternProblem(p);
        if (problem) emit('INVALID_VALUE', positionOf(source, ['on', event, key, i]), `on.${event}.${key}[${i}]: '${p}' is not a valid path pattern: ${problem}`);
      });
    }
  }
  for (const [key, raw] of Object.entries(rec(root.jobs))) {
    const job = rec(raw);
    const ifPath: Path = ['jobs', key, 'if'];
    for (const call of changedCalls(job.if)) {
      for (const arg of call.args) {
        if (arg.kind !== 'literal' || typeof arg.value !== 'string') continue;
        const problem = pathPatternProblem(arg.value);
        if (problem) emit('EXPRESSION', positionInScalar(source, ifPath, arg.col), `job '${key}': changed(): '${arg.value}' is not a valid path pattern: ${problem}`);
      }
    }
    list(job.steps).forEach((step, i) => {
      const calls = changedCalls(rec(step).if);
      if (calls.length === 0) return;
      emit('EXPRESSION', positionInScalar(source, ['jobs', key, 'steps', i, 'if'], calls[0].col),
        `job '${key}' steps[${i}]: changed() works only in a job's if: (the changed files are decided when the run is planned); move the condition to the job`);
    });
  }
  return out;
}
