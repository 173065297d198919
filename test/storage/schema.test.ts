import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../src-main/storage/db.js';
import { MIGRATIONS } from '../../src-main/storage/migrations.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('when a data directory is opened', () => {
  it('applies every migration once and reopens without re-applying them', () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-schema-'));
    const file = join(dir, 'kiln.db');
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.prepare("INSERT INTO repositories (name, url, created_at) VALUES ('a/b', '/x', 1)").run();
    db.close();
    const again = openDatabase(file);
    expect(again.prepare('SELECT COUNT(*) AS n FROM repositories').get()).toEqual({ n: 1 });
    expect(again.pragma('integrity_check', { simple: true })).toBe('ok');
    again.close();
  });

  it('upgrades a version 1 database in place, keeping the replay protection it had', () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-schema-'));
    const file = join(dir, 'kiln.db');
    // A data directory as the first release left it: only migration 1 applied.
    const v1 = new Database(file);
    v1.pragma('journal_mode = WAL');
    v1.exec(MIGRATIONS[0].sql);
    v1.pragma('user_version = 1');
    v1.prepare("INSERT INTO seen_deliveries (key, seen_at) VALUES ('id:d1', 100), ('body:b1', 100), ('id:d2', 200)").run();
    v1.close();
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    expect(db.prepare('SELECT seen_at, key FROM seen_deliveries').all()).toEqual([
      { seen_at: 100, key: 'body:b1' }, { seen_at: 100, key: 'id:d1' }, { seen_at: 200, key: 'id:d2' },
    ]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('refuses a database written by a newer Kiln with a message naming the file', () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-schema-'));
    const file = join(dir, 'kiln.db');
    const db = openDatabase(file);
    db.pragma('user_version = 999');
    db.close();
    expect(() => openDatabase(file)).toThrow(/kiln\.db: database schema version 999 is newer/);
  });
});
