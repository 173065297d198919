/**
 * The durable outbox of commit statuses: what the forge reporter has decided to post, kept in SQLite
 * so that a status survives a restart and a run never waits for the forge.
 *
 * Order: rows of one key (repo, sha, context) are handed out in id order, one at a time — a key's
 * next row is not due while an older one is pending, even when the older one waits for a retry.
 * So a context's statuses reach the forge in the order they were decided.
 *
 * Deduplication: `enqueue` skips a status whose state, description and link equal the newest row of
 * its key (whatever became of that row), so an unchanged status is posted once.
 *
 * Every method is one statement or a small transaction; callers on one event loop need no locks.
 */
import type { Db } from './db.js';

export type ForgeState = 'pending' | 'success' | 'failure' | 'error';
export type OutboxStatus = 'pending' | 'posted' | 'failed';

export interface StatusToPost {
  repo: string;
  sha: string;
  context: string;
  runId: string;
  state: ForgeState;
  description: string;
  targetUrl?: string;
}

export interface OutboxRow extends StatusToPost {
  id: number;
  status: OutboxStatus;
  attempts: number;
  nextAt: number;
  lastError?: string;
  createdAt: number;
  postedAt?: number;
}

interface Row {
  id: number; repo: string; sha: string; context: string; run_id: string; state: ForgeState; description: string;
  target_url: string | null; status: OutboxStatus; attempts: number; next_at: number; last_error: string | null;
  created_at: number; posted_at: number | null;
}

function fromRow(r: Row): OutboxRow {
  return {
    id: r.id, repo: r.repo, sha: r.sha, context: r.context, runId: r.run_id, state: r.state, description: r.description,
    ...(r.target_url ? { targetUrl: r.target_url } : {}), status: r.status, attempts: r.attempts, nextAt: r.next_at,
    ...(r.last_error ? { lastError: r.last_error } : {}), createdAt: r.created_at, ...(r.posted_at ? { postedAt: r.posted_at } : {}),
  };
}

export interface RepoReportState {
  ok: boolean;
  message: string;
  at: number;
}

/** Newest rows remembered per key, so that deciding "unchanged" costs no query in a burst. */
const REMEMBERED_KEYS = 10_000;

export class StatusOutbox {
  private readonly q;
  private readonly newest = new Map<string, string>();

  constructor(private readonly db: Db) {
    this.q = {
      newest: db.prepare<[string, string, string], Pick<Row, 'state' | 'description' | 'target_url'>>(
        'SELECT state, description, target_url FROM forge_outbox WHERE repo = ? AND sha = ? AND context = ? ORDER BY id DESC LIMIT 1'),
      insert: db.prepare('INSERT INTO forge_outbox (repo, sha, context, run_id, state, description, target_url, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      // The oldest pending row of each key, if it is due: no older pending row of its key exists.
      due: db.prepare<[number, number], Row>(`
        SELECT o.* FROM forge_outbox o
        WHERE o.status = 'pending' AND o.next_at <= ?
          AND NOT EXISTS (SELECT 1 FROM forge_outbox p WHERE p.repo = o.repo AND p.sha = o.sha AND p.context = o.context AND p.id < o.id AND p.status = 'pending')
        ORDER BY o.id LIMIT ?`),
      nextAt: db.prepare<[], { next: number | null }>("SELECT MIN(next_at) AS next FROM forge_outbox WHERE status = 'pending'"),
      posted: db.prepare("UPDATE forge_outbox SET status = 'posted', attempts = attempts + 1, posted_at = ?, last_error = NULL WHERE id = ?"),
      retry: db.prepare("UPDATE forge_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?"),
      failed: db.prepare("UPDATE forge_outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?"),
      ofRun: db.prepare<[string], Row>('SELECT * FROM forge_outbox WHERE run_id = ? ORDER BY id'),
      counts: db.prepare<[], { status: OutboxStatus; n: number }>('SELECT status, COUNT(*) AS n FROM forge_outbox GROUP BY status'),
      setRepo: db.prepare('INSERT INTO forge_repo_state (repo, ok, message, at) VALUES (?, ?, ?, ?) ON CONFLICT(repo) DO UPDATE SET ok = excluded.ok, message = excluded.message, at = excluded.at'),
      getRepo: db.prepare<[string], { ok: number; message: string; at: number }>('SELECT ok, message, at FROM forge_repo_state WHERE repo = ?'),
    };
  }

  /** Adds the statuses that differ from their key's newest row, in one transaction; returns how many were added. */
  enqueue(statuses: readonly StatusToPost[], now: number): number {
    let added = 0;
    const pendingMemory: Array<[string, string]> = [];
    const write = () => {
      const remembered: Array<[string, string]> = [];
      for (const s of statuses) {
        const key = `${s.repo}\n${s.sha}\n${s.context}`;
        const signature = `${s.state}\n${s.description}\n${s.targetUrl ?? ''}`;
        let last = this.newest.get(key);
        if (last === undefined) {
          const row = this.q.newest.get(s.repo, s.sha, s.context);
          last = row ? `${row.state}\n${row.description}\n${row.target_url ?? ''}` : '';
        }
        if (last === signature) continue;
        this.q.insert.run(s.repo, s.sha, s.context, s.runId, s.state, s.description, s.targetUrl ?? null, now, now);
        remembered.push([key, signature]);
        added++;
      }
      // Remembered once the inserts ran; a caller whose enclosing transaction then fails calls forget().
      pendingMemory.push(...remembered);
    };
    if (this.db.inTransaction) write();
    else this.db.transaction(write)();
    if (this.newest.size + pendingMemory.length > REMEMBERED_KEYS) this.newest.clear();
    for (const [key, signature] of pendingMemory) this.newest.set(key, signature);
    return added;
  }

  /** Drops the remembered newest rows (after an enclosing transaction was undone); they are read again. */
  forget(): void {
    this.newest.clear();
  }

  /** Due rows, at most one per key, oldest first. */
  due(now: number, limit: number): OutboxRow[] {
    return this.q.due.all(now, limit).map(fromRow);
  }

  /** When the earliest pending row becomes due (undefined when nothing is pending). */
  nextDueAt(): number | undefined {
    return this.q.nextAt.get()?.next ?? undefined;
  }

  /** Records the post, and the repository's outcome with it (one commit). */
  markPosted(id: number, now: number, repoState?: { repo: string; state: RepoReportState }): void {
    this.db.transaction(() => {
      this.q.posted.run(now, id);
      if (repoState) this.setRepoState(repoState.repo, repoState.state);
    })();
  }

  /** Keeps the row pending, due again at `nextAt`, with the reason shown meanwhile. */
  markRetry(id: number, nextAt: number, reason: string): void {
    this.q.retry.run(nextAt, reason, id);
  }

  /** Gives up on the row for good (bad token, missing permission, unknown commit). */
  markFailed(id: number, reason: string): void {
    this.q.failed.run(reason, id);
  }

  ofRun(runId: string): OutboxRow[] {
    return this.q.ofRun.all(runId).map(fromRow);
  }

  counts(): Record<OutboxStatus, number> {
    const out: Record<OutboxStatus, number> = { pending: 0, posted: 0, failed: 0 };
    for (const r of this.q.counts.all()) out[r.status] = r.n;
    return out;
  }

  setRepoState(repo: string, state: RepoReportState): void {
    this.q.setRepo.run(repo, state.ok ? 1 : 0, state.message, state.at);
  }

  repoState(repo: string): RepoReportState | undefined {
    const r = this.q.getRepo.get(repo);
    return r ? { ok: r.ok === 1, message: r.message, at: r.at } : undefined;
  }
}
