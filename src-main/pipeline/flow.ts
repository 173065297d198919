/**
 * Job outputs and approval gates in the pipeline language, kept apart from parse.ts and plan-job.ts
 * so those stay about the shape every job has.
 *
 * Outputs follow GitHub Actions: a step with an `id:` appends `name=value` (or `name<<DELIM`) lines to
 * `$KILN_OUTPUT`; the job's `outputs:` maps names to templates over `steps.<id>.outputs.<name>`;
 * a job that needs it reads `needs.<job>.outputs.<name>` in `if:` and in `${{ }}` of `env:` or `run`.
 * Those values exist only once the need has finished, so the planner leaves such templates in
 * place (`readsNeedsOutputs`) and `withNeedsOutputs` renders them just before the job runs. Values
 * reach scripts as environment variables only, like every other expression in `run`.
 *
 * Approval gates are GitLab's `when: manual` (the job waits, once its needs are done, until someone
 * approves it; `approval-timeout:` rejects it when nobody does, default 24 hours).
 */
import type { PlannedJob } from '../../shared/model/plan.js';
import { parseExpressionAt } from './expression-parser.js';
import type { Expr } from './expression-parser.js';
import { conditionBody, renderTemplate, splitTemplate } from './expressions.js';
import type { ExpressionContext } from './expressions.js';
import { parseDuration } from './duration.js';
import type { PipelineJob, ScheduleSpec } from './pipeline-model.js';
import type { Status } from '../../shared/model/status.js';

/** When nobody approves or rejects a `when: manual` job, it is rejected after this long. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** GitHub's limits: outputs of one job at most 1 MB, of one run at most 50 MB (names and values, UTF-8). */
export const MAX_JOB_OUTPUT_BYTES = 1024 * 1024;
export const MAX_RUN_OUTPUT_BYTES = 50 * 1024 * 1024;

type Raw = Record<string, unknown>;
const rec = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});

/** The job keys of parse.ts's PipelineJob that this module owns. */
export function jobFlowOf(j: Raw): { outputs?: Record<string, string>; manual?: { timeoutMs: number } } {
  const outputs = j.outputs && typeof j.outputs === 'object' ? Object.fromEntries(Object.entries(rec(j.outputs)).map(([k, v]) => [k, String(v ?? '')])) : undefined;
  const timeout = typeof j['approval-timeout'] === 'string' ? parseDuration(j['approval-timeout']) : undefined;
  return {
    ...(outputs ? { outputs } : {}),
    ...(j.when === 'manual' ? { manual: { timeoutMs: timeout ?? DEFAULT_APPROVAL_TIMEOUT_MS } } : {}),
  };
}

/** `on.schedule` as the model keeps it; undefined when absent. */
export function schedulesOf(on: Raw): ScheduleSpec[] | undefined {
  if (!Array.isArray(on.schedule)) return undefined;
  return on.schedule.map((s) => {
    const r = rec(s);
    return {
      cron: String(r.cron ?? ''),
      ...(typeof r.timezone === 'string' ? { timezone: r.timezone } : {}),
      ...(Array.isArray(r.branches) ? { branches: r.branches.map(String) } : {}),
    };
  });
}

/** Every identifier path an expression reads (`['needs', 'build', 'outputs', 'v']`). */
export function identifiersOf(expr: Expr, out: string[][] = []): string[][] {
  switch (expr.kind) {
    case 'ident':
      out.push(expr.path);
      break;
    case 'not':
      identifiersOf(expr.operand, out);
      break;
    case 'binary':
      identifiersOf(expr.left, out);
      identifiersOf(expr.right, out);
      break;
    case 'call':
      for (const a of expr.args) identifiersOf(a, out);
      break;
    default:
      break;
  }
  return out;
}

/** The identifier paths of every `${{ }}` in a template; malformed parts are skipped (semantic checks report them). */
export function templateIdentifiers(template: string): string[][] {
  if (!template.includes('${{')) return [];
  const out: string[][] = [];
  try {
    for (const part of splitTemplate(template)) {
      if (part.kind !== 'expr') continue;
      try {
        identifiersOf(parseExpressionAt(part.source, part.offset), out);
      } catch {
        // reported by the semantic checks
      }
    }
  } catch {
    // unterminated: reported by the semantic checks
  }
  return out;
}

/** The identifier paths of a condition (bare or `${{ }}`-wrapped); [] when malformed. */
export function conditionIdentifiers(source: string): string[][] {
  try {
    const { body, offset } = conditionBody(source);
    return identifiersOf(parseExpressionAt(body, offset));
  } catch {
    return [];
  }
}

export const readsNeeds = (paths: string[][]): boolean => paths.some((p) => p[0] === 'needs');
export const readsOutputs = (paths: string[][]): boolean => paths.some((p) => p[0] === 'needs' || p[0] === 'steps');

/** Whether a job's env, its steps' env or scripts read `needs.<job>.outputs` (rendered at run time). */
export function jobReadsNeedsOutputs(job: PipelineJob): boolean {
  const reads = (t: string): boolean => t.includes('needs') && readsNeeds(templateIdentifiers(t));
  return Object.values(job.env).some(reads) || job.steps.some((s) => reads(s.run) || Object.values(s.env).some(reads));
}

/** Whether a planned job's condition can only be decided once its needs have finished (their outputs). */
export function conditionReadsNeeds(source: string | undefined): boolean {
  return source !== undefined && source.includes('needs') && readsNeeds(conditionIdentifiers(source));
}

/**
 * The job as it runs: `${{ needs.… }}` templates the planner left in its env and its steps' env
 * rendered with the needs' outputs. A template that cannot be rendered becomes '' (it was checked
 * when the file was read). Returns the job itself when it reads no outputs.
 */
export function withNeedsOutputs(job: PlannedJob, ctx: ExpressionContext): PlannedJob {
  if (!job.readsNeedsOutputs) return job;
  // Templates over `steps.` wait for the executor (renderStepOutputs), which has those values.
  const render = (env: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.includes('${{') && !readsSteps(v) ? safeRender(v, ctx) : v]));
  return { ...job, env: render(job.env), steps: job.steps.map((s) => ({ ...s, env: render(s.env) })) };
}

const readsSteps = (template: string): boolean => templateIdentifiers(template).some((p) => p[0] === 'steps');

/**
 * A step's env as it starts: `${{ steps.<id>.outputs.… }}` templates (left by the planner) rendered
 * with the outputs of the steps before it (ctx.steps). Other values are returned as they are.
 */
export function renderStepOutputs(env: Record<string, string>, ctx: ExpressionContext): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(env)) {
    if (!v.includes('${{') || !readsSteps(v)) continue;
    out ??= { ...env };
    out[k] = safeRender(v, ctx);
  }
  return out ?? env;
}

function safeRender(template: string, ctx: ExpressionContext): string {
  try {
    return renderTemplate(template, ctx);
  } catch {
    return '';
  }
}

/** UTF-8 size of outputs as the limits count them: every name and value. */
export function outputBytes(outputs: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(outputs)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** Renders a job's `outputs:` templates against its steps' outputs (after the steps ran). */
export function renderJobOutputs(templates: Record<string, string>, ctx: ExpressionContext): Record<string, string> {
  return Object.fromEntries(Object.entries(templates).map(([k, t]) => [k, safeRender(t, ctx)]));
}

const RESULT_OF: Partial<Record<Status, string>> = { passed: 'success', failed: 'failure', timed_out: 'failure', cancelled: 'cancelled', skipped: 'skipped' };

/**
 * `needs.<job>.outputs.<name>` and `needs.<job>.result` for one job, keyed by job key as the
 * pipeline file writes it: the one builder behind both the server's queue (from stored rows) and
 * `kiln run` (from results in memory), so `if: needs.b.result == 'failure'` decides the same in
 * both. `finished(id)` gives a need's status and outputs, or undefined while it has none. For a
 * matrix job the instances' outputs are merged in order (the last instance's value wins) and its
 * result is the worst of its instances, as GitHub reports it.
 */
export function buildNeedsContext(
  needIds: readonly string[],
  keyOf: (id: string) => string | undefined,
  finished: (id: string) => { status: Status; outputs?: Record<string, string> } | undefined,
): NonNullable<ExpressionContext['needs']> {
  const needs: NonNullable<ExpressionContext['needs']> = {};
  for (const id of needIds) {
    const entry = (needs[keyOf(id) ?? id] ??= { outputs: {} });
    const done = finished(id);
    if (!done) continue;
    if (done.outputs) Object.assign(entry.outputs, done.outputs);
    const result = RESULT_OF[done.status];
    if (result && entry.result !== 'failure' && entry.result !== 'cancelled') entry.result = result;
  }
  return needs;
}
