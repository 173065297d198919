/**
 * The retention service: keeps the data directory from filling the disk.
 *
 * One pass (runOnce): delete expired artifact rows (expires_at, or retention.artifactsMs after
 * creation when unset); delete caches unused for retention.cachesMs; evict least recently used
 * caches until their total is at most retention.cacheSizeBytes; sweep blobs no artifact references
 * and cache directories no row names; collect host leftovers (git mirrors of repositories no longer configured, old workspace
 * directories) unused for retention.workspacesMs (leftovers-gc.ts).
 *
 * Safe while jobs run: rows are deleted before files, blobs and cache entries in use are pinned by
 * their stores (and skipped), and readers hold open file descriptors. Passes never overlap: a call
 * while one runs returns that pass. start() runs a pass at once (start-up) and then every interval.
 */
import type { KilnConfig } from '../core/engine-contract.js';
import type { ArtifactStore } from './artifact-store.js';
import type { CacheStore } from './cache-store.js';
import type { Db } from './db.js';
import { collectLeftovers } from './leftovers-gc.js';

export const DEFAULT_RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export interface RetentionDeps {
  db: Db;
  dataDir: string;
  artifacts: ArtifactStore;
  caches: CacheStore;
  retention: KilnConfig['retention'];
  now?: () => number;
  /** Mirror directories of the repositories configured now: never collected. */
  mirrorsInUse?: () => Iterable<string>;
  /** Where a pass reports what it removed (default: nowhere). */
  onReport?: (report: RetentionReport) => void;
}

export interface RetentionReport {
  startedAt: number;
  durationMs: number;
  artifactsDeleted: number;
  blobsDeleted: number;
  blobBytesFreed: number;
  cachesExpired: number;
  cachesEvicted: number;
  cacheBytesFreed: number;
  /** Cache directories without a row (crash leftovers) removed. */
  cacheFilesSwept: number;
  /** Mirrors of repositories no longer configured, and workspace directories of earlier versions. */
  mirrorsRemoved: number;
  workspacesRemoved: number;
  /** Problems that did not stop the pass. */
  errors: string[];
}

export class RetentionService {
  private readonly now: () => number;
  private running: Promise<RetentionReport> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RetentionDeps) {
    this.now = deps.now ?? Date.now;
  }

  runOnce(): Promise<RetentionReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Runs a pass now and then every `intervalMs` (default one hour). Idempotent. */
  start(intervalMs: number = DEFAULT_RETENTION_INTERVAL_MS): void {
    if (this.timer) return;
    const tick = (): void => {
      this.runOnce().then(
        (r) => this.deps.onReport?.(r),
        () => undefined,
      );
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  /**
   * Low on space: a pass now (expired artifacts and caches first), then least recently used caches
   * until `shortBy()` — the bytes still missing, read afresh — is 0 or no unpinned cache is left.
   */
  async freeUp(shortBy: () => number): Promise<RetentionReport> {
    const report = await this.runOnce();
    const missing = shortBy();
    if (missing <= 0) return report;
    try {
      const total = this.deps.caches.list().reduce((n, e) => n + e.size, 0);
      const gone = await this.deps.caches.enforceSizeCap(Math.max(0, total - missing));
      report.cachesEvicted += gone.length;
      report.cacheBytesFreed += gone.reduce((n, e) => n + e.size, 0);
    } catch (err) {
      report.errors.push(`caches by free space: ${err instanceof Error ? err.message : String(err)}`);
    }
    return report;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async pass(): Promise<RetentionReport> {
    const { artifacts, caches, retention } = this.deps;
    const startedAt = this.now();
    const report: RetentionReport = {
      startedAt, durationMs: 0, artifactsDeleted: 0, blobsDeleted: 0, blobBytesFreed: 0, cachesExpired: 0, cachesEvicted: 0,
      cacheBytesFreed: 0, cacheFilesSwept: 0, mirrorsRemoved: 0, workspacesRemoved: 0, errors: [],
    };
    const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        report.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    await step('artifacts', () => {
      report.artifactsDeleted = artifacts.deleteExpired(startedAt, retention.artifactsMs).length;
    });
    await step('blobs', () => {
      const swept = artifacts.sweepBlobs();
      report.blobsDeleted = swept.blobs;
      report.blobBytesFreed = swept.bytes;
    });
    await step('caches by age', async () => {
      const gone = await caches.deleteUnusedSince(startedAt - retention.cachesMs);
      report.cachesExpired = gone.length;
      report.cacheBytesFreed += gone.reduce((n, e) => n + e.size, 0);
    });
    await step('caches by size', async () => {
      const gone = await caches.enforceSizeCap(retention.cacheSizeBytes);
      report.cachesEvicted = gone.length;
      report.cacheBytesFreed += gone.reduce((n, e) => n + e.size, 0);
    });
    await step('cache files', async () => {
      report.cacheFilesSwept = await caches.sweepFiles();
    });
    await step('leftovers', async () => {
      const gc = await collectLeftovers({ dataDir: this.deps.dataDir, maxAgeMs: retention.workspacesMs, now: () => startedAt, mirrorsInUse: this.deps.mirrorsInUse });
      report.mirrorsRemoved = gc.mirrors;
      report.workspacesRemoved = gc.directories;
      report.errors.push(...gc.errors);
    });
    report.durationMs = this.now() - startedAt;
    return report;
  }
}
