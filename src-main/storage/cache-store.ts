/**
 * Build caches: directories of a job's container archived under a key, restored into later jobs.
 *
 * Layout: one directory per entry, `<dataDir>/caches/<uuid>/` holding `manifest.json` and one tar
 * per cached path (`0.tar`, `1.tar`, …) exactly as the container's archive API produced it. A
 * restore streams each tar file straight into putArchive at the path's parent directory: no
 * re-packing, no compression, so a restore costs what a plain `tar -x` costs (bench/cache.bench.js).
 *
 * Scopes stop cache poisoning: an entry belongs to the scope of the run that wrote it (the pushed
 * branch, `pr/<number>` for pull requests, `tag/<tag>` for tags). A run reads its own scope, then the
 * repository's default-branch scope; it writes only its own. A pull request therefore can never
 * write what the default branch reads, whatever its head branch is called.
 *
 * Concurrent writers of one key: each builds its entry in a private temp directory, renames it into
 * place, then `INSERT OR IGNORE`s the row; the first row wins and losers delete their directory. A
 * row is only ever inserted for a complete directory, so no reader can see a partial entry.
 * Eviction skips entries being restored (pinned in memory) and deletes the row before the files.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { JobContainer } from '../core/job-contract.js';
import { formatBytes } from '../../shared/format.js';
import { patternProblem } from '../../shared/workspace-pattern.js';
import type { Db } from './db.js';
import { isDiskFull } from '../core/disk-full.js';

export interface CacheEntry {
  repo: string;
  scope: string;
  key: string;
  /** Entry directory, relative to the data directory. */
  file: string;
  size: number;
  createdAt: number;
  lastUsedAt: number;
}

export type CacheLookup =
  | { kind: 'hit'; entry: CacheEntry }
  | { kind: 'partial'; entry: CacheEntry; restoreKey: string }
  | { kind: 'miss' };

interface CacheRow {
  repo: string;
  scope: string;
  key: string;
  file: string;
  size: number;
  created_at: number;
  last_used_at: number;
}

interface Manifest {
  version: 1;
  key: string;
  parts: { path: string; file: string }[];
}

const toEntry = (r: CacheRow): CacheEntry => ({
  repo: r.repo, scope: r.scope, key: r.key, file: r.file, size: r.size, createdAt: r.created_at, lastUsedAt: r.last_used_at,
});

const RESERVED_SCOPE = /^(pr|tag|branch|sha)\//;

/** The scope of a branch; branch names that look like another kind of scope are prefixed so they cannot collide. */
export function branchScope(branch: string): string {
  return RESERVED_SCOPE.test(branch) ? `branch/${branch}` : branch;
}

/** The one scope a run may write: never the default branch's unless it is a push (or manual run) of it. */
export function writeScope(event: TriggerEvent): string {
  if (event.kind === 'pull_request') return `pr/${event.prNumber ?? `head-${event.branch ?? event.sha}`}`;
  if (event.kind === 'tag') return `tag/${event.tag ?? event.sha}`;
  if (event.branch) return branchScope(event.branch);
  return `sha/${event.sha}`;
}

/** The scopes a run reads, in order: its own, then the repository's default branch. */
export function readScopes(event: TriggerEvent, defaultBranch: string): string[] {
  const own = writeScope(event);
  const def = branchScope(defaultBranch);
  return own === def ? [own] : [own, def];
}

export class CacheStore {
  private readonly root: string;
  private readonly tmpRoot: string;
  private readonly now: () => number;
  private readonly pins = new Map<string, number>();
  private readonly inFlight = new Set<string>();

  constructor(private readonly db: Db, private readonly dataDir: string, options: { now?: () => number } = {}) {
    this.root = join(dataDir, 'caches');
    this.tmpRoot = join(this.root, 'tmp');
    mkdirSync(this.tmpRoot, { recursive: true });
    this.now = options.now ?? Date.now;
  }

  /** Exact key first, then each restore-key prefix (newest entry first), scope by scope. */
  find(repo: string, scopes: string[], key: string, restoreKeys: string[]): CacheLookup {
    const exact = this.db.prepare('SELECT * FROM caches WHERE repo = ? AND scope = ? AND key = ?');
    const prefix = this.db.prepare(
      'SELECT * FROM caches WHERE repo = ? AND scope = ? AND substr(key, 1, length(?)) = ? ORDER BY created_at DESC, key DESC LIMIT 1',
    );
    for (const scope of scopes) {
      const hit = exact.get(repo, scope, key) as CacheRow | undefined;
      if (hit) return { kind: 'hit', entry: toEntry(hit) };
      for (const rk of restoreKeys) {
        if (rk === '') continue;
        const row = prefix.get(repo, scope, rk, rk) as CacheRow | undefined;
        if (row) return { kind: 'partial', entry: toEntry(row), restoreKey: rk };
      }
    }
    return { kind: 'miss' };
  }

  get(repo: string, scope: string, key: string): CacheEntry | undefined {
    const row = this.db.prepare('SELECT * FROM caches WHERE repo = ? AND scope = ? AND key = ?').get(repo, scope, key) as CacheRow | undefined;
    return row && toEntry(row);
  }

  list(): CacheEntry[] {
    return (this.db.prepare('SELECT * FROM caches ORDER BY last_used_at DESC').all() as CacheRow[]).map(toEntry);
  }

  /** Counts a lookup outcome in cache_stats (hits, partial_hits, misses). */
  recordOutcome(kind: CacheLookup['kind']): void {
    const name = kind === 'hit' ? 'hits' : kind === 'partial' ? 'partial_hits' : 'misses';
    this.db.prepare('UPDATE cache_stats SET value = value + 1 WHERE name = ?').run(name);
  }

  /**
   * Extracts the entry into the container (each path back where it was) and marks it used.
   * Call it right after find(), without awaiting in between: the entry is pinned synchronously.
   */
  async restore(container: JobContainer, entry: CacheEntry): Promise<void> {
    this.pin(entry.file);
    try {
      const dir = join(this.dataDir, entry.file);
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
      for (const part of manifest.parts) {
        const target = posix.dirname(posix.resolve(container.workspace, part.path));
        const handle = await open(join(dir, part.file), 'r');
        try {
          await container.putArchive(target, handle.createReadStream());
        } finally {
          await handle.close().catch(() => undefined);
        }
      }
      this.db.prepare('UPDATE caches SET last_used_at = ? WHERE repo = ? AND scope = ? AND key = ?').run(this.now(), entry.repo, entry.scope, entry.key);
    } finally {
      this.unpin(entry.file);
    }
  }

  /**
   * Archives `paths` of the container under (repo, scope, key). Missing paths are skipped with a
   * log line. Returns the stored entry, or undefined when nothing was stored (no path exists, or
   * another writer stored the key first — its entry is kept).
   */
  async save(container: JobContainer, req: { repo: string; scope: string; key: string; paths: string[]; log: (text: string) => void }): Promise<CacheEntry | undefined> {
    const { log } = req;
    if (this.get(req.repo, req.scope, req.key)) {
      log(`cache ${req.key} already exists in scope ${req.scope}; not saved again`);
      return undefined;
    }
    const name = randomUUID();
    const tmp = join(this.tmpRoot, name);
    this.inFlight.add(name);
    try {
      mkdirSync(tmp);
      const parts: Manifest['parts'] = [];
      let size = 0;
      for (const p of req.paths) {
        const problem = patternProblem(p, 'cache', { glob: false });
        if (problem) {
          log(`cache path '${p}' refused: it ${problem}; skipped`);
          continue;
        }
        const source = posix.resolve(container.workspace, p);
        let archive;
        try {
          archive = await container.getArchive(source);
        } catch {
          log(`cache path '${p}' does not exist; skipped`);
          continue;
        }
        const file = `${parts.length}.tar`;
        await pipeline(archive, createWriteStream(join(tmp, file)));
        size += (await stat(join(tmp, file))).size;
        parts.push({ path: p, file });
      }
      if (parts.length === 0) {
        log(`cache not saved: none of the paths ${req.paths.map((p) => `'${p}'`).join(', ')} exist`);
        return undefined;
      }
      const manifest: Manifest = { version: 1, key: req.key, parts };
      await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest));
      const rel = `caches/${name}`;
      await rename(tmp, join(this.dataDir, rel));
      const t = this.now();
      const inserted = this.db
        .prepare('INSERT OR IGNORE INTO caches (repo, scope, key, file, size, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(req.repo, req.scope, req.key, rel, size, t, t);
      if (inserted.changes === 0) {
        await rm(join(this.dataDir, rel), { recursive: true, force: true });
        log(`cache ${req.key} was saved by another job first; keeping that entry`);
        return undefined;
      }
      log(`cache saved: ${req.key} (${formatBytes(size)}) in scope ${req.scope}`);
      return { repo: req.repo, scope: req.scope, key: req.key, file: rel, size, createdAt: t, lastUsedAt: t };
    } finally {
      this.inFlight.delete(name);
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Removes entries not used since `cutoff` (pinned ones are kept). */
  async deleteUnusedSince(cutoff: number): Promise<CacheEntry[]> {
    const rows = this.db.prepare('SELECT * FROM caches WHERE last_used_at < ? ORDER BY last_used_at').all(cutoff) as CacheRow[];
    return this.evict(rows.map(toEntry));
  }

  /** Evicts least recently used entries until the total size is at most `maxBytes`. */
  async enforceSizeCap(maxBytes: number): Promise<CacheEntry[]> {
    const rows = (this.db.prepare('SELECT * FROM caches ORDER BY last_used_at, created_at').all() as CacheRow[]).map(toEntry);
    let total = rows.reduce((n, r) => n + r.size, 0);
    const victims: CacheEntry[] = [];
    for (const r of rows) {
      if (total <= maxBytes) break;
      if (this.pins.has(r.file)) continue;
      victims.push(r);
      total -= r.size;
    }
    return this.evict(victims);
  }

  /**
   * Deletes every cache entry not in use (the Storage page). On a full disk the directories go first
   * (rows cannot be deleted without room), then the rows.
   */
  async deleteAll(): Promise<number> {
    try {
      return (await this.enforceSizeCap(0)).length;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
    }
    for (const e of this.list()) if (!this.pins.has(e.file)) await rm(join(this.dataDir, e.file), { recursive: true, force: true });
    return (await this.enforceSizeCap(0)).length;
  }

  /** Deletes directories under caches/ that no row names (crash leftovers), and stale temp dirs. */
  async sweepFiles(): Promise<number> {
    const known = this.db.prepare('SELECT 1 FROM caches WHERE file = ? LIMIT 1');
    let removed = 0;
    for (const name of safeReaddir(this.root)) {
      if (name === 'tmp') continue;
      if (known.get(`caches/${name}`) === undefined && !this.pins.has(`caches/${name}`)) {
        await rm(join(this.root, name), { recursive: true, force: true });
        removed++;
      }
    }
    for (const name of safeReaddir(this.tmpRoot)) {
      if (!this.inFlight.has(name)) {
        await rm(join(this.tmpRoot, name), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Rows go first, synchronously and only for unpinned entries; the directories after. */
  private async evict(entries: CacheEntry[]): Promise<CacheEntry[]> {
    const del = this.db.prepare('DELETE FROM caches WHERE repo = ? AND scope = ? AND key = ? AND file = ?');
    const removed = this.db.transaction(() => entries.filter((e) => !this.pins.has(e.file) && del.run(e.repo, e.scope, e.key, e.file).changes > 0))();
    for (const e of removed) await rm(join(this.dataDir, e.file), { recursive: true, force: true });
    return removed;
  }

  private pin(file: string): void {
    this.pins.set(file, (this.pins.get(file) ?? 0) + 1);
  }

  private unpin(file: string): void {
    const n = (this.pins.get(file) ?? 0) - 1;
    if (n > 0) this.pins.set(file, n);
    else this.pins.delete(file);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
