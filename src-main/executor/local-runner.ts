/**
 * Runs a whole plan on one executor, in DAG order with bounded parallelism: what `kiln run` uses
 * (the server's queue has its own durable scheduler).
 *
 * A job starts when every job it needs is terminal and `decideJob` says 'run' (by default only
 * when every need passed; `if: always()` / `failure()` jobs run after failures). Jobs skipped at
 * plan time stay skipped. After a cancel, running jobs are cancelled through their signal and jobs
 * not yet started end as cancelled without running. Job outputs flow as on the server
 * (`needs.<job>.outputs` and `needs.<job>.result` in `if:`, env and scripts); a `when: manual` job is skipped, saying so:
 * nobody is there to approve it, and a deploy must not run by accident from a workstation.
 * Caches and artifacts come with the hooks the caller gives (`kiln run` keeps caches under the user's
 * cache directory and copies artifacts to a directory).
 *
 * Each job's lines are numbered here (from 0, as a job's log would), so the executor can tie what a
 * step reports to its line: annotations from `::error …::` come only for numbered lines.
 */
import { randomBytes } from 'node:crypto';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { LogEntry } from '../../shared/model/run.js';
import { runStatusOf, type Status } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { eventContext } from '../pipeline/plan.js';
import { decideJob } from '../pipeline/readiness.js';
import { buildNeedsContext, withNeedsOutputs } from '../pipeline/flow.js';
import type { ExpressionContext } from '../pipeline/expressions.js';
import type { DockerExecutor } from './docker-executor.js';
import type { JobDebug, JobHooks, JobRecord, JobResult, WorkspaceSource } from '../core/job-contract.js';

export type LocalJobOutcome = JobResult | { status: 'skipped' };

export interface RunPlanOptions {
  executor: DockerExecutor;
  event: TriggerEvent;
  source: WorkspaceSource;
  secrets: Record<string, string>;
  parallelism: number;
  signal: AbortSignal;
  /** Every line of a job, in order (numbered per job from 0; nothing here keeps a log). */
  onLog(jobId: string, line: LogEntry): void;
  /** What a job produced besides lines: annotations, job summaries, log groups (in order). */
  onRecord?(jobId: string, record: JobRecord): void;
  /** Work before and after a job's steps (caches, artifacts, test reports); absent: none. */
  hooksFor?(job: PlannedJob): JobHooks | undefined;
  onJob?(jobId: string, result: LocalJobOutcome): void;
  /** Called when a job starts running. */
  onJobStart?(jobId: string): void;
  /** Default: a fresh `local-…` id. */
  runId?: string;
  /** Keep-on-failure for a job (`kiln run --debug`); absent: failed jobs are torn down at once. */
  debugFor?(job: PlannedJob): JobDebug | undefined;
}

/** The run's status from its jobs (the rule `kiln serve` uses too); an interrupted run is cancelled. */
export function overallStatus(statuses: Status[], cancelled: boolean): Status {
  if (cancelled) return 'cancelled';
  return statuses.length === 0 ? 'passed' : runStatusOf(statuses.map((status) => ({ status })), true);
}

function notStarted(job: PlannedJob): JobResult {
  return { status: 'cancelled', steps: job.steps.map((s) => ({ index: s.index, name: s.name, status: 'skipped' })), error: 'cancelled before it started', logOffset: 0 };
}

export async function runPlan(plan: Plan, options: RunPlanOptions): Promise<{ status: Status; jobs: Map<string, LocalJobOutcome> }> {
  const runId = options.runId ?? `local-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const parallelism = Math.max(1, Math.floor(options.parallelism) || 1);
  const results = new Map<string, LocalJobOutcome>();
  const pending = plan.jobs.slice();
  const running = new Map<string, Promise<void>>();
  const known = new Set(plan.jobs.map((j) => j.id));

  const finish = (id: string, outcome: LocalJobOutcome): void => {
    results.set(id, outcome);
    try {
      options.onJob?.(id, outcome);
    } catch {
      // a reporting failure must not stop the run
    }
  };

  const start = (job: PlannedJob): void => {
    options.onJobStart?.(job.id);
    let seq = 0;
    const promise = options.executor
      .runJob({
        runId,
        jobId: job.id,
        job,
        event: options.event,
        source: options.source,
        secrets: options.secrets,
        signal: options.signal,
        onLog: (line) => {
          options.onLog(job.id, line);
          return { ...line, seq: seq++ };
        },
        onRecord: options.onRecord && ((record) => options.onRecord?.(job.id, record)),
        hooks: options.hooksFor?.(job),
        debug: options.debugFor?.(job),
      })
      .then(
        (result) => finish(job.id, result),
        (err: unknown) => finish(job.id, { status: 'failed', steps: [], error: `executor error: ${(err as Error).message}`, infrastructure: true, logOffset: 0 }),
      )
      .finally(() => running.delete(job.id));
    running.set(job.id, promise);
  };

  const keyOf = new Map(plan.jobs.map((j) => [j.id, j.key]));
  /** `needs.<job>.outputs` and `.result` from the finished needs' results, built as the server builds them. */
  const needsOf = (ids: string[]): NonNullable<ExpressionContext['needs']> => buildNeedsContext(ids, (id) => keyOf.get(id), (id) => {
    const r = results.get(id);
    return r && { status: r.status, outputs: 'outputs' in r ? r.outputs : undefined };
  });

  for (;;) {
    // Settle every pending job whose needs are terminal: skip it, cancel it, or start it if there is room.
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (let i = 0; i < pending.length; i++) {
        const job = pending[i];
        const needs = job.needs.filter((n) => known.has(n));
        if (!needs.every((n) => results.has(n))) continue;
        if (options.signal.aborted) {
          finish(job.id, notStarted(job));
        } else {
          const needStatuses = needs.map((n) => results.get(n)?.status ?? 'skipped');
          const ctx: ExpressionContext = { ...eventContext(options.event), matrix: job.matrix, env: job.env, needs: needsOf(needs) };
          if (decideJob(job, needStatuses, ctx) === 'skip') {
            finish(job.id, { status: 'skipped' });
          } else if (job.manual) {
            options.onLog(job.id, { ts: Date.now(), stream: 'system', step: null, text: '[kiln] skipped: when: manual waits for approval, which kiln run cannot give (kiln serve can)' });
            finish(job.id, { status: 'skipped' });
          } else if (running.size < parallelism) {
            start(withNeedsOutputs(job, ctx));
          } else {
            continue;
          }
        }
        pending.splice(i, 1);
        i--;
        progressed = true;
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  // Needs that can never be met (not in the plan) were filtered above; anything left is a bug guard.
  for (const job of pending) finish(job.id, { status: 'skipped' });
  const statuses = plan.jobs.map((j) => results.get(j.id)?.status ?? 'skipped');
  return { status: overallStatus(statuses, options.signal.aborted), jobs: results };
}
