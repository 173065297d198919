/**
 * The failure report on a pull request, for teams whose dashboard the forge cannot link to: when a
 * pull request's run fails and no public URL is set, one comment per pull request and pipeline says
 * which job and step failed, its exit code, the run's annotations (errors first; Kiln's own step
 * failures among them) and the last lines of its log; later runs update that
 * same comment (a later pass says so), never add another.
 *
 * Durable like the statuses: `forge_pr_comments` holds which run each comment should describe; the
 * reporter's pump writes it when due. Log lines come from the log store, where secrets are already
 * masked; they are cut to a few lines of bounded length.
 */
import type { Annotation } from '../../shared/model/job-records.js';
import type { RunDetail } from '../../shared/model/run.js';
import { annotationLocation } from '../../shared/model/workflow-commands.js';
import type { Db } from '../storage/db.js';
import { formatElapsed } from '../../shared/format.js';

export const COMMENT_LINES = 20;
/** Annotations listed in a failure comment (errors first); the rest are counted. */
export const COMMENT_ANNOTATIONS = 10;
const MAX_LINE = 300;
const MARKER = (pipeline: string) => `<!-- kiln:${pipeline} -->`;

export interface WantedComment {
  repo: string;
  prNumber: number;
  pipeline: string;
  commentId?: number;
  wantedRun: string;
  attempts: number;
}

export class PrCommentQueue {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      get: db.prepare<[string, number, string], { comment_id: number | null; posted_run: string | null }>('SELECT comment_id, posted_run FROM forge_pr_comments WHERE repo = ? AND pr_number = ? AND pipeline = ?'),
      want: db.prepare(`INSERT INTO forge_pr_comments (repo, pr_number, pipeline, wanted_run, next_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(repo, pr_number, pipeline) DO UPDATE SET wanted_run = excluded.wanted_run, next_at = excluded.next_at, attempts = 0, last_error = NULL`),
      due: db.prepare<[number], { repo: string; pr_number: number; pipeline: string; comment_id: number | null; wanted_run: string; attempts: number }>(
        "SELECT repo, pr_number, pipeline, comment_id, wanted_run, attempts FROM forge_pr_comments WHERE (posted_run IS NULL OR posted_run != wanted_run) AND next_at <= ? AND next_at >= 0 ORDER BY next_at LIMIT 8"),
      nextAt: db.prepare<[], { next: number | null }>('SELECT MIN(next_at) AS next FROM forge_pr_comments WHERE (posted_run IS NULL OR posted_run != wanted_run) AND next_at >= 0'),
      posted: db.prepare('UPDATE forge_pr_comments SET comment_id = ?, posted_run = ?, attempts = 0, last_error = NULL WHERE repo = ? AND pr_number = ? AND pipeline = ? AND wanted_run = ?'),
      retry: db.prepare('UPDATE forge_pr_comments SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE repo = ? AND pr_number = ? AND pipeline = ?'),
      // next_at -1: given up until another run wants the comment.
      failed: db.prepare('UPDATE forge_pr_comments SET attempts = attempts + 1, next_at = -1, last_error = ? WHERE repo = ? AND pr_number = ? AND pipeline = ?'),
      forRun: db.prepare<[string], { comment_id: number | null; posted_run: string | null; wanted_run: string; last_error: string | null }>('SELECT comment_id, posted_run, wanted_run, last_error FROM forge_pr_comments WHERE wanted_run = ?'),
    };
  }

  /** Whether this pull request already has Kiln's comment (a pass then updates it). */
  exists(repo: string, prNumber: number, pipeline: string): boolean {
    return this.q.get.get(repo, prNumber, pipeline)?.comment_id != null;
  }

  want(repo: string, prNumber: number, pipeline: string, runId: string, now: number): void {
    this.q.want.run(repo, prNumber, pipeline, runId, now);
  }

  due(now: number): WantedComment[] {
    return this.q.due.all(now).map((r) => ({ repo: r.repo, prNumber: r.pr_number, pipeline: r.pipeline, wantedRun: r.wanted_run, attempts: r.attempts, ...(r.comment_id != null ? { commentId: r.comment_id } : {}) }));
  }

  nextDueAt(): number | undefined {
    return this.q.nextAt.get()?.next ?? undefined;
  }

  markPosted(c: WantedComment, commentId: number): void {
    this.q.posted.run(commentId, c.wantedRun, c.repo, c.prNumber, c.pipeline, c.wantedRun);
  }

  markRetry(c: WantedComment, nextAt: number, reason: string): void {
    this.q.retry.run(nextAt, reason, c.repo, c.prNumber, c.pipeline);
  }

  markFailed(c: WantedComment, reason: string): void {
    this.q.failed.run(reason, c.repo, c.prNumber, c.pipeline);
  }

  /** The comment state of a run, for the run view. */
  ofRun(runId: string): { posted: boolean; reason?: string } | undefined {
    const r = this.q.forRun.get(runId);
    if (!r) return undefined;
    return { posted: r.posted_run === r.wanted_run, ...(r.last_error ? { reason: r.last_error } : {}) };
  }
}

/** The annotations as a Markdown list, at most COMMENT_ANNOTATIONS of them. */
function annotationList(run: RunDetail, annotations: readonly Annotation[], mask: (s: string) => string): string[] {
  if (annotations.length === 0) return [];
  const icon = { error: '❌', warning: '⚠️', notice: 'ℹ️' } as const;
  const names = new Map(run.jobs.map((j) => [j.id, j.name]));
  const items = annotations.slice(0, COMMENT_ANNOTATIONS).map((a) => {
    const where = annotationLocation(a);
    const message = mask(a.message.split('\n')[0]);
    return `- ${icon[a.level]} **${escape(names.get(a.jobId) ?? a.jobId)}**: ${escape(message.length > MAX_LINE ? `${message.slice(0, MAX_LINE)}…` : message)}${where ? ` (\`${where.replace(/`/g, "'")}\`)` : ''}`;
  });
  const more = annotations.length - items.length;
  return ['', `**Annotations** (${annotations.length})`, '', ...items, ...(more > 0 ? [`- … and ${more} more on the run page`] : [])];
}

/** The comment's Markdown. `tail` is the failed job's last log lines (already masked); `annotations` the run's (errors first). */
export function commentBody(run: RunDetail, tail: readonly string[], mask: (s: string) => string = (s) => s, annotations: readonly Annotation[] = []): string {
  const head = `${MARKER(run.pipeline)}\n`;
  if (run.status === 'passed') {
    return `${head}✅ **kiln/${run.pipeline}** passed at ${run.sha.slice(0, 7)} (run #${run.number}${run.durationMs !== undefined ? `, ${formatElapsed(run.durationMs)}` : ''}); the earlier failure is resolved.`;
  }
  const job = run.jobs.find((j) => j.status === 'failed' || j.status === 'timed_out');
  const step = job?.steps.find((s) => s.status === 'failed' || s.status === 'timed_out');
  const where = job ? `job **${escape(job.name)}**${step ? `, step **${escape(step.name)}**` : ''}${step?.exitCode != null ? ` (exit code ${step.exitCode})` : step?.status === 'timed_out' || job.status === 'timed_out' ? ' (timed out)' : ''}` : escape(run.error ?? 'the pipeline');
  const lines = tail.slice(-COMMENT_LINES).map((l) => mask(l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)}…` : l));
  const fence = lines.some((l) => l.includes('```')) ? '~~~~' : '```';
  return [
    `${head}❌ **kiln/${run.pipeline}** ${run.status === 'timed_out' ? 'timed out' : 'failed'} at ${run.sha.slice(0, 7)} (run #${run.number}): ${where}.`,
    ...annotationList(run, annotations, mask),
    ...(lines.length ? ['', `<details open><summary>Last ${lines.length} log line${lines.length === 1 ? '' : 's'}</summary>`, '', fence, ...lines, fence, '', '</details>'] : []),
    '', '<sub>Kiln updates this comment on every run of this pull request.</sub>',
  ].join('\n');
}

function escape(text: string): string {
  return text.replace(/[*_`<>[\]\\]/g, (c) => `\\${c}`);
}
