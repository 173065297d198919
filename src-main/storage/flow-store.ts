/**
 * The rows of job outputs, approval gates and schedules (migration 8). Pure storage, like
 * run-store.ts: single statements that compose inside the callers' transactions; the scheduler and
 * the schedule service decide what they mean.
 */
import type Database from 'better-sqlite3';
import type { JobApproval, RunDetail, RunSummary } from '../../shared/model/run.js';
import { isTerminal } from '../../shared/model/status.js';
import type { Db } from './db.js';

export type ApprovalState = 'waiting' | 'approved' | 'rejected' | 'expired';

export interface ApprovalRow {
  job_id: string;
  run_id: string;
  state: ApprovalState;
  requested_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

export interface ScheduleRunRow {
  run_id: string;
  slot: number;
  missed: number;
  note: string;
}

function approvalOf(a: ApprovalRow): JobApproval {
  return {
    state: a.state, requestedAt: a.requested_at, expiresAt: a.expires_at,
    ...(a.decided_by !== null ? { decidedBy: a.decided_by } : {}), ...(a.decided_at !== null ? { decidedAt: a.decided_at } : {}),
  };
}

export class FlowStore {
  private readonly s: Record<string, Database.Statement>;

  constructor(db: Db) {
    this.s = {
      putOutput: db.prepare(`INSERT INTO job_outputs (job_id, run_id, name, value, bytes) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (job_id, name) DO UPDATE SET value = excluded.value, bytes = excluded.bytes`),
      clearOutputs: db.prepare('DELETE FROM job_outputs WHERE job_id = ?'),
      outputsOf: db.prepare('SELECT name, value FROM job_outputs WHERE job_id = ?'),
      runBytes: db.prepare('SELECT COALESCE(SUM(bytes), 0) AS n FROM job_outputs WHERE run_id = ? AND job_id <> ?'),
      request: db.prepare(`INSERT INTO approvals (job_id, run_id, state, requested_at, expires_at) VALUES (?, ?, 'waiting', ?, ?)
        ON CONFLICT (job_id) DO NOTHING`),
      decide: db.prepare(`UPDATE approvals SET state = @state, decided_by = @by, decided_at = @now WHERE job_id = @job_id AND state = 'waiting'`),
      approval: db.prepare('SELECT * FROM approvals WHERE job_id = ?'),
      approvalsOfRun: db.prepare('SELECT * FROM approvals WHERE run_id = ?'),
      // Only gates still held in the queue: a run cancelled meanwhile left its row 'waiting'.
      due: db.prepare(`SELECT a.* FROM approvals a INDEXED BY approvals_due JOIN queue q ON q.job_id = a.job_id
        WHERE a.state = 'waiting' AND a.expires_at <= ? AND q.state = 'approval'`),
      waitingRuns: db.prepare(`SELECT a.run_id FROM approvals a JOIN jobs j ON j.id = a.job_id WHERE a.state = 'waiting' AND j.status = 'queued'`),
      lastSlot: db.prepare('SELECT last_slot FROM schedules WHERE repo = ? AND spec = ?'),
      setSlot: db.prepare(`INSERT INTO schedules (repo, spec, last_slot) VALUES (?, ?, ?)
        ON CONFLICT (repo, spec) DO UPDATE SET last_slot = excluded.last_slot`),
      putScheduleRun: db.prepare('INSERT OR REPLACE INTO schedule_runs (run_id, slot, missed, note) VALUES (?, ?, ?, ?)'),
      scheduleRun: db.prepare('SELECT * FROM schedule_runs WHERE run_id = ?'),
    };
  }

  /** Replaces a job's outputs (a retried job's last attempt wins). `bytes` counts name and value. */
  saveOutputs(jobId: string, runId: string, outputs: Record<string, string>): void {
    this.s.clearOutputs.run(jobId);
    for (const [name, value] of Object.entries(outputs)) this.s.putOutput.run(jobId, runId, name, value, Buffer.byteLength(name) + Buffer.byteLength(value));
  }

  outputsOf(jobId: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.s.outputsOf.all(jobId) as { name: string; value: string }[]) out[r.name] = r.value;
    return out;
  }

  /** Bytes of the outputs other jobs of the run have stored. */
  runOutputBytes(runId: string, exceptJobId: string): number {
    return (this.s.runBytes.get(runId, exceptJobId) as { n: number }).n;
  }

  /** Records that a job waits for approval (once; a second call changes nothing). */
  requestApproval(jobId: string, runId: string, now: number, expiresAt: number): void {
    this.s.request.run(jobId, runId, now, expiresAt);
  }

  /** waiting → a decision; false when it was decided already (or never waited). */
  decide(jobId: string, state: Exclude<ApprovalState, 'waiting'>, by: string, now: number): boolean {
    return this.s.decide.run({ job_id: jobId, state, by, now }).changes === 1;
  }

  approval(jobId: string): ApprovalRow | undefined {
    return this.s.approval.get(jobId) as ApprovalRow | undefined;
  }

  approvalsOfRun(runId: string): ApprovalRow[] {
    return this.s.approvalsOfRun.all(runId) as ApprovalRow[];
  }

  /** Waiting approvals whose time ran out. */
  dueApprovals(now: number): ApprovalRow[] {
    return this.s.due.all(now) as ApprovalRow[];
  }

  /** Runs with at least one job waiting for approval. */
  runsWaitingForApproval(): Set<string> {
    return new Set((this.s.waitingRuns.all() as { run_id: string }[]).map((r) => r.run_id));
  }

  /**
   * A run as the API shows it: each job's approval, `waitingForApproval` when every unfinished job
   * waits for one (itself, or through its needs), and what a scheduled run says about its start.
   */
  decorateRun(run: RunDetail): RunDetail {
    const approvals = new Map(this.approvalsOfRun(run.id).map((a) => [a.job_id, a]));
    const jobs = run.jobs.map((j) => {
      const a = approvals.get(j.id);
      return a ? { ...j, approval: approvalOf(a) } : j;
    });
    const held = new Set(jobs.filter((j) => j.approval?.state === 'waiting' && j.status === 'queued').map((j) => j.id));
    const idOfPlan = new Map(jobs.map((j) => [j.planId, j.id]));
    const blocked = new Set(held);
    for (let grew = true; grew;) {
      grew = false;
      for (const j of jobs) {
        if (blocked.has(j.id) || isTerminal(j.status) || j.status === 'running') continue;
        if (j.needs.some((n) => blocked.has(idOfPlan.get(n) ?? ''))) {
          blocked.add(j.id);
          grew = true;
        }
      }
    }
    const onlyHeld = held.size > 0 && jobs.every((j) => isTerminal(j.status) || blocked.has(j.id));
    const schedule = this.scheduleRun(run.id);
    return {
      ...run, jobs,
      ...(onlyHeld ? { waitingForApproval: held.size } : {}),
      ...(schedule ? { schedule: { slot: schedule.slot, missed: schedule.missed, note: schedule.note } } : {}),
    };
  }

  /** Summaries as lists show them: `waitingForApproval` and `schedule` added (a lookup per marked run only). */
  decorateSummaries(items: RunSummary[], detail: (runId: string) => RunDetail | undefined): RunSummary[] {
    const waiting = this.runsWaitingForApproval();
    return items.map((r) => {
      const schedule = this.scheduleRun(r.id);
      const withSchedule = schedule ? { ...r, schedule: { slot: schedule.slot, missed: schedule.missed, note: schedule.note } } : r;
      if (!waiting.has(r.id)) return withSchedule;
      const d = detail(r.id);
      const n = d ? this.decorateRun(d).waitingForApproval : undefined;
      return n ? { ...withSchedule, waitingForApproval: n } : withSchedule;
    });
  }

  lastScheduleSlot(repo: string, spec: string): number | undefined {
    return (this.s.lastSlot.get(repo, spec) as { last_slot: number } | undefined)?.last_slot;
  }

  setScheduleSlot(repo: string, spec: string, slot: number): void {
    this.s.setSlot.run(repo, spec, slot);
  }

  recordScheduleRun(row: ScheduleRunRow): void {
    this.s.putScheduleRun.run(row.run_id, row.slot, row.missed, row.note);
  }

  scheduleRun(runId: string): ScheduleRunRow | undefined {
    return this.s.scheduleRun.get(runId) as ScheduleRunRow | undefined;
  }
}
