/**
 * Whether a job whose needs are all terminal should run. Schedulers call this once every need has a
 * terminal status; conditions without status functions were already decided at plan time.
 */
import type { PlannedJob } from '../../shared/model/plan.js';
import type { Status } from '../../shared/model/status.js';
import { evaluateCondition, usesStatusFunctions } from './expressions.js';
import type { ExpressionContext } from './expressions.js';
import { conditionReadsNeeds } from './flow.js';

/** The status functions' view of a job's needs: skipped needs count as not-success, not as failure. */
export function needsOutcome(needStatuses: readonly Status[]): { success: boolean; failure: boolean; cancelled: boolean } {
  return {
    success: needStatuses.every((s) => s === 'passed'),
    failure: needStatuses.some((s) => s === 'failed' || s === 'timed_out'),
    cancelled: needStatuses.some((s) => s === 'cancelled'),
  };
}

/**
 * 'run' or 'skip' for a job whose needs are terminal.
 * - A job skipped at plan time stays skipped.
 * - If `job.if` calls success()/failure()/always()/cancelled(), it is evaluated with the needs'
 *   outcome as status (so `always()` runs regardless, `failure()` runs after a failed need).
 * - If it reads `needs.<job>.outputs` (ctx.needs), it is evaluated now, with an implicit success().
 * - Otherwise the implicit condition is success(): run only when every need passed.
 * Never throws: a condition that cannot be evaluated (it was validated at plan time) skips the job.
 */
export function decideJob(job: PlannedJob, needStatuses: Status[], ctx: ExpressionContext): 'run' | 'skip' {
  if (job.skipped) return 'skip';
  const outcome = needsOutcome(needStatuses);
  if (job.if && (usesStatusFunctions(job.if) || conditionReadsNeeds(job.if))) {
    try {
      return evaluateCondition(job.if, { ...ctx, status: outcome }) ? 'run' : 'skip';
    } catch {
      return 'skip';
    }
  }
  return outcome.success ? 'run' : 'skip';
}
