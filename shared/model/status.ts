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
