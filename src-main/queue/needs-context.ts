/**
 * The server's side of `needs.<job>.outputs.<name>` and `needs.<job>.result`: the stored rows of
 * the jobs a job needs, fed to the one builder (pipeline/flow.ts, which `kiln run` uses too). What
 * the scheduler evaluates a job's `if:` with, and what the job runner renders the job's env with
 * just before it runs.
 */
import type { PlannedJob } from '../../shared/model/plan.js';
import type { ExpressionContext } from '../pipeline/expressions.js';
import { buildNeedsContext } from '../pipeline/flow.js';
import type { FlowStore } from '../storage/flow-store.js';
import type { JobRow } from '../storage/run-store.js';

export function needsContext(needPlanIds: readonly string[], rows: readonly JobRow[], plan: ReadonlyMap<string, PlannedJob>, flow: FlowStore): NonNullable<ExpressionContext['needs']> {
  const byPlanId = new Map(rows.map((r) => [r.plan_id, r]));
  return buildNeedsContext(needPlanIds, (id) => plan.get(id)?.key, (id) => {
    const row = byPlanId.get(id);
    return row && { status: row.status, outputs: flow.outputsOf(row.id) };
  });
}
