/**
 * The steps of one job, in order, in the job's environment: `if:` conditions, environment
 * (job env, secrets, $KILN_ENV of earlier steps, step env, built-ins), continue-on-error, and
 * the job's outcome. Stops at the first failing step (unless continue-on-error); later steps whose
 * condition calls failure() or always() still run. After a cancel or a job timeout nothing more runs.
 * A step's own failure (its exit code, its `timeout:`) is said here once, as a log line and the
 * annotation linking to it; a cancel or a job timeout is the job's to say (job-lifecycle.ts).
 *
 * The steps run through a StepRunner (step-runner.ts) that the caller has set up and destroys
 * afterwards; nothing here knows Docker, so these rules are unit-tested against a fake runner.
 */
import type { PlannedJob, PlannedStep } from '../../shared/model/plan.js';
import type { StepSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { evaluateCondition } from '../pipeline/expressions.js';
import { renderStepOutputs } from '../pipeline/flow.js';
import type { ExpressionContext } from '../pipeline/expressions.js';
import { parseEnvFile } from './env-file.js';
import { collectStepOutputs, finishJobOutputs } from './job-outputs.js';
import type { StepOutputs } from './job-outputs.js';
import { runStep } from './exec-step.js';
import { collectStepSummary } from './step-summary.js';
import { formatBytes, formatDuration } from '../../shared/format.js';
import type { JobLog } from './log-capture.js';
import type { StepRunner } from './step-runner.js';
import { DOCKER_STORAGE_FULL, DOCKER_STORAGE_ROOM_BYTES } from '../core/disk-full.js';

export interface StepsContext {
  /** Set up by the caller, who also destroys it. */
  runner: StepRunner;
  runId: string;
  job: PlannedJob;
  event: TriggerEvent;
  /** Secret values by name (only the job's named secrets are injected). */
  secrets: Record<string, string>;
  log: JobLog;
  killGraceMs: number;
  jobSignal: AbortSignal;
  steps: StepSummary[];
  onStep(step: StepSummary): void;
  /** Asked when a step exits non-zero: a reason means its engine went away under it (see JobBackend). */
  engineLost?(exitCode?: number): Promise<string | undefined>;
}

export interface StepsOutcome {
  /** passed | failed | timed_out (a step's own timeout) — cancel and job timeout are the caller's. */
  status: Status;
  error?: string;
  /** The failing step ran out of room in its container: the Docker engine's storage, not the step, failed. */
  infrastructure?: boolean;
  /** The first failing step and the environment it ran with (a debug session starts from it). */
  failure?: { index: number; name: string; script: string; env: Record<string, string> };
  /** The job's rendered `outputs:` (job-outputs.ts); absent when it declares none or they were too large. */
  outputs?: Record<string, string>;
  /** The failing step's engine went away under it: the error says so, and no exit code is blamed. */
  engineLost?: boolean;
}

/** Largest $KILN_ENV file read back. */
const MAX_ENV_FILE_BYTES = 1024 * 1024;

/** The built-ins that come from the event, for jobs whose plan did not set them. */
export function eventVariables(event: TriggerEvent): Record<string, string> {
  const vars: Record<string, string> = { KILN_REPO: event.repo, KILN_SHA: event.sha, KILN_EVENT: event.kind };
  if (event.branch !== undefined) vars.KILN_BRANCH = event.branch;
  if (event.tag !== undefined) vars.KILN_TAG = event.tag;
  return vars;
}

function expressionContext({ ctx, env, failed, steps }: { ctx: StepsContext; env: Record<string, string>; failed: boolean; steps: StepOutputs }): ExpressionContext {
  const e = ctx.event;
  return {
    event: e.kind,
    branch: e.branch,
    tag: e.tag,
    sha: e.sha,
    repo: e.repo,
    ref: e.ref,
    matrix: ctx.job.matrix,
    env,
    steps,
    status: { success: !failed, failure: failed, cancelled: false },
  };
}

async function readStepEnv(ctx: StepsContext, step: PlannedStep): Promise<Record<string, string>> {
  try {
    const text = await ctx.runner.readEnvFile({ index: step.index, maxBytes: MAX_ENV_FILE_BYTES });
    if (text === '') return {};
    const parsed = parseEnvFile(text);
    for (const p of parsed.problems) ctx.log.system(`warning: $KILN_ENV of step '${step.name}', ${p}`, step.index);
    return parsed.vars;
  } catch (err) {
    ctx.log.system(`warning: could not read $KILN_ENV of step '${step.name}': ${(err as Error).message}`, step.index);
    return {};
  }
}

export async function runSteps(ctx: StepsContext): Promise<StepsOutcome> {
  const { job, log } = ctx;
  const secrets: Record<string, string> = {};
  for (const name of job.secrets) {
    if (name in ctx.secrets) secrets[name] = ctx.secrets[name];
    else log.system(`warning: secret ${name} is not configured; the variable is not set`);
  }
  const base = { ...eventVariables(ctx.event), ...job.env };
  let propagated: Record<string, string> = {};
  const stepOutputs: StepOutputs = {};
  let failed = false;
  // The job's status after a failure is that of the first failing step (failed or timed_out).
  let firstFailure: Status | undefined;
  let error: string | undefined;
  let infrastructure = false;
  let summaryBytes = 0;
  let failure: StepsOutcome['failure'];

  const update = (summary: StepSummary, patch: Partial<StepSummary>): void => {
    Object.assign(summary, patch);
    ctx.onStep({ ...summary });
  };

  for (let i = 0; i < job.steps.length; i++) {
    const step = job.steps[i];
    const summary = ctx.steps[i];
    if (ctx.jobSignal.aborted) break;
    let shouldRun: boolean;
    try {
      shouldRun = evaluateCondition(step.if || 'success()', expressionContext({ ctx, env: { ...base, ...propagated }, failed, steps: stepOutputs }));
    } catch (err) {
      const seq = log.system(`step '${step.name}': invalid condition '${step.if}': ${(err as Error).message}`, step.index);
      log.annotate({ level: 'error', message: `step '${step.name}' has an invalid condition: ${(err as Error).message}`, step: step.index, seq });
      update(summary, { status: 'failed', logOffset: log.offset });
      failed = true;
      firstFailure ??= 'failed';
      error ??= `step '${step.name}' has an invalid condition`;
      continue;
    }
    if (!shouldRun) {
      update(summary, { status: 'skipped' });
      continue;
    }

    const startedAt = Date.now();
    update(summary, { status: 'running', startedAt, logOffset: log.offset });
    log.system(`step '${step.name}'`, step.index);
    const where = ctx.runner.locations(step.index);
    const env: Record<string, string> = {
      ...base,
      ...secrets,
      ...propagated,
      ...renderStepOutputs(step.env, expressionContext({ ctx, env: { ...base, ...propagated }, failed, steps: stepOutputs })),
      KILN_RUN_ID: ctx.runId,
      // The planner's KILN_JOB (the job key) when it set one, else the planned job id.
      KILN_JOB: job.env.KILN_JOB ?? job.id,
      KILN_WORKSPACE: where.workspace,
      KILN_ENV: where.envFile,
      ...(where.summaryFile ? { KILN_SUMMARY: where.summaryFile } : {}),
      KILN_OUTPUT: where.outputFile,
    };
    const output = log.openStep(step.index, step.name);
    // A step's failure is said once, as it happens: a log line and the annotation linking to it.
    const sayFailure = (what: string): void => {
      const message = step.continueOnError ? `step '${step.name}' ${what}; continuing (continue-on-error)` : `step '${step.name}' ${what}`;
      log.annotate({ level: step.continueOnError ? 'warning' : 'error', message, step: step.index, seq: log.system(message, step.index) });
    };
    const timedOutAfter = `timed out after ${formatDuration(step.timeoutMs ?? 0)}`;
    const outcome = await runStep({
      runner: ctx.runner,
      index: step.index,
      script: step.run,
      env,
      timeoutMs: step.timeoutMs,
      killGraceMs: ctx.killGraceMs,
      output,
      jobSignal: ctx.jobSignal,
      note: (text) => log.system(text, step.index),
      onStepTimeout: () => sayFailure(timedOutAfter),
    });
    const finishedAt = Date.now();
    const durationMs = finishedAt - startedAt;
    const lost = outcome.status === 'failed' && outcome.interruptedBy === undefined ? await ctx.engineLost?.(outcome.exitCode) : undefined;
    if (lost) {
      // Killed with its container (exit 137, or a broken stream): the engine's doing, not the step's.
      update(summary, { status: 'failed', finishedAt, durationMs });
      log.system(`step '${step.name}' did not finish: ${lost}`, step.index);
      return { status: 'failed', error: lost, engineLost: true };
    }
    update(summary, { status: outcome.status, exitCode: outcome.exitCode, finishedAt, durationMs });

    // The job's stop (cancel, job timeout) was said by the job, once, when it happened.
    if (outcome.interruptedBy === 'job') break;
    summaryBytes += await collectStepSummary({ runner: ctx.runner, log, step, used: summaryBytes });
    await collectStepOutputs(ctx.runner, step, log, stepOutputs);
    const more = job.steps.slice(i + 1).length > 0;
    if (outcome.status === 'passed') {
      log.system(`step '${step.name}' passed in ${formatDuration(durationMs)}`, step.index);
    } else {
      const what = outcome.status === 'timed_out' ? timedOutAfter : `failed with exit code ${outcome.exitCode}`;
      // A timeout was said when the timer fired; an exit code is said here (the job's error is this sentence).
      if (outcome.status !== 'timed_out') sayFailure(what);
      if (!step.continueOnError) {
        failed = true;
        firstFailure ??= outcome.status;
        if (error === undefined && output.sawDiskFull) {
          const space = await judgeNoSpace(ctx.runner);
          if (space.engineFull) {
            error = `${DOCKER_STORAGE_FULL}: step '${step.name}' ${what} (No space left on device in the container; ${space.said})`;
            infrastructure = true;
          } else {
            error = `step '${step.name}' ${what} (No space left on device inside the container; ${space.said})`;
            log.system(`No space left on device inside the container, but ${space.said}: the step filled a disk of its own (a tmpfs such as /dev/shm, or a volume)`, step.index);
          }
        }
        error ??= `step '${step.name}' ${what}`;
        failure ??= { index: step.index, name: step.name, script: step.run, env };
      }
    }
    // Only the outcome of a step that ran to its end can hand variables on; skip the read when no step follows.
    if (more && (outcome.status === 'passed' || step.continueOnError)) {
      propagated = { ...propagated, ...(await readStepEnv(ctx, step)) };
    }
  }
  const failedWith = { error, failure, ...(infrastructure ? { infrastructure } : {}) };
  if (ctx.jobSignal.aborted) return { status: firstFailure ?? 'failed', ...failedWith };
  const out = finishJobOutputs(job, expressionContext({ ctx, env: { ...base, ...propagated }, failed, steps: stepOutputs }), log);
  if (out.error && !failed) return { status: 'failed', error: out.error };
  if (!failed) return { status: 'passed', ...(out.outputs ? { outputs: out.outputs } : {}) };
  return { status: firstFailure ?? 'failed', ...failedWith, ...(out.outputs ? { outputs: out.outputs } : {}) };
}

/**
 * A step said "No space left on device": was it the engine's storage? Decided by measuring it, not
 * by the words. What cannot be measured is left as the step's failure: if the engine is full, the
 * next container create says so in the engine's own words, and that is reported as its failure.
 */
async function judgeNoSpace(runner: StepRunner): Promise<{ engineFull: boolean; said: string }> {
  const space = await runner.storageSpace?.().catch(() => undefined);
  if (!space) return { engineFull: false, said: "Docker's storage could not be measured" };
  if (space.freeBytes < DOCKER_STORAGE_ROOM_BYTES) return { engineFull: true, said: `${formatBytes(space.freeBytes)} of ${formatBytes(space.totalBytes)} free` };
  return { engineFull: false, said: `Docker's storage has ${formatBytes(space.freeBytes)} free` };
}
