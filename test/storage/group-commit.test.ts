import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src-main/storage/db.js';
import type { Db } from '../../src-main/storage/db.js';
import { GroupCommit, SLICE_MS } from '../../src-main/storage/group-commit.js';

describe('GroupCommit over a real SQLite file', () => {
  let dir: string;
  let file: string;
  let db: Db;
  let other: Database.Database;
  const insert = (id: string) => db.prepare("INSERT INTO counters (name, value) VALUES (?, 1)").run(id);
  /** What a second connection (another reader of the file) sees as committed. */
  const committed = () => (other.prepare('SELECT name FROM counters ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  /**
   * The slice is measured on the clock a group is given. On the real one a loaded machine can spend
   * more than SLICE_MS on one small insert, and the next write then goes to a group of its own. The
   * cases about what one group holds run on a clock that stands still, so the slice never runs out;
   * the cases about the slice move the clock themselves.
   */
  const stillClock = () => 0;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-group-commit-'));
    file = join(dir, 'kiln.db');
    db = openDatabase(file);
    other = new Database(file);
  });

  afterEach(() => {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes of one turn share a transaction, and each promise resolves only after the commit', async () => {
    const commits = new GroupCommit(db, undefined, stillClock);
    const seenInB: string[][] = [];
    const a = commits.write(() => { insert('a'); return 'A'; });
    const b = commits.write(() => {
      insert('b');
      seenInB.push(committed()); // a is written but not committed: one transaction, not two
      return 'B';
    });
    expect(committed()).toEqual([]); // nothing runs before the turn ends
    await expect(a).resolves.toBe('A');
    expect(committed()).toEqual(['a', 'b']);
    await expect(b).resolves.toBe('B');
    expect(seenInB).toEqual([[]]);
  });

  it('a write that throws is undone and rejected alone', async () => {
    const commits = new GroupCommit(db, undefined, stillClock);
    const a = commits.write(() => insert('a'));
    const bad = commits.write(() => {
      insert('half');
      throw new Error('boom');
    });
    const c = commits.write(() => insert('c'));
    await expect(bad).rejects.toThrow('boom');
    await Promise.all([a, c]);
    expect(committed()).toEqual(['a', 'c']);
  });

  it('runs afterCommit callbacks once the group commits, and drops those of a write that threw', async () => {
    const commits = new GroupCommit(db, undefined, stillClock);
    const events: string[] = [];
    const good = commits.write(() => {
      insert('a');
      commits.afterCommit(() => events.push(`after a, committed: ${committed().join(',')}`));
    });
    const bad = commits.write(() => {
      commits.afterCommit(() => events.push('after bad'), () => events.push('bad rolled back'));
      throw new Error('no');
    });
    await good;
    await bad.catch(() => undefined);
    expect(events).toEqual(['bad rolled back', 'after a, committed: a']);
    // Outside a group, afterCommit runs at once.
    commits.afterCommit(() => events.push('now'));
    expect(events.at(-1)).toBe('now');
  });

  it('when the group cannot commit, every write rejects and nothing is stored', async () => {
    db.pragma('busy_timeout = 0');
    const commits = new GroupCommit(db, undefined, stillClock);
    const rolledBack: string[] = [];
    other.prepare('BEGIN IMMEDIATE').run(); // another writer holds the lock
    const a = commits.write(() => {
      insert('a');
      commits.afterCommit(() => rolledBack.push('committed?!'), () => rolledBack.push('a rolled back'));
    });
    const b = commits.write(() => insert('b'));
    await expect(a).rejects.toThrow(/locked|busy/i);
    await expect(b).rejects.toThrow(/locked|busy/i);
    other.prepare('ROLLBACK').run();
    expect(committed()).toEqual([]);
    expect(rolledBack).toEqual([]); // the writes never ran: nothing to undo, nothing committed
    // The next group works again.
    await commits.write(() => insert('c'));
    expect(committed()).toEqual(['c']);
  });

  it('when SQLite undoes the whole transaction (disk full), every write taken fails and none is stored', async () => {
    // A journal-mode rollback database so that running out of pages aborts the transaction.
    const small = new Database(join(dir, 'small.db'));
    small.exec('CREATE TABLE t (v TEXT)');
    small.pragma(`max_page_count = ${(small.pragma('page_count', { simple: true }) as number) + 2}`);
    const commits = new GroupCommit(small, undefined, stillClock);
    const rolledBack: string[] = [];
    const first = commits.write(() => {
      small.prepare("INSERT INTO t VALUES ('first')").run();
      commits.afterCommit(() => rolledBack.push('first committed?!'), () => rolledBack.push('first rolled back'));
    });
    const full = commits.write(() => { for (let i = 0; i < 50; i++) small.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(3000) + i); });
    const third = commits.write(() => small.prepare("INSERT INTO t VALUES ('third')").run());
    const results = await Promise.allSettled([first, full, third]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/full/i);
    expect(rolledBack).toEqual(['first rolled back']);
    // 'third' was not taken by the failed group: it committed in the next one, on its own.
    expect(small.prepare('SELECT v FROM t').all()).toEqual([{ v: 'third' }]);
    expect(small.inTransaction).toBe(false);
    small.close();
  });

  it('refuses flush() from inside a write (it would report success before the group commits)', async () => {
    const commits = new GroupCommit(db, undefined, stillClock);
    await expect(commits.write(() => commits.drain())).rejects.toThrow(/inside a write/);
  });

  it('a group stops taking writes after SLICE_MS; the rest commit in the next turn, in order', async () => {
    let clock = 0;
    const commits = new GroupCommit(db, undefined, () => clock);
    const order: string[] = [];
    const slow = commits.write(() => {
      clock += SLICE_MS + 1; // a write that takes longer than a slice
      insert('slow');
      order.push('slow');
    });
    const next = commits.write(() => {
      insert('next');
      order.push(`next sees ${committed().join(',')}`); // the slow write's group has committed already
    });
    const last = commits.write(() => { insert('last'); order.push('last'); });
    await Promise.all([slow, next, last]);
    expect(order).toEqual(['slow', 'next sees slow', 'last']);
    expect(committed()).toEqual(['last', 'next', 'slow']);
  });

  it('drain() writes everything pending at once, slices or not (used before closing the database)', () => {
    let clock = 0;
    const commits = new GroupCommit(db, undefined, () => clock);
    const busy = () => { clock += SLICE_MS + 1; };
    void commits.write(() => { busy(); insert('a'); });
    void commits.write(() => { busy(); insert('b'); });
    commits.drain();
    expect(committed()).toEqual(['a', 'b']);
  });
});
