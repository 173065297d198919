/**
 * `needs.<job>.outputs.<name>` and `needs.<job>.result` for one job, from the stored rows of the
 * jobs it needs: what the scheduler evaluates a job's `if:` with, and what the job runner renders
 * the job's env with just before it runs. Keyed by job key, as the pipeline file writes it; for a
 * matrix job the instances' outputs are merged in plan order (the last instance's value wins).
 */
import type { PlannedJob } from '../../shared/model/plan.js';
import type { Status } from '../../shared/model/status.js';
import type { ExpressionContext } from '../pipeline/expressions.js';
import type { FlowStore } from '../storage/flow-store.js';
import type { JobRow } from '../storage/run-store.js';

const RESULT_OF: Partial<Record<Status, string>> = { passed: 'success', failed: 'failure', timed_out: 'failure', cancelled: 'cancelled', skipped: 'skipped' };

export function needsContext(needPlanIds: readonly string[], rows: readonly JobRow[], plan: ReadonlyMap<string, PlannedJob>, flow: FlowStore): NonNullable<ExpressionContext['needs']> {
  const byPlanId = new Map(rows.map((r) => [r.plan_id, r]));
  const needs: NonNullable<ExpressionContext['needs']> = {};
  for (const planId of needPlanIds) {
    const row = byPlanId.get(planId);
    const key = plan.get(planId)?.key ?? planId;
    const entry = (needs[key] ??= { outputs: {} });
    if (!row) continue;
    Object.assign(entry.outputs, flow.outputsOf(row.id));
    // A matrix job's result is the worst of its instances, as GitHub reports it.
    const result = RESULT_OF[row.status];
    if (result && entry.result !== 'failure' && entry.result !== 'cancelled') entry.result = result;
  }
  return needs;
}
