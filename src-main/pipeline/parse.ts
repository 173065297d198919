/**
 * parsePipeline: text → validated Pipeline, or positioned diagnostics. Never throws.
 * Stages: YAML (syntax) → JSON Schema (shape) → semantic checks (references, DAG, expressions,
 * durations, matrix size) → the typed Pipeline. All problems of a file are reported together.
 */
import type { Diagnostic } from '../../shared/diagnostics.js';
import { hasErrors } from '../../shared/diagnostics.js';
import type { ArtifactWhen } from '../../shared/model/plan.js';
import type { Priority } from '../../shared/model/status.js';
import { diagnosticsFromAjv } from './diagnostics-from-ajv.js';
import { jobFlowOf, schedulesOf } from './flow.js';
import { DEFAULT_JOB_TIMEOUT_MS, parseDuration } from './duration.js';
import type { Pipeline, PipelineJob, PipelineService, PipelineStep, Triggers } from './pipeline-model.js';
import { pipelineValidator } from './schema-validator.js';
import { DEFAULT_MATRIX_LIMITS, needsOf, semanticChecks } from './semantic-checks.js';
import type { MatrixLimits } from './semantic-checks.js';
import { mergeIncludes } from './include.js';
import type { IncludedFiles } from './include.js';
import { positionOf, readYaml } from './yaml-source.js';
import type { YamlSource } from './yaml-source.js';

type Raw = Record<string, unknown>;
const rec = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/**
 * `included`: the files `include:` names (include.ts's readIncludes), by repository path; without
 * it an `include:` finds no file. `mainPath` is the main file's own repository path (for cycles).
 */
export function parsePipeline(
  text: string, file: string, limits: MatrixLimits = DEFAULT_MATRIX_LIMITS, included?: IncludedFiles, mainPath = '.kiln.yml',
): { pipeline?: Pipeline; diagnostics: Diagnostic[] } {
  try {
    return parseOrDiagnose(text, file, limits, included, mainPath);
  } catch (e) {
    // A bug here must still surface as a diagnostic, never as a stack trace in `kiln validate`.
    const message = `internal error while reading the pipeline: ${(e as Error).message}`;
    return { diagnostics: [{ code: 'FILE', severity: 'error', message, file, line: 0, col: 0 }] };
  }
}

function parseOrDiagnose(text: string, file: string, limits: MatrixLimits, included: IncludedFiles | undefined, mainPath: string): { pipeline?: Pipeline; diagnostics: Diagnostic[] } {
  const read = readYaml(text, file);
  const diagnostics = read.diagnostics;
  if (hasErrors(diagnostics)) return { diagnostics };
  const merged = 'include' in rec(read.source.data) ? mergeIncludes(read.source, mainPath, included) : { source: read.source, diagnostics: [] };
  const source = merged.source;
  diagnostics.push(...merged.diagnostics);
  const data = source.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    const pos = positionOf(source, []);
    const got = data === null ? 'an empty document' : Array.isArray(data) ? 'a list' : `the value '${String(data)}'`;
    const message = `a pipeline must be a mapping with a 'jobs' key (and optionally name, on, priority, concurrency, env, stages), got ${got}`;
    return { diagnostics: [...diagnostics, { code: 'WRONG_TYPE', severity: 'error', message, file, line: pos.line, col: pos.col }] };
  }
  const validate = pipelineValidator();
  if (!validate(data)) diagnostics.push(...diagnosticsFromAjv(validate.errors ?? [], source));
  const semantic = semanticChecks(source, limits);
  diagnostics.push(...semantic.diagnostics);
  diagnostics.sort((a, b) => (a.file === b.file ? 0 : a.file === file ? -1 : b.file === file ? 1 : a.file < b.file ? -1 : 1) || a.line - b.line || a.col - b.col);
  if (hasErrors(diagnostics)) return { diagnostics };
  return { pipeline: buildPipeline(source, semantic.dependsOn, semantic.order), diagnostics };
}

function envOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(rec(v))) out[k] = value === null || value === undefined ? '' : String(value);
  return out;
}

function conditionOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return String(v);
}

function filterOf(v: unknown): { branches?: string[]; tags?: string[]; paths?: string[]; pathsIgnore?: string[] } {
  const r = rec(v);
  return {
    ...(r.branches ? { branches: strings(r.branches) } : {}),
    ...(r.tags ? { tags: strings(r.tags) } : {}),
    ...(r.paths ? { paths: strings(r.paths) } : {}),
    ...(r['paths-ignore'] ? { pathsIgnore: strings(r['paths-ignore']) } : {}),
  };
}

/**
 * Missing `on`: every branch push and manual runs. Present: only the automatic triggers it lists.
 * Manual runs (the dashboard's button, `POST /api/runs`) are allowed unless `manual: false` opts out.
 */
function triggersOf(v: unknown): Triggers {
  if (v === undefined) return { push: { branches: ['**'] }, manual: true };
  const on = rec(v);
  return {
    ...('push' in on ? { push: filterOf(on.push) } : {}),
    ...('pull_request' in on ? { pullRequest: filterOf(on.pull_request) } : {}),
    manual: on.manual !== false,
    ...(schedulesOf(on) ? { schedule: schedulesOf(on) } : {}),
  };
}

/** `postgres -c fsync=off` or `sh -c "a b"` → argv, honouring single and double quotes. */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  let current = '';
  let last = -1;
  for (let m = re.exec(command); m; m = re.exec(command)) {
    const piece = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]);
    if (last === m.index) current += piece;
    else {
      if (last >= 0) out.push(current);
      current = piece;
    }
    last = m.index + m[0].length;
  }
  if (last >= 0) out.push(current);
  return out;
}

function serviceOf(key: string, v: unknown): PipelineService {
  const s = rec(v);
  const command = typeof s.command === 'string' ? splitCommand(s.command) : Array.isArray(s.command) ? strings(s.command) : undefined;
  return { key, image: String(s.image), env: envOf(s.env), ports: strings(s.ports), ...(command ? { command } : {}) };
}

function stepOf(v: unknown, index: number): PipelineStep {
  const s = rec(v);
  const run = String(s.run);
  const firstLine = run.trim().split('\n')[0] ?? '';
  const name = typeof s.name === 'string' ? s.name : `Run ${firstLine.length > 40 ? `${firstLine.slice(0, 39)}…` : firstLine || `step ${index + 1}`}`;
  const timeoutMs = typeof s.timeout === 'string' ? parseDuration(s.timeout) : undefined;
  return {
    ...(typeof s.id === 'string' ? { id: s.id } : {}),
    name,
    run,
    if: conditionOf(s.if) ?? '',
    env: envOf(s.env),
    continueOnError: s['continue-on-error'] === true,
    ...(timeoutMs ? { timeoutMs } : {}),
  };
}

function jobOf(key: string, v: unknown, dependsOn: string[]): PipelineJob {
  const j = rec(v);
  const cache = j.cache ? rec(j.cache) : undefined;
  const artifacts = j.artifacts ? rec(j.artifacts) : undefined;
  const expireInMs = artifacts && typeof artifacts['expire-in'] === 'string' ? parseDuration(artifacts['expire-in']) : undefined;
  const needs = needsOf(j);
  return {
    key,
    ...(typeof j.name === 'string' ? { name: j.name } : {}),
    ...(typeof j.stage === 'string' ? { stage: j.stage } : {}),
    image: String(j.image),
    ...(needs ? { needs } : {}),
    dependsOn: [...new Set(dependsOn)],
    ...(conditionOf(j.if) !== undefined ? { if: conditionOf(j.if) } : {}),
    timeoutMs: typeof j.timeout === 'string' ? (parseDuration(j.timeout) ?? DEFAULT_JOB_TIMEOUT_MS) : DEFAULT_JOB_TIMEOUT_MS,
    runsOn: typeof j['runs-on'] === 'string' ? [j['runs-on']] : strings(j['runs-on']),
    secrets: strings(j.secrets),
    env: envOf(j.env),
    ...(j.matrix ? { matrix: rec(j.matrix) } : {}),
    services: Object.entries(rec(j.services)).map(([k, s]) => serviceOf(k, s)),
    ...(cache ? { cache: { key: String(cache.key), restoreKeys: strings(cache['restore-keys']), paths: strings(cache.paths) } } : {}),
    ...(artifacts
      ? { artifacts: { paths: strings(artifacts.paths), when: (artifacts.when as ArtifactWhen | undefined) ?? 'on_success', ...(expireInMs ? { expireInMs } : {}) } }
      : {}),
    ...(j.reports ? { reports: { junit: strings(rec(j.reports).junit) } } : {}),
    steps: Array.isArray(j.steps) ? j.steps.map(stepOf) : [],
    ...jobFlowOf(j),
  };
}

function buildPipeline(source: YamlSource, dependsOn: Map<string, string[]>, order: string[]): Pipeline {
  const root = rec(source.data);
  const jobs = rec(root.jobs);
  const concurrency = root.concurrency ? rec(root.concurrency) : undefined;
  return {
    file: source.file,
    name: typeof root.name === 'string' ? root.name : 'pipeline',
    on: triggersOf(root.on),
    priority: (root.priority as Priority | undefined) ?? 'normal',
    ...(concurrency ? { concurrency: { group: concurrency.group === undefined ? '' : String(concurrency.group), cancelInProgress: concurrency['cancel-in-progress'] === true } } : {}),
    env: envOf(root.env),
    stages: strings(root.stages),
    jobs: order.map((key) => jobOf(key, jobs[key], dependsOn.get(key) ?? [])),
    positionOf: (path) => positionOf(source, path),
  };
}
