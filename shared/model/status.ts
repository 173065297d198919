/** The status of a run, job or step. Terminal statuses never change again. */
export type Status = 'queued' | 'running' | 'passed' | 'failed' | 'cancelled' | 'timed_out' | 'skipped';

export const TERMINAL_STATUSES: readonly Status[] = ['passed', 'failed', 'cancelled', 'timed_out', 'skipped'];

/** Every status, in lifecycle order (filters, validation). */
export const STATUSES: readonly Status[] = ['queued', 'running', ...TERMINAL_STATUSES];

export function isTerminal(status: Status): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export type Priority = 'low' | 'normal' | 'high' | 'critical';

/** Lowest first. */
export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high', 'critical'];

/** Higher number is dequeued first. */
export const PRIORITY_RANK: Record<Priority, number> = { low: 0, normal: 1, high: 2, critical: 3 };

/**
 * A run's status from its jobs — the one rule for `kiln serve` and `kiln run`: failed if any job
 * failed, else timed_out if any timed out, else cancelled if any was cancelled, else skipped if
 * every job was skipped (as GitHub Actions shows a workflow whose jobs were all skipped), else
 * passed. Skipped jobs never fail a run. While some job is not terminal the run is running once any
 * job started (`started`), queued before.
 */
export function runStatusOf(jobs: readonly { status: Status }[], started: boolean): Status {
  if (jobs.length === 0) return started ? 'running' : 'queued';
  const done = jobs.every((j) => isTerminal(j.status));
  if (!done) return started || jobs.some((j) => j.status === 'running') ? 'running' : 'queued';
  // A red job outranks a timed-out one, which outranks a cancelled one: the run shows the worst.
  if (jobs.some((j) => j.status === 'failed')) return 'failed';
  if (jobs.some((j) => j.status === 'timed_out')) return 'timed_out';
  if (jobs.some((j) => j.status === 'cancelled')) return 'cancelled';
  if (jobs.every((j) => j.status === 'skipped')) return 'skipped';
  return 'passed';
}

/** Whether a finished run counts as success (exit 0 of `kiln run`, a green badge): nothing failed. */
export function isSuccess(status: Status): boolean {
  return status === 'passed' || status === 'skipped';
}
