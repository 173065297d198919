/**
 * A job condition that calls both changed() and a status function (`always() && changed('x/**')`)
 * is evaluated when the job's needs have finished, by the scheduler, which knows nothing of the
 * changed files. So the planner decides each changed() call then and there and writes its result
 * into the condition the scheduler will read: `always() && changed('x/**')` becomes
 * `always() && false` when no file under x/ changed. Conditions without changed() are untouched.
 */
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { Expr, Literal } from './expression-parser.js';
import { ExpressionError } from './expression-parser.js';
import { evaluateExpr, parseCondition, type ExpressionContext } from './expressions.js';

function literal(value: Literal): string {
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'`;
  return String(value);
}

function print(expr: Expr): string {
  switch (expr.kind) {
    case 'literal':
      return literal(expr.value);
    case 'ident':
      return expr.path.join('.');
    case 'not':
      return `!(${print(expr.operand)})`;
    case 'binary':
      return `(${print(expr.left)} ${expr.op} ${print(expr.right)})`;
    case 'call':
      return `${expr.name}(${expr.args.map(print).join(', ')})`;
  }
}

function bake(expr: Expr, ctx: ExpressionContext): Expr {
  switch (expr.kind) {
    case 'call':
      if (expr.name === 'changed') return { kind: 'literal', value: evaluateExpr(expr, ctx), col: expr.col };
      return { ...expr, args: expr.args.map((a) => bake(a, ctx)) };
    case 'not':
      return { ...expr, operand: bake(expr.operand, ctx) };
    case 'binary':
      return { ...expr, left: bake(expr.left, ctx), right: bake(expr.right, ctx) };
    default:
      return expr;
  }
}

/** The condition with its changed() calls replaced by their results; unchanged when it has none (or the changes are unknown). */
export function bakeChangedCalls(condition: string, ctx: ExpressionContext & { changes?: ChangeSet }): string {
  if (!ctx.changes || !/\bchanged\s*\(/.test(condition)) return condition;
  try {
    return print(bake(parseCondition(condition), ctx));
  } catch (e) {
    if (e instanceof ExpressionError) return condition; // reported when the plan was checked
    throw e;
  }
}
