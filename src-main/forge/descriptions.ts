/**
 * What a commit status says: Kiln's run and job statuses mapped to the forge's four states, and a
 * description a person can act on in at most 140 characters (GitHub refuses longer ones).
 *
 * The mapping never leaves a pull request waiting on a `pending` that will not change: every
 * terminal status maps to a terminal state.
 *
 *   queued, running            → pending   "Queued behind 2 runs", "Running",
 *                                          "Waiting for approval: deploy" (every unfinished job waits for one)
 *   passed                     → success   "Passed in 1 min 12 s"
 *   skipped                    → success   "Skipped: <why>"  (nothing ran; as GitHub Actions does)
 *   failed, timed_out          → failure   "Failed: test › Unit (exit 1) after 48 s"
 *   cancelled                  → error     "Cancelled (superseded by 3f2a9c1)" or "Cancelled"
 *
 * Pure functions: the reporter gathers the facts (queue position, superseding commit).
 */
import type { JobSummary, RunDetail } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { ForgeState } from '../storage/status-outbox.js';
import { formatElapsed } from '../../shared/format.js';

export const MAX_DESCRIPTION = 140;

export function forgeStateOf(status: Status): ForgeState {
  switch (status) {
    case 'queued': case 'running': return 'pending';
    case 'passed': case 'skipped': return 'success';
    case 'failed': case 'timed_out': return 'failure';
    case 'cancelled': return 'error';
  }
}


/** Cuts to 140 characters on a character boundary, with an ellipsis when cut. */
export function clip(text: string, max = MAX_DESCRIPTION): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

export interface RunFacts {
  /** Runs ahead of this one in the queue, when it is queued. */
  queuedBehind?: number;
  /** The commit whose run cancelled this one. */
  supersededBy?: string;
}

const elapsed = (startedAt?: number, finishedAt?: number, durationMs?: number) =>
  durationMs ?? (startedAt !== undefined && finishedAt !== undefined ? finishedAt - startedAt : undefined);

/** The first failed (or timed-out) step of a job: `Unit (exit 1)`. */
function failedStep(job: JobSummary): string | undefined {
  const step = job.steps.find((s) => s.status === 'failed' || s.status === 'timed_out');
  if (!step) return undefined;
  return `${step.name}${step.exitCode !== undefined && step.exitCode !== null ? ` (exit ${step.exitCode})` : step.status === 'timed_out' ? ' (timed out)' : ''}`;
}

/** A held run: its jobs waiting for approval by name when the run carries its jobs, else their number. */
function waitingDescription(run: RunDetail, n: number): string {
  const names = run.jobs.filter((j) => j.approval?.state === 'waiting' && j.status === 'queued').map((j) => j.name);
  return clip(`Waiting for approval: ${names.length ? names.join(', ') : `${n} job${n === 1 ? '' : 's'}`}`);
}

export function runDescription(run: RunDetail, facts: RunFacts = {}): string {
  if ((run.status === 'queued' || run.status === 'running') && run.waitingForApproval) return waitingDescription(run, run.waitingForApproval);
  const took = elapsed(run.startedAt ?? run.createdAt, run.finishedAt, run.durationMs);
  const after = took !== undefined ? ` after ${formatElapsed(took)}` : '';
  switch (run.status) {
    case 'queued':
      return facts.queuedBehind ? `Queued behind ${facts.queuedBehind} run${facts.queuedBehind === 1 ? '' : 's'}` : 'Queued';
    case 'running':
      // Not "1 of 3 jobs done": each change would be one more write at GitHub's one-a-second pace.
      return 'Running';
    case 'passed':
      return clip(`Passed${took !== undefined ? ` in ${formatElapsed(took)}` : ''}`);
    case 'skipped':
      return clip(`Skipped${run.error ? `: ${run.error}` : ''}`);
    case 'cancelled':
      return facts.supersededBy ? `Cancelled (superseded by ${facts.supersededBy.slice(0, 7)})` : 'Cancelled';
    case 'failed':
    case 'timed_out': {
      const word = run.status === 'failed' ? 'Failed' : 'Timed out';
      const job = run.jobs.find((j) => j.status === 'failed' || j.status === 'timed_out');
      if (!job) return clip(`${word}${run.error ? `: ${run.error}` : ''}${run.error ? '' : after}`);
      const step = failedStep(job);
      const what = step ? `${job.name} › ${step}` : `${job.name}${job.error ? ` (${job.error})` : ''}`;
      return clipKeepingTail(`${word}: ${what}`, after);
    }
  }
}

export function jobDescription(job: JobSummary): string {
  const took = elapsed(job.startedAt, job.finishedAt, job.durationMs);
  const after = took !== undefined ? ` after ${formatElapsed(took)}` : '';
  switch (job.status) {
    case 'queued': return job.approval?.state === 'waiting' ? 'Waiting for approval' : 'Queued';
    case 'running': return 'Running';
    case 'passed': return `Passed${took !== undefined ? ` in ${formatElapsed(took)}` : ''}`;
    case 'skipped': return clip(`Skipped${job.error ? `: ${job.error}` : ''}`);
    case 'cancelled': return clip(`Cancelled${job.error ? `: ${job.error}` : ''}`);
    case 'failed':
    case 'timed_out': {
      const step = failedStep(job);
      return clipKeepingTail(`${job.status === 'failed' ? 'Failed' : 'Timed out'}${step ? `: ${step}` : job.error ? `: ${job.error}` : ''}`, after);
    }
  }
}

/** Cuts the head, never the tail (`after 48 s`), when both do not fit. */
function clipKeepingTail(head: string, tail: string): string {
  return clip(head, MAX_DESCRIPTION - [...tail].length) + tail;
}
