/**
 * What a job produced besides log lines (shared/model/job-records.ts): log groups, annotations and
 * job summaries, in SQLite (migration 7). The executor reports them as the job runs; the engine
 * writes each through the group commit (`write`), so a step printing thousands of groups pays one
 * commit per event-loop turn, not one per group. Reads are plain queries.
 *
 * Groups are upserts keyed by (job, start): reported once when they open and again when they close.
 * Summaries are keyed by (job, step): a retried job's summary replaces the earlier attempt's.
 */
import type { Annotation, AnnotationLevel, LogGroup, StepMarkdownSummary } from '../../shared/model/job-records.js';
import type { Db } from './db.js';

/** start_seq, end_seq, end_marker, depth, step, title. */
type GroupRow = [number, number | null, number, number, number | null, string];
interface AnnotationRow {
  job_id: string; level: string; source: string; message: string; seq: number | null; step: number | null; title: string | null;
  file: string | null; line: number | null; end_line: number | null; col: number | null; end_col: number | null;
}
interface SummaryRow { job_id: string; step: number; step_name: string; markdown: string; bytes: number; truncated: string | null }

const LEVEL_ORDER: Record<AnnotationLevel, number> = { error: 0, warning: 1, notice: 2 };

function toAnnotation(r: AnnotationRow): Annotation {
  const a: Annotation = { jobId: r.job_id, level: r.level as AnnotationLevel, source: r.source === 'kiln' ? 'kiln' : 'step', message: r.message, step: r.step };
  if (r.seq !== null) a.seq = r.seq;
  if (r.title !== null) a.title = r.title;
  if (r.file !== null) a.file = r.file;
  if (r.line !== null) a.line = r.line;
  if (r.end_line !== null) a.endLine = r.end_line;
  if (r.col !== null) a.col = r.col;
  if (r.end_col !== null) a.endCol = r.end_col;
  return a;
}

export class JobRecordStore {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      group: db.prepare(`INSERT INTO log_groups (job_id, start_seq, end_seq, end_marker, depth, step, title) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(job_id, start_seq) DO UPDATE SET end_seq = excluded.end_seq, end_marker = excluded.end_marker`),
      // Raw rows (arrays): a log with 10,000 groups is read without building 10,000 intermediate objects.
      groups: db.prepare<[string, number, number], GroupRow>(
        'SELECT start_seq, end_seq, end_marker, depth, step, title FROM log_groups WHERE job_id = ? AND (start_seq >= ? OR end_seq IS NULL OR end_seq >= ?) ORDER BY start_seq').raw(true),
      annotation: db.prepare(`INSERT INTO annotations (run_id, job_id, level, source, message, seq, step, title, file, line, end_line, col, end_col)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      ofRun: db.prepare<[string], AnnotationRow>('SELECT * FROM annotations WHERE run_id = ? ORDER BY id'),
      summary: db.prepare('INSERT OR REPLACE INTO job_summaries (job_id, step, step_name, markdown, bytes, truncated) VALUES (?, ?, ?, ?, ?, ?)'),
      summaries: db.prepare<[string], SummaryRow>('SELECT s.* FROM job_summaries s JOIN jobs j ON j.id = s.job_id WHERE j.run_id = ? ORDER BY j.position, s.step'),
    };
  }

  putGroup(jobId: string, g: LogGroup): void {
    this.q.group.run(jobId, g.start, g.end, g.endMarker ? 1 : 0, g.depth, g.step, g.title);
  }

  /** A job's groups in seq order; with `from`, only those that start at or after it, end at or after it, or are open (a live viewer's refresh). */
  groups(jobId: string, from = 0): LogGroup[] {
    const rows = this.q.groups.all(jobId, from, from) as unknown as GroupRow[];
    const out: LogGroup[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [start, end, marker, depth, step, title] = rows[i];
      out[i] = { start, end, endMarker: marker === 1, depth, step, title };
    }
    return out;
  }

  addAnnotation(runId: string, a: Annotation): void {
    this.q.annotation.run(runId, a.jobId, a.level, a.source, a.message, a.seq ?? null, a.step, a.title ?? null, a.file ?? null,
      a.line ?? null, a.endLine ?? null, a.col ?? null, a.endCol ?? null);
  }

  /** A run's annotations: errors first, then warnings, then notices; in the order they happened within each. */
  annotations(runId: string): Annotation[] {
    return this.q.ofRun.all(runId).map(toAnnotation).sort((a, b) => LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level]);
  }

  putSummary(s: StepMarkdownSummary): void {
    this.q.summary.run(s.jobId, s.step, s.stepName, s.markdown, s.bytes, s.truncated ?? null);
  }

  /** A run's job summaries, by job then step. */
  summaries(runId: string): StepMarkdownSummary[] {
    return this.q.summaries.all(runId).map((r) => ({
      jobId: r.job_id, step: r.step, stepName: r.step_name, markdown: r.markdown, bytes: r.bytes, ...(r.truncated !== null ? { truncated: r.truncated } : {}),
    }));
  }
}
