/**
 * planPipeline: a validated Pipeline + a TriggerEvent → the executable Plan (matrix expanded,
 * variables substituted, plan-time conditions decided, jobs in topological order). Never throws.
 *
 * Variable precedence, lowest first: pipeline env < job env < caller's env (`kiln run --env`) <
 * built-ins (KILN_REPO KILN_BRANCH KILN_TAG KILN_SHA KILN_EVENT KILN_JOB), which cannot be overridden.
 * Jobs skipped at plan time stay in the plan (skipped: true, skipReason). A job that needs a skipped
 * job is skipped too, unless its condition uses a status function (then decideJob decides at run time).
 */
import type { Diagnostic } from '../../shared/diagnostics.js';
import { hasErrors } from '../../shared/diagnostics.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { ExpressionContext } from './expressions.js';
import { usesStatusFunctions } from './expressions.js';
import { combinationLabel, expandMatrix, flattenCombination } from './matrix.js';
import type { Pipeline } from './pipeline-model.js';
import { planInstance, substituteEnv } from './plan-job.js';
import type { Problem } from './plan-job.js';
import { substituteVariables } from './variables.js';

export interface PlanOptions {
  /** Extra variables (e.g. `kiln run --env K=V`); they override pipeline and job env. */
  env?: Record<string, string>;
  /** Maximum matrix combinations per job (default 256): more is a MATRIX_TOO_LARGE error. */
  matrixCap?: number;
  /** Above this many combinations a job gets a MATRIX_LARGE warning (default 64). */
  matrixWarnAt?: number;
  /** The event's changed files, for `changed()` in job conditions; absent → everything changed. */
  changes?: ChangeSet;
}

/** The built-in variables known at plan time (KILN_RUN_ID, KILN_WORKSPACE, KILN_ENV come at run time). */
export function builtinVariables(event: TriggerEvent, jobKey?: string): Record<string, string> {
  return {
    KILN_REPO: event.repo,
    KILN_BRANCH: event.branch ?? '',
    KILN_TAG: event.tag ?? '',
    KILN_SHA: event.sha,
    KILN_EVENT: event.kind,
    ...(jobKey !== undefined ? { KILN_JOB: jobKey } : {}),
  };
}

/** The expression context of an event, before any matrix or env is applied. */
export function eventContext(event: TriggerEvent): Omit<ExpressionContext, 'matrix' | 'env'> {
  return {
    event: event.kind,
    ...(event.branch !== undefined ? { branch: event.branch } : {}),
    ...(event.tag !== undefined ? { tag: event.tag } : {}),
    sha: event.sha,
    repo: event.repo,
    ...(event.ref !== undefined ? { ref: event.ref } : {}),
  };
}

/**
 * The expression context of a planned job at run time (for decideJob, step conditions and
 * rendering cache keys): the event, the job's matrix values and its environment. Callers add
 * `status` and `hashFiles` as the situation needs.
 */
export function jobExpressionContext(job: PlannedJob, event: TriggerEvent): ExpressionContext {
  return { ...eventContext(event), matrix: job.matrix, env: job.env };
}

export function planPipeline(pipeline: Pipeline, event: TriggerEvent, options: PlanOptions = {}): { plan?: Plan; diagnostics: Diagnostic[] } {
  const problems: Problem[] = [];
  const diagnostics: Diagnostic[] = [];
  const toDiagnostic = (p: Problem): Diagnostic => {
    const pos = pipeline.positionOf(p.path);
    return { code: p.code, severity: p.severity, message: p.message, file: pos.file ?? pipeline.file, line: pos.line, col: pos.col };
  };
  try {
    const plan = buildPlan(pipeline, event, options, problems, diagnostics, toDiagnostic);
    const seen = new Set<string>();
    for (const d of problems.map(toDiagnostic)) {
      const id = `${d.line}:${d.col}:${d.message}`;
      if (!seen.has(id)) {
        seen.add(id);
        diagnostics.push(d);
      }
    }
    diagnostics.sort((a, b) => (a.file === b.file ? 0 : a.file === pipeline.file ? -1 : b.file === pipeline.file ? 1 : a.file < b.file ? -1 : 1) || a.line - b.line || a.col - b.col);
    if (hasErrors(diagnostics)) return { diagnostics };
    plan.warnings = diagnostics.filter((d) => d.severity === 'warning');
    return { plan, diagnostics };
  } catch (e) {
    const message = `internal error while planning: ${(e as Error).message}`;
    return { diagnostics: [...diagnostics, { code: 'FILE', severity: 'error', message, file: pipeline.file, line: 0, col: 0 }] };
  }
}

function buildPlan(
  pipeline: Pipeline,
  event: TriggerEvent,
  options: PlanOptions,
  problems: Problem[],
  diagnostics: Diagnostic[],
  toDiagnostic: (p: Problem) => Diagnostic,
): Plan {
  const extraEnv = options.env ?? {};
  const cap = options.matrixCap ?? 256;
  const warnAt = options.matrixWarnAt ?? 64;
  const base = { ...eventContext(event), ...(options.changes ? { changes: options.changes } : {}) };
  const globals = builtinVariables(event);
  const pipelineEnv = substituteEnv(pipeline.env, {}, Object.assign({}, extraEnv, globals), (env) => ({ ...base, matrix: {}, env }), ['env'], problems);

  let concurrency: Plan['concurrency'];
  if (pipeline.concurrency) {
    const env = { ...pipelineEnv, ...extraEnv, ...globals };
    const r = substituteVariables(pipeline.concurrency.group, { vars: env, ctx: { ...base, matrix: {}, env } });
    for (const p of r.problems) {
      const severity = p.kind === 'undefined' ? 'warning' : 'error';
      const what = p.kind === 'required' ? `\${${p.name}} is required: ${p.message}` : p.kind === 'undefined' ? `variable ${p.name} is not defined` : p.message;
      problems.push({ code: p.kind === 'required' || p.kind === 'undefined' ? 'UNDEFINED_VARIABLE' : 'EXPRESSION', severity, path: ['concurrency', 'group'], message: `concurrency.group: ${what}` });
    }
    concurrency = { group: r.value, cancelInProgress: pipeline.concurrency.cancelInProgress };
  }

  const instancesOf = new Map<string, PlannedJob[]>();
  const jobs: PlannedJob[] = [];
  for (const job of pipeline.jobs) {
    let combos: Array<Record<string, unknown>> = [{}];
    if (job.matrix) {
      const expansion = expandMatrix(job.matrix, cap * 256);
      const at = { path: ['jobs', job.key, 'matrix'] };
      if (expansion.tooLarge || expansion.count > cap) {
        const n = expansion.tooLarge ? `${expansion.count} (before exclude)` : `${expansion.count}`;
        diagnostics.push(toDiagnostic({ code: 'MATRIX_TOO_LARGE', severity: 'error', ...at, message: `job '${job.key}': matrix expands to ${n} jobs, more than the cap of ${cap}; reduce the matrix or exclude combinations` }));
        continue;
      }
      if (expansion.count > warnAt) {
        diagnostics.push(toDiagnostic({ code: 'MATRIX_LARGE', severity: 'warning', ...at, message: `job '${job.key}': matrix expands to ${expansion.count} jobs (more than ${warnAt})` }));
      }
      combos = expansion.combinations;
    }
    const needs: string[] = [];
    let skippedNeed: PlannedJob | undefined;
    for (const k of job.dependsOn) {
      for (const j of instancesOf.get(k) ?? []) {
        needs.push(j.id);
        if (j.skipped) skippedNeed ??= j;
      }
    }
    const instances: PlannedJob[] = [];
    for (const combo of combos) {
      const matrix = job.matrix ? flattenCombination(combo as never) : {};
      const planned = planInstance({
        job,
        label: job.matrix ? combinationLabel(matrix) : '',
        matrix,
        pipelineEnv,
        extraEnv,
        builtins: builtinVariables(event, job.key),
        base,
        needs,
        problems,
      });
      if (!planned.skipped && skippedNeed && !(job.if !== undefined && usesStatusFunctions(job.if))) {
        planned.skipped = true;
        planned.skipReason = `needs '${skippedNeed.id}', which is skipped`;
      }
      instances.push(planned);
    }
    instancesOf.set(job.key, instances);
    jobs.push(...instances);
  }

  return {
    pipeline: pipeline.name,
    priority: pipeline.priority,
    ...(concurrency ? { concurrency } : {}),
    jobs,
    warnings: [],
  };
}
