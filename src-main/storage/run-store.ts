/**
 * Runs, jobs and steps in SQLite. Pure storage: no scheduling decisions live here except the
 * derivation of a run's status from its jobs, which every writer must agree on.
 *
 * Callers wrap multi-statement changes in `db.transaction` themselves; every method here is a
 * single prepared statement or a read, so it composes inside their transactions.
 */
import type { Db } from './db.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { JobSummary, Page, RunDetail, RunSummary, StepSummary, DagEdge } from '../../shared/model/run.js';
import type { Priority, Status } from '../../shared/model/status.js';
import { isTerminal, runStatusOf } from '../../shared/model/status.js';
import type { EventKind, TriggerEvent } from '../../shared/model/trigger-event.js';
import type Database from 'better-sqlite3';

export interface RunRow {
  id: string;
  number: number;
  repo: string;
  pipeline: string;
  event: EventKind;
  branch: string | null;
  tag: string | null;
  base_branch: string | null;
  sha: string;
  ref: string | null;
  commit_message: string | null;
  commit_author: string | null;
  pr_number: number | null;
  pr_title: string | null;
  triggered_by: string | null;
  priority: Priority;
  concurrency_group: string | null;
  status: Status;
  error: string | null;
  plan_json: string;
  rerun_of: string | null;
  cancel_requested: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface JobRow {
  id: string;
  run_id: string;
  plan_id: string;
  name: string;
  stage: string | null;
  position: number;
  needs_json: string;
  status: Status;
  error: string | null;
  attempt: number;
  started_at: number | null;
  finished_at: number | null;
  log_lines: number;
  log_bytes: number;
  /** The Docker engine the job runs or ran on (null before it started, and for rows older than engines). */
  engine?: string | null;
}

interface StepRow {
  job_id: string;
  idx: number;
  name: string;
  status: Status;
  exit_code: number | null;
  log_offset: number | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface NewRun {
  id: string;
  event: TriggerEvent;
  pipeline: string;
  priority: Priority;
  concurrencyGroup?: string;
  status: Status;
  error?: string;
  plan: Plan;
  rerunOf?: string;
  createdAt: number;
}

export interface RunFilter {
  repo?: string;
  branch?: string;
  status?: Status;
}

/** Thrown for a cursor that this store did not produce. */
export class BadCursorError extends Error {}


export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [number, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through to the error below
  }
  throw new BadCursorError(`invalid cursor '${cursor}': pass back the nextCursor of a previous page`);
}

function opt<T>(v: T | null): T | undefined {
  return v === null ? undefined : v;
}

function duration(start: number | null, end: number | null): number | undefined {
  return start !== null && end !== null ? Math.max(0, end - start) : undefined;
}

/** The columns toRunSummary reads. */
type SummaryRow = Omit<RunRow, 'plan_json' | 'base_branch' | 'ref' | 'concurrency_group' | 'rerun_of' | 'cancel_requested'>;

export function toRunSummary(r: SummaryRow): RunSummary {
  return {
    id: r.id, number: r.number, repo: r.repo, pipeline: r.pipeline, event: r.event,
    branch: opt(r.branch), tag: opt(r.tag), sha: r.sha,
    commitMessage: opt(r.commit_message), commitAuthor: opt(r.commit_author),
    prNumber: opt(r.pr_number), prTitle: opt(r.pr_title), triggeredBy: opt(r.triggered_by),
    priority: r.priority, status: r.status, createdAt: r.created_at,
    startedAt: opt(r.started_at), finishedAt: opt(r.finished_at),
    durationMs: duration(r.started_at, r.finished_at), error: opt(r.error),
  };
}

/** The event a stored run was started by (for re-runs and job requests). */
export function toTriggerEvent(r: RunRow): TriggerEvent {
  return {
    kind: r.event, repo: r.repo, branch: opt(r.branch), tag: opt(r.tag), baseBranch: opt(r.base_branch),
    sha: r.sha, ref: opt(r.ref), prNumber: opt(r.pr_number), prTitle: opt(r.pr_title),
    commitMessage: opt(r.commit_message), commitAuthor: opt(r.commit_author), triggeredBy: opt(r.triggered_by),
  };
}

function toStep(s: StepRow): StepSummary {
  return {
    index: s.idx, name: s.name, status: s.status, exitCode: opt(s.exit_code),
    startedAt: opt(s.started_at), finishedAt: opt(s.finished_at),
    durationMs: duration(s.started_at, s.finished_at), logOffset: opt(s.log_offset),
  };
}

export class RunStore {
  private readonly s: Record<string, Database.Statement>;

  constructor(private readonly db: Db) {
    this.s = {
      nextNumber: db.prepare(`INSERT INTO counters (name, value) VALUES ('run_number:' || ?, 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value AS n`),
      insertRun: db.prepare(`INSERT INTO runs (id, number, repo, pipeline, event, branch, tag, base_branch, sha, ref,
        commit_message, commit_author, pr_number, pr_title, triggered_by, priority, concurrency_group, status, error,
        plan_json, rerun_of, created_at, started_at, finished_at)
        VALUES (@id, @number, @repo, @pipeline, @event, @branch, @tag, @base_branch, @sha, @ref, @commit_message,
        @commit_author, @pr_number, @pr_title, @triggered_by, @priority, @concurrency_group, @status, @error,
        @plan_json, @rerun_of, @created_at, @started_at, @finished_at)`),
      insertJob: db.prepare(`INSERT INTO jobs (id, run_id, plan_id, name, stage, position, needs_json, status, error,
        started_at, finished_at) VALUES (@id, @run_id, @plan_id, @name, @stage, @position, @needs_json, @status, @error,
        @started_at, @finished_at)`),
      getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
      // Every column but plan_json (the largest by far), for the run events a burst of inserts publishes.
      runSummary: db.prepare(`SELECT id, number, repo, pipeline, event, branch, tag, sha, commit_message, commit_author, pr_number,
        pr_title, triggered_by, priority, status, created_at, started_at, finished_at, error FROM runs WHERE id = ?`),
      runState: db.prepare('SELECT status, started_at, finished_at FROM runs WHERE id = ?'),
      getJob: db.prepare('SELECT * FROM jobs WHERE id = ?'),
      jobsOfRun: db.prepare('SELECT * FROM jobs WHERE run_id = ? ORDER BY position'),
      stepsOfRun: db.prepare('SELECT s.* FROM jobs j JOIN steps s ON s.job_id = j.id WHERE j.run_id = ? ORDER BY s.job_id, s.idx'),
      stepsOfJob: db.prepare('SELECT * FROM steps WHERE job_id = ? ORDER BY idx'),
      upsertStep: db.prepare(`INSERT INTO steps (job_id, idx, name, status, exit_code, log_offset, started_at, finished_at)
        VALUES (@job_id, @idx, @name, @status, @exit_code, @log_offset, @started_at, @finished_at)
        ON CONFLICT (job_id, idx) DO UPDATE SET name = excluded.name, status = excluded.status,
        exit_code = excluded.exit_code, log_offset = COALESCE(excluded.log_offset, steps.log_offset),
        started_at = COALESCE(excluded.started_at, steps.started_at), finished_at = excluded.finished_at`),
      deleteSteps: db.prepare('DELETE FROM steps WHERE job_id = ?'),
      setJob: db.prepare(`UPDATE jobs SET status = @status, error = @error,
        finished_at = CASE WHEN @finished THEN @now ELSE NULL END WHERE id = @id`),
      startJob: db.prepare('UPDATE jobs SET status = \'running\', attempt = @attempt, error = NULL, started_at = @now, finished_at = NULL WHERE id = @id'),
      setJobEngine: db.prepare('UPDATE jobs SET engine = @engine WHERE id = @id'),
      renameEngine: db.prepare('UPDATE jobs SET engine = @to WHERE engine = @from'),
      setJobLog: db.prepare('UPDATE jobs SET log_lines = @lines, log_bytes = @bytes WHERE id = @id'),
      setRun: db.prepare('UPDATE runs SET status = @status, started_at = @started_at, finished_at = @finished_at WHERE id = @id'),
      startRun: db.prepare(`UPDATE runs SET started_at = COALESCE(started_at, @now), status = 'running'
        WHERE id = @id AND status = 'queued'`),
      requestCancel: db.prepare('UPDATE runs SET cancel_requested = 1 WHERE id = ?'),
      activeInGroup: db.prepare(`SELECT id FROM runs WHERE concurrency_group = ? AND status IN ('queued', 'running')
        AND cancel_requested = 0 AND id <> ?`),
      unfinishedRuns: db.prepare(`SELECT id FROM runs WHERE status IN ('queued', 'running')`),
    };
  }

  /** Inserts a run (number assigned per repository) and returns its number. Call inside a transaction. */
  insertRun(run: NewRun): number {
    const number = (this.s.nextNumber.get(run.event.repo) as { n: number }).n;
    const e = run.event;
    const terminal = isTerminal(run.status);
    this.s.insertRun.run({
      id: run.id, number, repo: e.repo, pipeline: run.pipeline, event: e.kind, branch: e.branch ?? null,
      tag: e.tag ?? null, base_branch: e.baseBranch ?? null, sha: e.sha, ref: e.ref ?? null,
      commit_message: e.commitMessage ?? null, commit_author: e.commitAuthor ?? null, pr_number: e.prNumber ?? null,
      pr_title: e.prTitle ?? null, triggered_by: e.triggeredBy ?? null, priority: run.priority,
      concurrency_group: run.concurrencyGroup ?? null, status: run.status, error: run.error ?? null,
      plan_json: JSON.stringify(run.plan), rerun_of: run.rerunOf ?? null, created_at: run.createdAt,
      started_at: terminal ? run.createdAt : null, finished_at: terminal ? run.createdAt : null,
    });
    return number;
  }

  insertJob(runId: string, job: PlannedJob, position: number, id: string, status: Status, now: number, error?: string): void {
    const terminal = isTerminal(status);
    this.s.insertJob.run({
      id, run_id: runId, plan_id: job.id, name: job.name, stage: job.stage ?? null, position,
      needs_json: JSON.stringify(job.needs), status, error: error ?? null,
      started_at: null, finished_at: terminal ? now : null,
    });
  }

  /** Upserts configured repositories (name, url, default branch); never stores secrets. */
  syncRepositories(repos: readonly { name: string; url: string; defaultBranch: string }[], now: number): void {
    const upsert = this.db.prepare(`INSERT INTO repositories (name, url, default_branch, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET url = excluded.url, default_branch = excluded.default_branch`);
    this.db.transaction(() => {
      for (const r of repos) upsert.run(r.name, r.url, r.defaultBranch, now);
    })();
  }

  getRun(id: string): RunRow | undefined {
    return this.s.getRun.get(id) as RunRow | undefined;
  }

  getRunSummary(id: string): RunSummary | undefined {
    const row = this.s.runSummary.get(id) as SummaryRow | undefined;
    return row && toRunSummary(row);
  }

  getJob(id: string): JobRow | undefined {
    return this.s.getJob.get(id) as JobRow | undefined;
  }

  jobsOfRun(runId: string): JobRow[] {
    return this.s.jobsOfRun.all(runId) as JobRow[];
  }

  stepsOfJob(jobId: string): StepSummary[] {
    return (this.s.stepsOfJob.all(jobId) as StepRow[]).map(toStep);
  }

  upsertStep(jobId: string, step: StepSummary): void {
    this.s.upsertStep.run({
      job_id: jobId, idx: step.index, name: step.name, status: step.status, exit_code: step.exitCode ?? null,
      log_offset: step.logOffset ?? null, started_at: step.startedAt ?? null, finished_at: step.finishedAt ?? null,
    });
  }

  deleteSteps(jobId: string): void {
    this.s.deleteSteps.run(jobId);
  }

  startJob(jobId: string, attempt: number, now: number): void {
    this.s.startJob.run({ id: jobId, attempt, now });
  }

  /** Records the engine a job starts on. */
  setJobEngine(jobId: string, engine: string): void {
    this.s.setJobEngine.run({ id: jobId, engine });
  }

  /**
   * An engine was renamed: every job it ran or runs says the new name, so its history stays one
   * engine's and the old name, free for another engine, starts with none. Returns the rows changed.
   */
  renameEngine(from: string, to: string): number {
    return this.s.renameEngine.run({ from, to }).changes;
  }

  setJobStatus(jobId: string, status: Status, now: number, error?: string): void {
    this.s.setJob.run({ id: jobId, status, error: error ?? null, finished: isTerminal(status) ? 1 : 0, now });
  }

  setJobLog(jobId: string, lines: number, bytes: number): void {
    this.s.setJobLog.run({ id: jobId, lines, bytes });
  }

  /** queued → running when a job of the run starts; true when the run changed. */
  markRunRunning(runId: string, now: number): boolean {
    return this.s.startRun.run({ id: runId, now }).changes === 1;
  }

  requestCancel(runId: string): void {
    this.s.requestCancel.run(runId);
  }

  /** Queued or running runs of a concurrency group other than `exceptRunId`, not already being cancelled. */
  activeRunsInGroup(group: string, exceptRunId: string): string[] {
    return (this.s.activeInGroup.all(group, exceptRunId) as { id: string }[]).map((r) => r.id);
  }

  unfinishedRunIds(): string[] {
    return (this.s.unfinishedRuns.all() as { id: string }[]).map((r) => r.id);
  }

  /** Recomputes a run's status from its jobs; returns the new status when it changed. */
  refreshRunStatus(runId: string, now: number): Status | undefined {
    // Only the status columns: this runs after every insert and job change, and the full row drags
    // the plan and event JSON along.
    const run = this.s.runState.get(runId) as Pick<RunRow, 'status' | 'started_at' | 'finished_at'> | undefined;
    if (!run) return undefined;
    const jobs = this.jobsOfRun(runId);
    if (jobs.length === 0) return undefined; // failed-at-plan runs are terminal from the start
    const status = runStatusOf(jobs, run.started_at !== null);
    if (status === run.status) return undefined;
    const terminal = isTerminal(status);
    this.s.setRun.run({
      id: runId, status,
      started_at: run.started_at ?? (status === 'running' || terminal ? now : null),
      finished_at: terminal ? (run.finished_at ?? now) : null,
    });
    return status;
  }

  listRuns(filter: RunFilter, limit: number, cursor?: string): Page<RunSummary> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.repo) { where.push('repo = ?'); args.push(filter.repo); }
    if (filter.branch) { where.push('branch = ?'); args.push(filter.branch); }
    if (filter.status) { where.push('status = ?'); args.push(filter.status); }
    if (cursor) {
      const [createdAt, id] = decodeCursor(cursor);
      where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      args.push(createdAt, createdAt, id);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, limit + 1) as RunRow[];
    const items = rows.slice(0, limit).map(toRunSummary);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return last ? { items, nextCursor: encodeCursor(last.created_at, last.id) } : { items };
  }

  /** The run with its jobs, steps, DAG edges (job ids) and stages, or undefined. */
  runDetail(runId: string): RunDetail | undefined {
    const run = this.getRun(runId);
    if (!run) return undefined;
    const plan = JSON.parse(run.plan_json) as Plan;
    const planned = new Map(plan.jobs.map((j) => [j.id, j]));
    const rows = this.jobsOfRun(runId);
    const idOfPlan = new Map(rows.map((j) => [j.plan_id, j.id]));
    const steps = new Map<string, StepSummary[]>();
    for (const s of this.s.stepsOfRun.all(runId) as StepRow[]) {
      const list = steps.get(s.job_id) ?? [];
      list.push(toStep(s));
      steps.set(s.job_id, list);
    }
    const edges: DagEdge[] = [];
    const stages: string[] = [];
    const jobs: JobSummary[] = rows.map((j) => {
      const p = planned.get(j.plan_id);
      const needs = JSON.parse(j.needs_json) as string[];
      for (const n of needs) {
        const from = idOfPlan.get(n);
        if (from) edges.push({ from, to: j.id });
      }
      if (j.stage && !stages.includes(j.stage)) stages.push(j.stage);
      return {
        id: j.id, runId: j.run_id, planId: j.plan_id, name: j.name, stage: opt(j.stage),
        matrix: p?.matrix ?? {}, image: p?.image ?? '', needs, status: j.status, attempt: j.attempt,
        startedAt: opt(j.started_at), finishedAt: opt(j.finished_at),
        durationMs: duration(j.started_at, j.finished_at), error: opt(j.error),
        steps: steps.get(j.id) ?? [],
        ...(j.engine ? { engine: j.engine } : {}),
      };
    });
    return { ...toRunSummary(run), jobs, edges, stages, ...(plan.changes ? { changes: plan.changes } : {}) };
  }
}
