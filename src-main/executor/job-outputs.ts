/**
 * A job's outputs, on the executor's side: each step with an `id:` may append `name=value` lines
 * (or `name<<DELIM` blocks) to `$KILN_OUTPUT`; after the step they are read back and become
 * `steps.<id>.outputs.<name>` for later steps and for the job's `outputs:` templates, which are
 * rendered once the steps are done. What leaves the job is masked like its log (a secret's value
 * reads `***`) and limited to 1 MB, as GitHub limits a job's outputs.
 */
import { formatBytes, formatLimit } from '../../shared/format.js';
import type { PlannedJob, PlannedStep } from '../../shared/model/plan.js';
import type { ExpressionContext } from '../pipeline/expressions.js';
import { MAX_JOB_OUTPUT_BYTES, outputBytes, renderJobOutputs } from '../pipeline/flow.js';
import { parseOutputFile } from './env-file.js';
import type { JobLog } from './log-capture.js';
import type { StepRunner } from './step-runner.js';

export type StepOutputs = Record<string, { outputs: Record<string, string> }>;

/** Reads what a step with an id wrote to $KILN_OUTPUT into `into` (problems are warning lines). */
export async function collectStepOutputs(runner: StepRunner, step: PlannedStep, log: JobLog, into: StepOutputs): Promise<void> {
  if (step.id === undefined) return;
  try {
    const text = await runner.readEnvFile({ index: step.index, maxBytes: MAX_JOB_OUTPUT_BYTES, file: 'output' });
    const parsed = parseOutputFile(text);
    for (const p of parsed.problems) log.system(`warning: $KILN_OUTPUT of step '${step.name}', ${p}`, step.index);
    into[step.id] = { outputs: { ...into[step.id]?.outputs, ...parsed.vars } };
  } catch (err) {
    const message = /larger than/.test((err as Error).message) ? `it is larger than the ${formatLimit(MAX_JOB_OUTPUT_BYTES)} a job's outputs may hold` : (err as Error).message;
    log.system(`warning: could not read $KILN_OUTPUT of step '${step.name}': ${message}`, step.index);
  }
}

/**
 * The job's `outputs:` rendered against its steps' outputs and masked; `error` when they exceed
 * the limit (the job then fails with that sentence, and hands on no outputs).
 */
export function finishJobOutputs(job: PlannedJob, ctx: ExpressionContext, log: JobLog): { outputs?: Record<string, string>; error?: string } {
  if (!job.outputs) return {};
  const rendered = renderJobOutputs(job.outputs, ctx);
  const outputs = Object.fromEntries(Object.entries(rendered).map(([k, v]) => [k, log.mask(v)]));
  const size = outputBytes(outputs);
  if (size > MAX_JOB_OUTPUT_BYTES) {
    const error = `the job's outputs are ${formatBytes(size)}, more than the ${formatLimit(MAX_JOB_OUTPUT_BYTES)} a job may hand on; write large values to an artifact and pass its name instead`;
    log.system(`error: ${error}`);
    return { error };
  }
  const names = Object.keys(outputs);
  if (names.length) log.system(`outputs: ${names.map((n) => `${n} (${formatBytes(Buffer.byteLength(outputs[n]))})`).join(', ')}`);
  return { outputs };
}
