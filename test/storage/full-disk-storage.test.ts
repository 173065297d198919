/**
 * The stores on a real full disk (a tmpfs of a few megabytes): a log that fills it is cut at its
 * last complete line instead of throwing from its flush timer, and the database opens, reads and —
 * once space is freed — writes again, intact.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isExclusive, openDatabase } from '../../src-main/storage/db.js';
import { LogStore, type LogCut } from '../../src-main/storage/log-store.js';
import { writeFileAtomic } from '../../src-main/storage/secret-vault.js';
import { mountSmallDisk, removeFill, type SmallDisk } from '../helpers/small-disk.js';

let root: string;
let disk: SmallDisk;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-full-'));
  disk = mountSmallDisk(join(root, 'data'), '2m');
});
afterEach(() => {
  disk.unmount();
  rmSync(root, { recursive: true, force: true });
});

describe('when the disk fills while a log is written', () => {
  it('cuts the log at its last complete line, reports the cut once, and keeps every earlier line readable', async () => {
    const cuts: { jobId: string; cut: LogCut }[] = [];
    const store = new LogStore(join(disk.dir, 'logs'), 5, (jobId, cut) => cuts.push({ jobId, cut }));
    const text = 'x'.repeat(200);
    // Far more than 2 MB: appends go on after the cut (the executor does not know yet) and must not throw.
    for (let i = 0; i < 20_000; i++) {
      store.append('job-1', { ts: 1_700_000_000_000 + i, stream: 'stdout', step: 0, text: `${i} ${text}` });
      if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 10)); // let the flush timer run
    }
    store.flushAll();
    expect(cuts).toHaveLength(1);
    const { cut } = cuts[0];
    expect(cut).toMatchObject({ step: 0, diskFull: true });
    expect(cut.lines).toBeGreaterThan(1000);
    expect(store.cut('job-1')).toEqual(cut);
    expect(store.count('job-1')).toBe(cut.lines);
    // The file ends at a complete record: exactly the bytes of the lines kept.
    expect(statSync(join(disk.dir, 'logs', 'job-1.log')).size).toBe(cut.bytes);
    const last = await store.read('job-1', cut.lines - 1, 5);
    expect(last.map((l) => l.seq)).toEqual([cut.lines - 1]);
    expect(last[0].text).toBe(`${cut.lines - 1} ${text}`);
    await store.closeAll();
    // A fresh store (a restart) reads the same lines.
    const again = new LogStore(join(disk.dir, 'logs'));
    expect(again.count('job-1')).toBe(cut.lines);
    expect((await again.read('job-1', 0, 2)).map((l) => l.text)).toEqual([`0 ${text}`, `1 ${text}`]);
    await again.closeAll();
  });
});

describe('when the database is opened on a full disk', () => {
  it('opens with the WAL index in memory, answers reads, refuses writes with SQLITE_FULL, and writes once space is freed', () => {
    const file = join(disk.dir, 'kiln.db');
    const first = openDatabase(file);
    first.exec('CREATE TABLE notes (text TEXT)');
    first.prepare('INSERT INTO notes VALUES (?)').run('before the disk filled');
    first.close(); // a clean close removes -wal and -shm: the next open must create them
    const filler = disk.fill('filler');
    expect(disk.free()).toBeLessThan(4096);
    // Without exclusive locking SQLite cannot even read: it must allocate the -shm index first.
    const plain = new Database(file);
    try {
      expect(() => plain.prepare('SELECT COUNT(*) FROM notes').get()).toThrow(/disk I\/O error|disk is full/);
    } finally {
      plain.close();
    }

    let freed = false;
    const db = openDatabase(file, { freeRoom: () => { freed = true; } });
    try {
      expect(freed).toBe(true);
      expect(isExclusive(db)).toBe(true);
      expect(db.prepare('SELECT text FROM notes').all()).toEqual([{ text: 'before the disk filled' }]);
      expect(() => db.prepare('INSERT INTO notes VALUES (?)').run('x'.repeat(8000))).toThrow(/database or disk is full/);
      removeFill(filler);
      db.prepare('INSERT INTO notes VALUES (?)').run('after freeing space');
      expect(db.prepare('SELECT COUNT(*) AS n FROM notes').get()).toEqual({ n: 2 });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });

  it('refuses to create a new database on a full disk with a sentence naming the file and the fix', () => {
    disk.fill('filler');
    expect(() => openDatabase(join(disk.dir, 'new.db'))).toThrow(/new\.db: disk full: the database cannot be created without free space on its disk; free some and start again/);
  });
});

describe('when a settings file or the secret vault is saved on a full disk', () => {
  it('fails the save with ENOSPC, keeps the old file whole, and leaves no temporary file', () => {
    const file = join(disk.dir, 'secrets.json');
    writeFileSync(file, '{"old":true}\n', { mode: 0o600 });
    disk.fill('filler');
    expect(() => writeFileAtomic(file, JSON.stringify({ secrets: 'x'.repeat(64 * 1024) }), 0o600)).toThrow(/ENOSPC/);
    expect(readFileSync(file, 'utf8')).toBe('{"old":true}\n');
    expect(readdirSync(disk.dir).sort()).toEqual(['filler', 'secrets.json']);
  });
});
