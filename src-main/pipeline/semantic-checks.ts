/**
 * Checks the schema cannot express: references (needs, stages), the DAG (cycles), expressions and
 * templates, durations and matrix sizes. Runs on the raw data even when the schema found problems,
 * so one `kiln validate` reports everything; every access is therefore defensive.
 */
import type { Diagnostic, DiagnosticCode, Severity } from '../../shared/diagnostics.js';
import { patternProblem } from '../../shared/workspace-pattern.js';
import { ExpressionError, suggest } from './expression-parser.js';
import { parseCondition } from './expressions.js';
import { DURATION_HINT, parseDuration } from './duration.js';
import { topoSort } from './dag.js';
import { expandMatrix } from './matrix.js';
import { pathFilterChecks } from './path-filter-checks.js';
import { flowChecks } from './flow-checks.js';
import { prepareRunScript, substituteVariables } from './variables.js';
import type { VariableProblem } from './variables.js';
import { keyPositionOf, positionInScalar, positionOf } from './yaml-source.js';
import type { Path, Position, YamlSource } from './yaml-source.js';

export interface MatrixLimits {
  cap: number;
  warnAt: number;
}
export const DEFAULT_MATRIX_LIMITS: MatrixLimits = { cap: 256, warnAt: 64 };

export interface SemanticResult {
  diagnostics: Diagnostic[];
  /** Job key → the job keys it waits for (explicit needs, or the previous stage). */
  dependsOn: Map<string, string[]>;
  /** Job keys in topological order (complete only when there is no cycle). */
  order: string[];
}

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const TEMPLATE = /\$\{\{[\s\S]*?\}\}|\$\{[^}]*\}/g;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Explicit needs as written: a string or a list of strings; undefined when absent. */
export function needsOf(job: Record<string, unknown>): string[] | undefined {
  if (typeof job.needs === 'string') return [job.needs];
  if (Array.isArray(job.needs)) return job.needs.filter((n): n is string => typeof n === 'string');
  return undefined;
}

/** A job without `needs` waits for every job of the nearest earlier stage that has jobs. */
export function stageDependencies(jobs: Record<string, Record<string, unknown>>, stages: string[]): Map<string, string[]> {
  const byStage = new Map<string, string[]>(stages.map((s) => [s, []]));
  for (const [key, job] of Object.entries(jobs)) {
    const stage = str(job.stage);
    if (stage !== undefined) byStage.get(stage)?.push(key);
  }
  const deps = new Map<string, string[]>();
  for (const [key, job] of Object.entries(jobs)) {
    const explicit = needsOf(job);
    if (explicit) {
      deps.set(key, explicit);
      continue;
    }
    const at = stages.indexOf(str(job.stage) ?? '\u0000');
    let previous: string[] = [];
    for (let i = at - 1; i >= 0 && previous.length === 0; i--) previous = byStage.get(stages[i]) ?? [];
    deps.set(key, previous);
  }
  return deps;
}

export function semanticChecks(source: YamlSource, limits: MatrixLimits = DEFAULT_MATRIX_LIMITS): SemanticResult {
  const out: Diagnostic[] = [];
  const emit = (code: DiagnosticCode, pos: Position, message: string, severity: Severity = 'error') =>
    out.push({ code, severity, message, file: pos.file ?? source.file, line: pos.line, col: pos.col });
  const root = rec(source.data);
  const jobs: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(rec(root.jobs))) jobs[k] = rec(v);
  const jobKeys = Object.keys(jobs);

  const stages = list(root.stages).filter((s): s is string => typeof s === 'string');
  stages.forEach((s, i) => {
    if (stages.indexOf(s) !== i) emit('INVALID_VALUE', positionOf(source, ['stages', i]), `stage '${s}' is listed twice in stages`);
  });

  const template = (path: Path, value: unknown, what: string) => {
    if (typeof value !== 'string') return;
    report(path, substituteVariables(value, { vars: {} }).problems, what);
  };
  const report = (path: Path, problems: VariableProblem[], what: string) => {
    for (const p of problems) {
      if (p.kind === 'syntax' || p.kind === 'expression') emit('EXPRESSION', positionInScalar(source, path, p.col), `${what}: ${p.message} (column ${p.col})`);
    }
  };
  const condition = (path: Path, value: unknown, what: string) => {
    if (typeof value !== 'string') return;
    try {
      parseCondition(value);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      emit('EXPRESSION', positionInScalar(source, path, e.col), `${what}: invalid if expression: ${e.reason} (column ${e.col})`);
    }
  };
  const duration = (path: Path, value: unknown, what: string) => {
    if (typeof value === 'string' && parseDuration(value) === undefined) emit('INVALID_VALUE', positionOf(source, path), `${what}: '${value}' is not a valid duration: ${DURATION_HINT}`);
  };
  // The run-time rule (shared/workspace-pattern.ts), applied before the job runs. Variables are
  // rendered only at run time, so each `${…}` counts as a plain name here; the run time checks again.
  const workspacePath = (path: Path, value: unknown, kind: 'artifact' | 'report' | 'cache', label: string, example: string) => {
    if (typeof value !== 'string') return;
    const problem = patternProblem(value.replace(TEMPLATE, 'x'), kind, { glob: kind !== 'cache' });
    if (problem) emit('INVALID_VALUE', positionOf(source, path), `${label} '${value}' ${problem}${example}`);
  };
  const envTemplates = (path: Path, env: unknown, what: string) => {
    for (const [k, v] of Object.entries(rec(env))) template([...path, k], v, `${what} env ${k}`);
  };

  template(['concurrency', 'group'], rec(root.concurrency).group, 'concurrency.group');
  envTemplates(['env'], root.env, 'pipeline');

  const names = new Map<string, string>();
  for (const key of jobKeys) {
    const job = jobs[key];
    const at = (...rest: Path): Path => ['jobs', key, ...rest];
    const what = `job '${key}'`;

    const stage = str(job.stage);
    if (stage !== undefined && !stages.includes(stage)) {
      const hint = stages.length ? `${suggest(stage, stages)}; stages are ${stages.join(', ')}` : ': the pipeline declares no stages';
      emit('UNKNOWN_STAGE', positionOf(source, at('stage')), `${what} is in stage '${stage}', which does not exist${hint}`);
    }

    const needs = needsOf(job) ?? [];
    needs.forEach((need, i) => {
      const path = typeof job.needs === 'string' ? at('needs') : at('needs', i);
      if (need === key) emit('SELF_NEEDS', positionOf(source, path), `cycle: ${key} -> ${key} (job '${key}' needs itself)`);
      else if (!(need in jobs)) emit('UNKNOWN_NEEDS', positionOf(source, path), `${what} needs '${need}', which does not exist${suggest(need, jobKeys.filter((k) => k !== key))}`);
    });

    const name = str(job.name);
    if (name !== undefined && !name.includes('${{')) {
      const other = names.get(name);
      if (other) emit('DUPLICATE_JOB', positionOf(source, at('name')), `jobs '${other}' and '${key}' have the same name '${name}'`, 'warning');
      else names.set(name, key);
    }

    condition(at('if'), job.if, what);
    duration(at('timeout'), job.timeout, `${what} timeout`);
    template(at('image'), job.image, `${what} image`);
    template(at('name'), job.name, `${what} name`);
    envTemplates(at('env'), job.env, what);

    for (const [svc, raw] of Object.entries(rec(job.services))) {
      const s = rec(raw);
      const sw = `${what} service '${svc}'`;
      template(at('services', svc, 'image'), s.image, `${sw} image`);
      envTemplates(at('services', svc, 'env'), s.env, sw);
      list(s.ports).forEach((p, i) => {
        template(at('services', svc, 'ports', i), p, `${sw} port`);
        if (typeof p === 'string' && !/^(\d+|\$\{[^}]+\}|\$[A-Za-z_]\w*)(:(\d+|\$\{[^}]+\}|\$[A-Za-z_]\w*))?(\/(tcp|udp))?$/.test(p)) {
          emit('INVALID_VALUE', positionOf(source, at('services', svc, 'ports', i)), `${sw}: port '${p}' must be 'PORT' or 'HOST:CONTAINER', e.g. "5432" or "8080:80"`);
        }
      });
      if (typeof s.command === 'string') template(at('services', svc, 'command'), s.command, `${sw} command`);
      else list(s.command).forEach((c, i) => template(at('services', svc, 'command', i), c, `${sw} command`));
    }

    const cache = rec(job.cache);
    template(at('cache', 'key'), cache.key, `${what} cache.key`);
    list(cache['restore-keys']).forEach((k, i) => template(at('cache', 'restore-keys', i), k, `${what} cache.restore-keys`));
    list(cache.paths).forEach((p, i) => {
      template(at('cache', 'paths', i), p, `${what} cache.paths`);
      workspacePath(at('cache', 'paths', i), p, 'cache', `${what} cache.paths: cache path`, ", e.g. 'node_modules'");
    });
    const artifacts = rec(job.artifacts);
    list(artifacts.paths).forEach((p, i) => {
      template(at('artifacts', 'paths', i), p, `${what} artifacts.paths`);
      workspacePath(at('artifacts', 'paths', i), p, 'artifact', `${what} artifacts.paths: artifact pattern`, ", e.g. 'dist/**'");
    });
    duration(at('artifacts', 'expire-in'), artifacts['expire-in'], `${what} artifacts.expire-in`);
    list(rec(job.reports).junit).forEach((p, i) => {
      template(at('reports', 'junit', i), p, `${what} reports.junit`);
      workspacePath(at('reports', 'junit', i), p, 'report', `${what}: report pattern`, ", e.g. 'build/test-results/**/*.xml'");
    });

    list(job.steps).forEach((raw, i) => {
      const step = rec(raw);
      const sw = `${what} steps[${i}]`;
      condition(at('steps', i, 'if'), step.if, sw);
      duration(at('steps', i, 'timeout'), step.timeout, `${sw} timeout`);
      envTemplates(at('steps', i, 'env'), step.env, sw);
      if (typeof step.run === 'string') report(at('steps', i, 'run'), prepareRunScript(step.run).problems, `${sw} run`);
    });

    if (job.matrix !== undefined && rec(job.matrix) === job.matrix) {
      const expansion = expandMatrix(rec(job.matrix), limits.cap * 256);
      const pos = keyPositionOf(source, at('matrix'));
      if (expansion.tooLarge || expansion.count > limits.cap) {
        const n = expansion.tooLarge ? `${expansion.count} (before exclude)` : `${expansion.count}`;
        emit('MATRIX_TOO_LARGE', pos, `${what}: matrix expands to ${n} jobs, more than the cap of ${limits.cap}; reduce the matrix or exclude combinations`);
      } else if (expansion.count === 0 && !Object.entries(rec(job.matrix)).some(([k, v]) => k !== 'include' && k !== 'exclude' && (!Array.isArray(v) || v.length === 0))) {
        emit('INVALID_VALUE', pos, `${what}: matrix expands to no jobs (every combination is excluded, or no variables and no include)`);
      } else if (expansion.count > limits.warnAt) {
        emit('MATRIX_LARGE', pos, `${what}: matrix expands to ${expansion.count} jobs (more than ${limits.warnAt})`, 'warning');
      }
    }
  }

  const dependsOn = stageDependencies(jobs, stages);
  flowChecks(source, jobs, dependsOn, emit);
  const { order, cycles } = topoSort(jobKeys, (k) => dependsOn.get(k) ?? []);
  for (const cycle of cycles) {
    const [first, second] = cycle;
    const explicit = needsOf(jobs[first]);
    const i = explicit ? explicit.indexOf(second) : -1;
    const path: Path = i < 0 ? ['jobs', first] : typeof jobs[first].needs === 'string' ? ['jobs', first, 'needs'] : ['jobs', first, 'needs', i];
    const pos = i < 0 ? keyPositionOf(source, path) : positionOf(source, path);
    emit('CYCLE', pos, `cycle: ${cycle.join(' -> ')} (each job needs the next)`);
  }
  out.push(...pathFilterChecks(source));
  return { diagnostics: out, dependsOn, order };
}
