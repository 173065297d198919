import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDiskFull } from '../core/disk-full.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the one SQLite database of a data directory, in WAL mode with
 * synchronous=NORMAL (durable across process crashes; a power cut may lose the last transactions),
 * and applies pending migrations. Throws a clear error when the database is newer than this build.
 *
 * On a full disk SQLite cannot even read a WAL database: the shared-memory index (-shm) must be
 * allocated first (SQLITE_IOERR_SHMSIZE). Then `freeRoom` (the disk guard's reserve) is asked to
 * free space and the open is tried again; if there is still no room, the database is opened with
 * exclusive locking, which keeps that index in memory: everything stored stays readable, and writes
 * fail with SQLITE_FULL until space is freed, then succeed. `exclusive` says which one happened.
 */
export function openDatabase(file: string, options: { freeRoom?: () => void } = {}): Db {
  if (file === ':memory:') return openWith(file, false);
  mkdirSync(dirname(file), { recursive: true });
  const existed = existsSync(file);
  try {
    return openWith(file, false);
  } catch (err) {
    if (!isDiskFull(err)) throw err;
  }
  options.freeRoom?.();
  try {
    return openWith(file, false);
  } catch (err) {
    if (!isDiskFull(err)) throw err;
  }
  try {
    return openWith(file, true);
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    throw new Error(`${file}: disk full: the database cannot be ${existed ? 'opened' : 'created'} without free space on its disk; free some and start again`, { cause: err });
  }
}

/** True when the database was opened with exclusive locking because the disk was full (see openDatabase). */
export function isExclusive(db: Db): boolean {
  return db.pragma('locking_mode', { simple: true }) === 'exclusive';
}

function openWith(file: string, exclusive: boolean): Db {
  const db = new Database(file);
  try {
    if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, file);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db, file: string): void {
  const current = schemaVersion(db);
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(`${file}: database schema version ${current} is newer than this Kiln (${latest}); upgrade Kiln or use another data directory`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
