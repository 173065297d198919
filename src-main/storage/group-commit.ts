/**
 * Group commit: writes requested in the same turn of the event loop share one SQLite transaction.
 *
 * A commit costs far more than the rows it carries: every page the transaction dirtied is appended
 * to the WAL with its own write calls, and the locks are taken and released. A burst of webhook
 * deliveries — each a run insert and a delivery record — would pay that once or twice per delivery;
 * grouped, it pays it once per turn, and the index pages the rows share are written once.
 *
 * Each write still runs alone in its own savepoint: one that throws is rolled back alone and only
 * its promise rejects. Promises settle only after the group has committed, so a caller that answers
 * "accepted" after awaiting its write never acknowledges something that is not on disk. Work that
 * must not see uncommitted state (publishing events, waking workers) is deferred with afterCommit.
 */
import type { Db } from './db.js';

interface PendingWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  /** Set while a group is being written: callbacks to run once it commits, or once it rolls back. */
  private hooks: { committed: (() => void)[]; rolledBack: (() => void)[] } | undefined;

  constructor(
    private readonly db: Db,
    private readonly onError: (message: string, err: unknown) => void = () => {},
  ) {}

  /** Runs `fn` (synchronous) in the transaction of this turn's group; resolves with its result after the commit. */
  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Inside a group's write: runs `committed` once the group commits (or `rolledBack` if it does
   * not). Outside one: runs `committed` now, the caller's own transaction having committed.
   */
  afterCommit(committed: () => void, rolledBack?: () => void): void {
    if (!this.hooks) {
      committed();
      return;
    }
    this.hooks.committed.push(committed);
    if (rolledBack) this.hooks.rolledBack.push(rolledBack);
  }

  /** Writes everything pending now, in one transaction (also called by the scheduled turn). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const hooks = { committed: [] as (() => void)[], rolledBack: [] as (() => void)[] };
    const outcomes: Outcome[] = [];
    this.hooks = hooks;
    try {
      this.db.transaction(() => {
        for (const w of batch) {
          // A nested better-sqlite3 transaction is a savepoint: a throwing write is undone alone.
          const before = { committed: hooks.committed.length, rolledBack: hooks.rolledBack.length };
          try {
            outcomes.push({ ok: true, value: this.db.transaction(w.fn)() });
          } catch (error) {
            const undone = hooks.rolledBack.splice(before.rolledBack);
            hooks.committed.length = before.committed;
            this.run(undone);
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      // BEGIN or COMMIT failed (disk full, I/O error): nothing of the group is stored.
      this.hooks = undefined;
      this.run(hooks.rolledBack);
      for (const w of batch) w.reject(error);
      return;
    }
    this.hooks = undefined;
    this.run(hooks.committed);
    batch.forEach((w, i) => {
      const o = outcomes[i];
      if (o.ok) w.resolve(o.value);
      else w.reject(o.error);
    });
  }

  private run(callbacks: (() => void)[]): void {
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        this.onError('a callback after a group commit threw', err);
      }
    }
  }
}
