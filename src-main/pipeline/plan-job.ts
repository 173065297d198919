/**
 * Rendering one job instance (a job, or one matrix combination of it) into a PlannedJob:
 * variables and expressions substituted in every field outside `run`, `run` scripts made
 * injection-safe, the plan-time part of the condition decided.
 */
import type { DiagnosticCode, Severity } from '../../shared/diagnostics.js';
import type { MatrixValue, PlannedJob, PlannedStep } from '../../shared/model/plan.js';
import { bakeChangedCalls } from './changed-condition.js';
import { ExpressionError } from './expression-parser.js';
import { evaluateCondition, renderTemplate, usesStatusFunctions } from './expressions.js';
import { conditionReadsNeeds, jobReadsNeedsOutputs } from './flow.js';
import type { ExpressionContext } from './expressions.js';
import type { PipelineJob, PipelineService } from './pipeline-model.js';
import { prepareRunScript, substituteVariables } from './variables.js';
import type { VariableProblem } from './variables.js';
import { fieldName } from './yaml-source.js';
import type { Path } from './yaml-source.js';

export interface Problem {
  code: DiagnosticCode;
  severity: Severity;
  path: Path;
  message: string;
}

export interface InstanceInput {
  job: PipelineJob;
  /** Planned id and display name suffix: '' for a job without matrix. */
  label: string;
  matrix: Record<string, MatrixValue>;
  /** Pipeline env, already substituted. */
  pipelineEnv: Record<string, string>;
  /** Variables given by the caller (`kiln run --env`); override pipeline and job env. */
  extraEnv: Record<string, string>;
  builtins: Record<string, string>;
  base: Omit<ExpressionContext, 'matrix' | 'env'>;
  needs: string[];
  problems: Problem[];
}

function collect(problems: Problem[], path: Path, found: VariableProblem[]): void {
  const field = fieldName(path);
  for (const p of found) {
    switch (p.kind) {
      case 'required':
        problems.push({ code: 'UNDEFINED_VARIABLE', severity: 'error', path, message: `${field}: \${${p.name}} is required: ${p.message}` });
        break;
      case 'undefined':
        problems.push({ code: 'UNDEFINED_VARIABLE', severity: 'warning', path, message: `${field}: variable ${p.name} is not defined; it was replaced by an empty string` });
        break;
      default:
        problems.push({ code: 'EXPRESSION', severity: 'error', path, message: `${field}: ${p.message} (column ${p.col})` });
    }
  }
}

/**
 * Substitutes `env` entries in order; each value may use the ones before it. Variables in scope:
 * `lower`, then the entries already done, then `higher` (which they cannot override).
 */
export function substituteEnv(
  env: Record<string, string>,
  lower: Record<string, string>,
  higher: Record<string, string>,
  ctxOf: (vars: Record<string, string>) => ExpressionContext,
  path: Path,
  problems: Problem[],
): Record<string, string> {
  const own: Record<string, string> = {};
  const entries = Object.entries(env);
  if (entries.length === 0) return own;
  // One scope object, updated as entries are done (evaluation is synchronous, so sharing is safe).
  const scope: Record<string, string> = Object.assign({}, lower, higher);
  const ctx = ctxOf(scope);
  for (const [k, v] of entries) {
    let value = v;
    if (v.includes('$')) {
      const r = substituteVariables(v, { vars: scope, ctx });
      collect(problems, [...path, k], r.problems);
      value = r.value;
    }
    own[k] = value;
    if (!(k in higher)) scope[k] = value;
  }
  return own;
}

/** Step names may show matrix values (`test on ${{ matrix.os }}`); `$VAR` in names is left as written. */
function renderName(name: string, ctx: ExpressionContext): string {
  if (!name.includes('${{')) return name;
  try {
    return renderTemplate(name, ctx);
  } catch {
    return name;
  }
}

export function planInstance(input: InstanceInput): PlannedJob {
  const { job, problems, builtins, extraEnv, pipelineEnv } = input;
  const at = (...rest: Path): Path => ['jobs', job.key, ...rest];
  const ctxWith = (env: Record<string, string>): ExpressionContext => ({ ...input.base, matrix: input.matrix, env });
  const jobEnv = substituteEnv(job.env, pipelineEnv, Object.assign({}, extraEnv, builtins), ctxWith, at('env'), problems);
  const env: Record<string, string> = Object.assign({}, pipelineEnv, jobEnv, extraEnv, builtins);
  const ctx = ctxWith(env);
  const sub = (text: string, path: Path, keepHashFiles = false): string => {
    if (!text.includes('$')) return text;
    const r = substituteVariables(text, { vars: env, ctx, keepHashFiles });
    collect(problems, path, r.problems);
    return r.value;
  };

  const nameTemplate = job.name ?? job.key;
  const rendered = sub(nameTemplate, at('name'));
  // A name that already uses expressions (`build ${{ matrix.os }}`) is shown as written, like GitHub.
  const name = input.label && !nameTemplate.includes('${{') ? `${rendered} (${input.label})` : rendered;

  const services = job.services.map((s: PipelineService) => ({
    key: s.key,
    image: sub(s.image, at('services', s.key, 'image')),
    env: Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, sub(v, at('services', s.key, 'env', k))])),
    ports: s.ports.map((p, i) => sub(p, at('services', s.key, 'ports', i))),
    ...(s.command ? { command: s.command.map((c) => sub(c, at('services', s.key, 'command'))) } : {}),
  }));

  const steps: PlannedStep[] = job.steps.map((step, index) => {
    const stepEnv = substituteEnv(step.env, env, builtins, ctxWith, at('steps', index, 'env'), problems);
    const script = prepareRunScript(step.run, ctx);
    collect(problems, at('steps', index, 'run'), script.problems);
    return {
      index,
      ...(step.id !== undefined ? { id: step.id } : {}),
      name: renderName(step.name, ctx),
      run: script.run,
      env: { ...stepEnv, ...script.env },
      if: step.if || 'success()',
      continueOnError: step.continueOnError,
      ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
    };
  });

  let skipped = false;
  let skipReason: string | undefined;
  // A condition over needs' outputs or statuses is decided when the needs are done (readiness.ts).
  if (job.if !== undefined && !usesStatusFunctions(job.if) && !conditionReadsNeeds(job.if)) {
    try {
      if (!evaluateCondition(job.if, ctx)) {
        skipped = true;
        skipReason = `condition \`${job.if}\` is false`;
      }
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      problems.push({ code: 'EXPRESSION', severity: 'error', path: at('if'), message: `${fieldName(at('if'))}: ${e.message}` });
    }
  }

  return {
    id: input.label ? `${job.key} (${input.label})` : job.key,
    key: job.key,
    name,
    ...(job.stage !== undefined ? { stage: job.stage } : {}),
    matrix: input.matrix,
    image: sub(job.image, at('image')),
    needs: input.needs,
    skipped,
    ...(skipReason ? { skipReason } : {}),
    ...(job.if !== undefined ? { if: skipped || !usesStatusFunctions(job.if) ? job.if : bakeChangedCalls(job.if, ctx) } : {}),
    env,
    secrets: job.secrets,
    timeoutMs: job.timeoutMs,
    ...(job.runsOn.length ? { runsOn: job.runsOn } : {}),
    services,
    ...(job.cache
      ? {
          cache: {
            key: sub(job.cache.key, at('cache', 'key'), true),
            restoreKeys: job.cache.restoreKeys.map((k, i) => sub(k, at('cache', 'restore-keys', i), true)),
            paths: job.cache.paths.map((p, i) => sub(p, at('cache', 'paths', i))),
          },
        }
      : {}),
    ...(job.reports ? { reports: { junit: job.reports.junit.map((p, i) => sub(p, at('reports', 'junit', i))) } } : {}),
    ...(job.artifacts
      ? { artifacts: { ...job.artifacts, paths: job.artifacts.paths.map((p, i) => sub(p, at('artifacts', 'paths', i))) } }
      : {}),
    steps,
    ...(job.outputs ? { outputs: job.outputs } : {}),
    ...(jobReadsNeedsOutputs(job) ? { readsNeedsOutputs: true } : {}),
    ...(job.manual ? { manual: job.manual } : {}),
  };
}
