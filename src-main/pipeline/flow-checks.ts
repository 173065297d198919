/**
 * The semantic checks of job outputs, approval gates and schedules (see flow.ts and cron.ts), run by
 * semantic-checks.ts with the others so one `kiln validate` reports every problem:
 * - step ids are unique in their job; `steps.<id>` names an earlier step of the same job;
 * - `needs.<job>.outputs.<name>` names a job this job needs directly, and an output it declares;
 *   it is read only where its value can arrive: the job's `if:`, `env:` and steps' `env:`/`run`;
 * - `approval-timeout` is a duration, and only meaningful with `when: manual`;
 * - each schedule has a five-field cron expression and a real time zone.
 */
import type { DiagnosticCode, Severity } from '../../shared/diagnostics.js';
import { suggest } from './expression-parser.js';
import { cronProblem } from './cron.js';
import { DURATION_HINT, parseDuration } from './duration.js';
import { conditionIdentifiers, templateIdentifiers } from './flow.js';
import { keyPositionOf, positionOf } from './yaml-source.js';
import type { Path, Position, YamlSource } from './yaml-source.js';

type Raw = Record<string, unknown>;
type Emit = (code: DiagnosticCode, pos: Position, message: string, severity?: Severity) => void;
const rec = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Where `needs.…` may be read: the job's if and env, its steps' env and run. */
function needsAllowedAt(path: Path): boolean {
  if (path[0] !== 'jobs') return false;
  return path[2] === 'if' || path[2] === 'env' || (path[2] === 'steps' && (path[4] === 'env' || path[4] === 'run'));
}

export function flowChecks(source: YamlSource, jobs: Record<string, Raw>, dependsOn: Map<string, string[]>, emit: Emit): void {
  const root = rec(source.data);
  const declared = new Map(Object.entries(jobs).map(([k, j]) => [k, Object.keys(rec(j.outputs))]));

  /** Checks the identifiers one field reads; `stepIds` are the ids visible there (earlier steps). */
  const check = (path: Path, paths: string[][], jobKey: string | undefined, stepIds: string[] | undefined, field: string): void => {
    for (const p of paths) {
      if (p[0] === 'needs') {
        if (!jobKey || !needsAllowedAt(path)) {
          emit('EXPRESSION', positionOf(source, path), `${field}: needs.${p.slice(1).join('.')} can only be read in a job's if:, env: and its steps' env: and run`);
          continue;
        }
        const direct = dependsOn.get(jobKey) ?? [];
        const need = p[1];
        if (!direct.includes(need)) {
          const hint = need in jobs ? `; add it to needs` : suggest(need, direct);
          emit('UNKNOWN_NEEDS', positionOf(source, path), `${field}: reads needs.${need}, but job '${jobKey}' does not need '${need}'${hint}`);
        } else if (p[2] === 'outputs' && !(declared.get(need) ?? []).includes(p[3])) {
          const outs = declared.get(need) ?? [];
          const hint = outs.length ? `${suggest(p[3], outs)}; its outputs are ${outs.join(', ')}` : `: job '${need}' declares no outputs`;
          emit('EXPRESSION', positionOf(source, path), `${field}: job '${need}' has no output '${p[3]}'${hint}`);
        }
      } else if (p[0] === 'steps') {
        if (!stepIds) {
          emit('EXPRESSION', positionOf(source, path), `${field}: steps.${p.slice(1).join('.')} can only be read inside a job (its steps and outputs:)`);
        } else if (!stepIds.includes(p[1])) {
          const hint = stepIds.length ? `${suggest(p[1], stepIds)}; step ids here are ${stepIds.join(', ')}` : ': give the step an id:';
          emit('EXPRESSION', positionOf(source, path), `${field}: no step with id '${p[1]}'${hint}`);
        }
      }
    }
  };
  const template = (path: Path, value: unknown, jobKey: string | undefined, stepIds: string[] | undefined, field: string): void => {
    if (typeof value === 'string' && value.includes('${{')) check(path, templateIdentifiers(value), jobKey, stepIds, field);
  };
  const env = (path: Path, value: unknown, jobKey: string | undefined, stepIds: string[] | undefined, field: string): void => {
    for (const [k, v] of Object.entries(rec(value))) template([...path, k], v, jobKey, stepIds, `${field} env ${k}`);
  };

  env(['env'], root.env, undefined, undefined, 'pipeline');
  template(['concurrency', 'group'], rec(root.concurrency).group, undefined, undefined, 'concurrency.group');

  for (const [key, job] of Object.entries(jobs)) {
    const at = (...rest: Path): Path => ['jobs', key, ...rest];
    const what = `job '${key}'`;
    const steps = list(job.steps).map(rec);
    const ids: string[] = [];
    steps.forEach((step, i) => {
      if (typeof step.id !== 'string') return;
      if (ids.includes(step.id)) emit('INVALID_VALUE', positionOf(source, at('steps', i, 'id')), `${what}: two steps have the id '${step.id}'; step ids must be unique in a job`);
      ids.push(step.id);
    });

    if (typeof job.if === 'string') check(at('if'), conditionIdentifiers(job.if), key, undefined, `${what} if`);
    env(at('env'), job.env, key, undefined, what);
    for (const f of ['image', 'name'] as const) template(at(f), job[f], key, undefined, `${what} ${f}`);
    for (const [svc, s] of Object.entries(rec(job.services))) {
      template(at('services', svc, 'image'), rec(s).image, key, undefined, `${what} service '${svc}' image`);
      env(at('services', svc, 'env'), rec(s).env, key, undefined, `${what} service '${svc}'`);
    }
    template(at('cache', 'key'), rec(job.cache).key, key, undefined, `${what} cache.key`);
    list(rec(job.artifacts).paths).forEach((p, i) => template(at('artifacts', 'paths', i), p, key, undefined, `${what} artifacts.paths`));

    steps.forEach((step, i) => {
      const earlier = steps.slice(0, i).map((s) => s.id).filter((id): id is string => typeof id === 'string');
      const sw = `${what} steps[${i}]`;
      if (typeof step.if === 'string' && step.if.includes('needs')) {
        if (conditionIdentifiers(step.if).some((p) => p[0] === 'needs')) {
          emit('EXPRESSION', positionOf(source, at('steps', i, 'if')), `${sw} if: needs outputs are read in the job's if:, not a step's; set a step env from them instead`);
        }
      }
      if (typeof step.if === 'string') check(at('steps', i, 'if'), conditionIdentifiers(step.if).filter((p) => p[0] === 'steps'), key, earlier, `${sw} if`);
      env(at('steps', i, 'env'), step.env, key, earlier, sw);
      template(at('steps', i, 'run'), step.run, key, earlier, `${sw} run`);
    });
    for (const [name, value] of Object.entries(rec(job.outputs))) template(at('outputs', name), value, key, ids, `${what} outputs.${name}`);

    const timeout = job['approval-timeout'];
    if (typeof timeout === 'string') {
      if (parseDuration(timeout) === undefined) emit('INVALID_VALUE', positionOf(source, at('approval-timeout')), `${what} approval-timeout: '${timeout}' is not a valid duration: ${DURATION_HINT}`);
      else if (job.when !== 'manual') emit('INVALID_VALUE', keyPositionOf(source, at('approval-timeout')), `${what}: approval-timeout has no effect without when: manual`, 'warning');
    }
  }

  list(rec(root.on).schedule).forEach((raw, i) => {
    const s = rec(raw);
    if (typeof s.cron !== 'string') return;
    const zone = typeof s.timezone === 'string' ? s.timezone : undefined;
    const problem = cronProblem(s.cron, zone);
    if (!problem) return;
    const onZone = zone !== undefined && problem.startsWith(`'${zone}'`);
    emit('INVALID_VALUE', positionOf(source, ['on', 'schedule', i, onZone ? 'timezone' : 'cron']), `on.schedule[${i}]: ${problem}`);
  });
}
