/**
 * Why a queued job waits for a slot, in one clause for the run list and the run view: its
 * repository is at its `per-repository` limit ("acme/web is at its per-repository limit (1): 1 job
 * kept for debug"), or every `concurrency.jobs` slot is taken — naming jobs kept for debugging,
 * which hold slots without running anything, so a user sees what to end. Undefined when neither
 * limit explains the wait (an engine's limit or labels, a full disk, or simply the next claim
 * pass): better nothing than a wrong reason.
 */
import type { SlotHolders } from './job-queue.js';

export interface SlotWaitInput {
  repo: string;
  limits: { jobs: number; perRepository: number };
  /** What holds each repository's slots now (JobQueue.slotHolders). */
  holders: SlotHolders[];
}

export function whySlotWait(o: SlotWaitInput): string | undefined {
  const own = o.holders.find((h) => h.repo === o.repo);
  if (own && own.holding >= o.limits.perRepository) {
    return `${o.repo} is at its per-repository limit (${o.limits.perRepository}): ${describe(own.holding, own.kept)}`;
  }
  const holding = o.holders.reduce((n, h) => n + h.holding, 0);
  if (holding >= o.limits.jobs) {
    const kept = o.holders.reduce((n, h) => n + h.kept, 0);
    return `Kiln is at its job limit (${o.limits.jobs}): ${describe(holding, kept)}`;
  }
  return undefined;
}

/** "2 jobs running, 1 job kept for debug" (a kept job is not running: it only holds its slot). */
function describe(holding: number, kept: number): string {
  const jobs = (n: number): string => `${n} job${n === 1 ? '' : 's'}`;
  const running = holding - kept;
  return [running > 0 ? `${jobs(running)} running` : '', kept > 0 ? `${jobs(kept)} kept for debug` : ''].filter(Boolean).join(', ');
}
