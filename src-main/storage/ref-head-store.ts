/**
 * What catch-up remembers of each repository's remote: the last-seen head of every branch, tag and
 * pull request ref (`ref_heads`), whether the repository has been seen at all and how many runs
 * catch-up started for it (`catch_up_repos`), and the question the exactly-once rule asks of the
 * runs table: has a run already built this commit of this ref?
 *
 * Every method is one prepared statement (or a read), so it composes inside the caller's
 * transaction: the engine writes a head in the same write that stores the runs it started.
 */
import type { Db } from './db.js';

export interface CatchUpRepoRow {
  repo: string;
  baseline_at: number;
  caught_up: number;
}

export class RefHeadStore {
  private readonly selectHeads;
  private readonly upsertHead;
  private readonly deleteHead;
  private readonly selectRepo;
  private readonly insertRepo;
  private readonly bumpCaughtUp;
  private readonly selectBuilt;
  private readonly selectPrBase;

  constructor(db: Db) {
    this.selectHeads = db.prepare('SELECT ref, sha FROM ref_heads WHERE repo = ?');
    this.upsertHead = db.prepare(`INSERT INTO ref_heads (repo, ref, sha, seen_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (repo, ref) DO UPDATE SET sha = excluded.sha, seen_at = excluded.seen_at`);
    this.deleteHead = db.prepare('DELETE FROM ref_heads WHERE repo = ? AND ref = ?');
    this.selectRepo = db.prepare('SELECT repo, baseline_at, caught_up FROM catch_up_repos WHERE repo = ?');
    this.insertRepo = db.prepare('INSERT OR IGNORE INTO catch_up_repos (repo, baseline_at, caught_up) VALUES (?, ?, 0)');
    this.bumpCaughtUp = db.prepare('UPDATE catch_up_repos SET caught_up = caught_up + ? WHERE repo = ?');
    // Re-runs copy their original's event, so they count as built too; manual runs of a branch as well.
    // A run stored without a ref (an event from an API caller) counts for the branch or tag it names.
    this.selectBuilt = db.prepare(`SELECT triggered_by AS triggeredBy, number FROM runs
      WHERE repo = @repo AND sha = @sha AND (ref = @ref OR (ref IS NULL AND (branch = @name OR tag = @name)))
      ORDER BY created_at LIMIT 1`);
    this.selectPrBase = db.prepare(`SELECT base_branch AS baseBranch, branch FROM runs
      WHERE repo = ? AND pr_number = ? AND base_branch IS NOT NULL AND event = 'pull_request' ORDER BY created_at DESC LIMIT 1`);
  }

  /** ref → last-seen SHA. */
  heads(repo: string): Map<string, string> {
    const rows = this.selectHeads.all(repo) as { ref: string; sha: string }[];
    return new Map(rows.map((r) => [r.ref, r.sha]));
  }

  setHead(repo: string, ref: string, sha: string, at: number): void {
    this.upsertHead.run(repo, ref, sha, at);
  }

  removeHead(repo: string, ref: string): void {
    this.deleteHead.run(repo, ref);
  }

  /** Undefined until the repository's first catch-up recorded its heads. */
  repoState(repo: string): CatchUpRepoRow | undefined {
    return this.selectRepo.get(repo) as CatchUpRepoRow | undefined;
  }

  markBaseline(repo: string, at: number): void {
    this.insertRepo.run(repo, at);
  }

  countCaughtUp(repo: string, runs: number): void {
    this.bumpCaughtUp.run(runs, repo);
  }

  /** The first run that built `sha` for `ref` in `repo`, if any: who triggered it and its number. */
  builtBy(repo: string, ref: string, sha: string): { triggeredBy: string | null; number: number } | undefined {
    const name = ref.replace(/^refs\/(heads|tags)\//, '');
    return this.selectBuilt.get({ repo, sha, ref, name }) as { triggeredBy: string | null; number: number } | undefined;
  }

  /** The base and head branches of the last run of this pull request (from its webhook), if one was stored. */
  pullRequestBranches(repo: string, prNumber: number): { baseBranch: string; branch?: string } | undefined {
    const row = this.selectPrBase.get(repo, prNumber) as { baseBranch: string; branch: string | null } | undefined;
    return row ? { baseBranch: row.baseBranch, ...(row.branch ? { branch: row.branch } : {}) } : undefined;
  }
}
