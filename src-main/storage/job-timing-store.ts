/**
 * Where a run's time went, for the timing view: each job's phases on one time axis.
 *
 * What was already stored gives part of it: the queue's `enqueued_at` (when the job became ready;
 * rewritten when a job is re-queued), the job's and its steps' start and finish. What only the
 * executor knows — pulling, setting up, the work after the steps, teardown — arrives as phase marks
 * (JobRunRequest.onPhase), one row each in `job_phases`; a phase ends where the next begins and
 * 'done' ends the last. Only the latest attempt's marks are shown.
 */
import type { JobTiming, RunTiming, TimingPhase, TimingSegment } from '../../shared/model/test-report.js';
import type { Status } from '../../shared/model/status.js';
import type { JobPhaseMark } from '../core/job-contract.js';
import type { Db } from './db.js';

interface MarkRow {
  job_id: string;
  attempt: number;
  at: number;
  phase: JobPhaseMark;
}

export class JobTimingStore {
  private readonly insert;
  private readonly nextSeq = new Map<string, number>();

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT OR REPLACE INTO job_phases (job_id, attempt, at, seq, phase) VALUES (?, ?, ?, ?, ?)');
  }

  /** Records that attempt `attempt` of the job entered `phase` at `at`. Marks of one attempt come in order. */
  mark(jobId: string, attempt: number, phase: JobPhaseMark, at: number): void {
    const key = `${jobId}\u0000${attempt}`;
    let seq = this.nextSeq.get(key);
    if (seq === undefined) {
      const row = this.db.prepare('SELECT MAX(seq) AS s FROM job_phases WHERE job_id = ? AND attempt = ?').get(jobId, attempt) as { s: number | null };
      seq = (row.s ?? -1) + 1;
    }
    this.insert.run(jobId, attempt, at, seq, phase);
    if (phase === 'done') this.nextSeq.delete(key);
    else this.nextSeq.set(key, seq + 1);
  }

  /** The latest attempt of the job that marked a phase (undefined before any): the same number again means it was handed back and starts over. */
  lastAttempt(jobId: string): number | undefined {
    const row = this.db.prepare('SELECT MAX(attempt) AS a FROM job_phases WHERE job_id = ?').get(jobId) as { a: number | null };
    return row.a ?? undefined;
  }

  /** The run's jobs on one axis; undefined when the run does not exist. */
  runTiming(runId: string): RunTiming | undefined {
    const run = this.db.prepare('SELECT id, created_at, finished_at FROM runs WHERE id = ?').get(runId) as { id: string; created_at: number; finished_at: number | null } | undefined;
    if (!run) return undefined;
    const jobs = this.db.prepare(`SELECT j.id, j.name, j.status, j.started_at, j.finished_at,
      CASE WHEN q.state = 'waiting' OR j.status = 'skipped' THEN NULL ELSE q.enqueued_at END AS enqueued_at FROM jobs j
      LEFT JOIN queue q ON q.job_id = j.id WHERE j.run_id = ? ORDER BY j.position`).all(runId) as Array<{
      id: string; name: string; status: Status; started_at: number | null; finished_at: number | null; enqueued_at: number | null;
    }>;
    const marks = this.db.prepare(`SELECT p.job_id, p.attempt, p.at, p.phase FROM job_phases p JOIN jobs j ON j.id = p.job_id
      WHERE j.run_id = ? ORDER BY p.job_id, p.attempt, p.seq`).all(runId) as MarkRow[];
    const steps = this.db.prepare(`SELECT s.job_id, s.idx, s.name, s.status, s.started_at, s.finished_at FROM steps s JOIN jobs j ON j.id = s.job_id
      WHERE j.run_id = ? AND s.started_at IS NOT NULL ORDER BY s.job_id, s.idx`).all(runId) as Array<{
      job_id: string; idx: number; name: string; status: Status; started_at: number; finished_at: number | null;
    }>;
    const latest = new Map<string, MarkRow[]>();
    for (const m of marks) {
      const list = latest.get(m.job_id);
      if (!list || list[0].attempt < m.attempt) latest.set(m.job_id, [m]);
      else if (list[0].attempt === m.attempt) list.push(m);
    }
    const timings: JobTiming[] = jobs.map((j) => ({
      jobId: j.id,
      name: j.name,
      status: j.status,
      segments: segmentsOf(j, latest.get(j.id) ?? []),
      steps: steps.filter((s) => s.job_id === j.id).map((s) => ({
        index: s.idx, name: s.name, status: s.status, start: s.started_at, ...(s.finished_at !== null ? { end: s.finished_at } : {}),
      })),
    }));
    return { runId, createdAt: run.created_at, ...(run.finished_at !== null ? { finishedAt: run.finished_at } : {}), jobs: timings };
  }
}

/**
 * Queued (ready → first mark, or start) and then each mark until the next one; a 'done' followed by
 * more marks (the attempt handed back at a shutdown and run again) is queued time until the next.
 * A job waiting for its needs is not queued yet.
 */
export function segmentsOf(
  job: { started_at: number | null; finished_at: number | null; enqueued_at: number | null },
  marks: Array<{ at: number; phase: JobPhaseMark }>,
): TimingSegment[] {
  const out: TimingSegment[] = [];
  const firstStart = marks[0]?.at ?? job.started_at ?? undefined;
  if (job.enqueued_at !== null) {
    const queued: TimingSegment = { phase: 'queued', start: job.enqueued_at };
    if (firstStart !== undefined) queued.end = Math.max(job.enqueued_at, firstStart);
    else if (job.finished_at !== null) queued.end = job.finished_at; // cancelled while queued
    out.push(queued);
  }
  marks.forEach((m, i) => {
    const next = marks[i + 1];
    if (m.phase === 'done') {
      // The same attempt started again (handed back when Kiln stopped): it waited in the queue.
      if (next) out.push({ phase: 'queued', start: m.at, end: Math.max(m.at, next.at) });
      return;
    }
    const seg: TimingSegment = { phase: m.phase as TimingPhase, start: m.at };
    const end = next?.at ?? job.finished_at ?? undefined;
    if (end !== undefined) seg.end = Math.max(m.at, end);
    out.push(seg);
  });
  return out;
}
