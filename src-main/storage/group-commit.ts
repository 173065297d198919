/**
 * Group commit: writes requested in the same turn of the event loop share one SQLite transaction.
 *
 * A commit costs far more than the rows it carries: every page the transaction dirtied is appended
 * to the WAL with its own write calls, and the locks are taken and released. A burst of webhook
 * deliveries — each a run insert with its delivery record — would pay that once per delivery;
 * grouped, it pays it once per turn, and the pages the rows share are written once. A group takes
 * writes for at most SLICE_MS; a burst larger than that continues in the next turn, in order.
 *
 * Each write still runs alone in its own savepoint: one that throws is rolled back alone and only
 * its promise rejects. Promises settle only after the group has committed, so a caller that answers
 * "accepted" after awaiting its write never acknowledges something that is not on disk. Work that
 * must not see uncommitted state (publishing events, waking workers) is deferred with afterCommit.
 */
import { performance } from 'node:perf_hooks';
import type { Db } from './db.js';

/** How long one group may take writes before the rest waits for the next turn of the event loop. */
export const SLICE_MS = 3;

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
    /** The clock the slice is measured on, in ms (tests pass one that moves only when they say). */
    private readonly now: () => number = () => performance.now(),
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

  /**
   * Writes what is pending, in one transaction. A group stops taking writes once it has run for
   * SLICE_MS, so a burst cannot hold the event loop for long; the rest goes into the next turn's group.
   */
  flush(): void {
    this.assertNotInWrite();
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const hooks = { committed: [] as (() => void)[], rolledBack: [] as (() => void)[] };
    const outcomes: Outcome[] = [];
    const started = this.now();
    this.hooks = hooks;
    try {
      this.db.transaction(() => {
        for (const w of batch) {
          if (outcomes.length > 0 && this.now() - started > SLICE_MS) break;
          // A nested better-sqlite3 transaction is a savepoint: a throwing write is undone alone.
          const before = { committed: hooks.committed.length, rolledBack: hooks.rolledBack.length };
          try {
            outcomes.push({ ok: true, value: this.db.transaction(w.fn)() });
          } catch (error) {
            const undone = hooks.rolledBack.splice(before.rolledBack);
            hooks.committed.length = before.committed;
            this.run(undone);
            outcomes.push({ ok: false, error });
            // Some errors (disk full, I/O) make SQLite undo the whole transaction, not just the
            // savepoint: then the writes before this one are gone too, and no later write may run
            // (it would commit on its own). Fail the group as a whole.
            if (!this.db.inTransaction) throw error;
          }
        }
      }).immediate();
    } catch (error) {
      // BEGIN or COMMIT failed, or the transaction was undone (disk full, I/O error): nothing of the
      // writes taken is stored; those not taken yet are tried again in the next turn.
      this.hooks = undefined;
      this.run(hooks.rolledBack);
      for (const w of batch.slice(0, Math.max(1, outcomes.length))) w.reject(error);
      this.requeue(batch.slice(Math.max(1, outcomes.length)));
      return;
    }
    this.hooks = undefined;
    this.requeue(batch.slice(outcomes.length));
    this.run(hooks.committed);
    outcomes.forEach((o, i) => {
      if (o.ok) batch[i].resolve(o.value);
      else batch[i].reject(o.error);
    });
  }

  /** Writes everything pending now, in as many groups as it takes (before the database closes). */
  drain(): void {
    this.assertNotInWrite();
    while (this.pending.length > 0) this.flush();
  }

  /** From inside a write, a nested flush would commit into the open group's savepoint and report success before the group has committed. */
  private assertNotInWrite(): void {
    if (this.hooks) throw new Error('GroupCommit: flush() or drain() called from inside a write');
  }

  /** Puts writes a group did not take back at the front of the queue, for the next turn. */
  private requeue(rest: PendingWrite[]): void {
    if (rest.length === 0) return;
    this.pending = [...rest, ...this.pending];
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private run(callbacks: (() => void)[]): void {
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        try {
          this.onError('a callback after a group commit threw', err);
        } catch {
          // An error reporter that throws must not leave the group's promises unsettled.
        }
      }
    }
  }
}
