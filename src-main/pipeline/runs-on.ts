/**
 * `runs-on:` — the engine labels a job needs. An engine satisfies a job when it has every label the
 * job lists (`gpu`, `arch=arm64`). A job that no configured engine can ever satisfy is a plan-time
 * error naming the labels and the engines there are, rather than a job queued forever.
 */
import type { Diagnostic } from '../../shared/diagnostics.js';
import type { Plan } from '../../shared/model/plan.js';
import type { Pipeline } from './pipeline-model.js';

export function engineSatisfies(engineLabels: readonly string[], wanted: readonly string[] | undefined): boolean {
  return !wanted || wanted.every((label) => engineLabels.includes(label));
}

/** One error per pipeline job (not per matrix cell) whose `runs-on:` no engine has. */
export function runsOnDiagnostics(pipeline: Pipeline, plan: Plan, engines: ReadonlyArray<{ name: string; labels: readonly string[] }>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const job of plan.jobs) {
    if (!job.runsOn?.length || seen.has(job.key) || engines.some((e) => engineSatisfies(e.labels, job.runsOn))) continue;
    seen.add(job.key);
    const pos = pipeline.positionOf(['jobs', job.key, 'runs-on']);
    const have = engines.map((e) => `${e.name} [${e.labels.join(', ')}]`).join(', ');
    out.push({
      code: 'NO_ENGINE', severity: 'error', file: pipeline.file, line: pos.line, col: pos.col,
      message: `job '${job.key}' runs-on [${job.runsOn.join(', ')}], which no engine has (engines: ${have || 'none'}); add the labels to an engine under engines: in kiln.config.yml, or change runs-on`,
    });
  }
  return out;
}
