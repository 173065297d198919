/**
 * Free space, from the engine's side. The disk guard (storage/disk-guard.ts) only measures; this
 * service decides what its transitions mean:
 *  - low: no new job starts (the worker pool asks the guard), retention runs at once — expired
 *    artifacts and caches first, then least recently used caches until there is room — and one line
 *    says so on the console;
 *  - room again: start-up recovery that a full database refused is done now, and the queue is woken.
 * It also answers the health call's disk part, the queued runs' waiting reason, and the Storage
 * page's deletions (freeSpace), which need no free space to run: logs are plain files, and the
 * database gets the guard's reserve back before it deletes rows.
 */
import type { DiskHealth, FreeSpaceReport, FreeSpaceRequest } from '../../shared/api/engine-api.js';
import type { RunSummary } from '../../shared/model/run.js';
import { statfsSync } from 'node:fs';
import { isDiskFull } from '../core/disk-full.js';
import { DockerExecutor } from '../executor/docker-executor.js';
import type { DiskState } from '../storage/disk-guard.js';
import type { EngineParts } from './parts.js';

const DAY_MS = 86_400_000;

type Parts = Pick<EngineParts, 'executor' | 'engines' | 'bus' | 'disk' | 'db' | 'dbExclusive' | 'logs' | 'storage' | 'pool' | 'onError' | 'clock'>;

export class DiskService {
  private unsubscribe: (() => void) | undefined;
  /** Start-up recovery a full database refused; done once there is room. */
  private deferred: (() => void) | undefined;
  private reclaiming: Promise<void> | undefined;
  /** The Docker engine's data root, when `docker info` names one this machine can statfs. */
  private dockerRoot: string | undefined;
  /** Counts the engine changes: a look-up for engines Settings has replaced since is dropped. */
  private engineGeneration = 0;

  constructor(private readonly p: Parts, private readonly say: (line: string) => void = (line) => console.error(line)) {}

  /**
   * Starts watching and runs `startUp` (the engine's recovery writes). A full disk does not stop the
   * start: the writes are tried again once the guard sees room.
   */
  start(startUp: () => void): void {
    const stopWatching = this.p.disk.onChange((state) => this.changed(state));
    // A run that failed before any job ran because a mirror fetch found the disk full.
    const stopListening = this.p.bus.events.on((e) => {
      if (e.type === 'run' && e.run.error?.includes('disk full:')) this.p.disk.reportFull(`the run ${e.run.id}`);
    });
    // Settings replaced the engines (the pool follows first: it subscribed before): Docker's storage is the new local engine's, if any.
    const stopFollowing = this.p.bus.settings.on((change) => {
      if (change.engines) void this.findDockerRoot();
    });
    this.unsubscribe = () => {
      stopWatching();
      stopListening();
      stopFollowing();
    };
    // A low first sample is a transition: the listener above reacts to it.
    this.p.disk.start();
    if (this.p.dbExclusive) this.p.disk.reportFull('the database (opened read-mostly: the disk was full at start-up)');
    this.recover(startUp);
    void this.findDockerRoot();
  }

  stop(): void {
    this.unsubscribe?.();
    this.p.disk.stop();
  }

  /** Resolves when a retention pass started by low space has ended (tests). */
  settled(): Promise<void> {
    return this.reclaiming ?? Promise.resolve();
  }

  health(): DiskHealth {
    const s = this.p.disk.state;
    const waiting = this.p.pool.waitingToRecord;
    return {
      ok: !s.low, freeBytes: s.freeBytes, totalBytes: s.totalBytes, neededBytes: s.neededBytes,
      ...(s.low ? { message: this.p.disk.waitingReason() } : {}),
      ...(s.lastFull ? { lastFull: s.lastFull } : {}),
      ...(s.docker ? { docker: s.docker.message } : {}),
      ...this.dockerStorage(),
      ...(this.p.dbExclusive ? { databaseExclusive: true } : {}),
      ...(waiting > 0 ? { resultsWaiting: waiting } : {}),
    };
  }

  /** Docker's own disk, reported (the guard turns low on Docker's "no space left" errors, not on this number; it turns back on it). */
  private dockerStorage(): Pick<DiskHealth, 'dockerStorage'> {
    if (!this.dockerRoot) return {};
    try {
      const s = statfsSync(this.dockerRoot);
      return { dockerStorage: { path: this.dockerRoot, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize } };
    } catch {
      return {};
    }
  }

  private async findDockerRoot(): Promise<void> {
    const generation = ++this.engineGeneration;
    this.dockerRoot = undefined;
    this.p.disk.measureDockerWith(undefined);
    // The engine on this machine (reached over its Unix socket or named pipe): a remote engine's
    // data root means nothing here, even when this machine happens to have a folder of that name.
    const local = this.p.engines.names.find((n) => {
      const e = this.p.engines.executorOf(n);
      return e instanceof DockerExecutor && typeof (e.docker.modem as { socketPath?: unknown }).socketPath === 'string';
    });
    const executor = local === undefined ? undefined : this.p.engines.executorOf(local);
    if (local === undefined || !(executor instanceof DockerExecutor)) return;
    try {
      const info = (await executor.docker.info()) as { DockerRootDir?: string };
      if (!info.DockerRootDir || !statfsSync(info.DockerRootDir) || generation !== this.engineGeneration) return;
      const root = info.DockerRootDir;
      this.dockerRoot = root;
      // A "storage full" report from this engine then holds jobs back until its storage has room.
      this.p.disk.measureDockerWith(local, () => {
        const s = statfsSync(root);
        return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
      });
    } catch {
      // Docker unreachable, or its root not on this machine: nothing to report
    }
  }

  /** A queued run with the reason it waits, while the guard holds jobs back. */
  annotate<T extends RunSummary>(run: T): T {
    const reason = run.status === 'queued' ? this.p.disk.waitingReason() : undefined;
    return reason ? { ...run, waiting: reason } : run;
  }

  async freeSpace(request: FreeSpaceRequest): Promise<FreeSpaceReport> {
    const before = this.p.disk.sample().freeBytes;
    // Logs first: deleting files needs no room, and it makes room for the row deletions below.
    let logsDeleted = 0;
    if (request.logsOlderThanDays !== undefined) {
      const cutoff = this.p.clock() - request.logsOlderThanDays * DAY_MS;
      const jobs = this.p.db.prepare(
        'SELECT j.id FROM jobs j JOIN runs r ON r.id = j.run_id WHERE r.finished_at IS NOT NULL AND r.finished_at <= ?',
      ).all(cutoff) as { id: string }[];
      for (const j of jobs) if (await this.p.logs.remove(j.id)) logsDeleted++;
    }
    if (request.artifacts || request.caches) this.p.disk.releaseReserve();
    const artifactsDeleted = request.artifacts ? this.p.storage.artifacts.deleteAll() : 0;
    const cachesDeleted = request.caches ? await this.p.storage.caches.deleteAll() : 0;
    const after = this.p.disk.sample().freeBytes;
    return { artifactsDeleted, cachesDeleted, logsDeleted, bytesFreed: Math.max(0, after - before), disk: this.health() };
  }

  private changed(state: DiskState): void {
    if (state.low) {
      this.say(`kiln: low disk space: ${this.p.disk.state.reason ?? 'the disk is full'}; `
        + 'no new job starts until there is room (running jobs finish); retention runs now');
      this.reclaiming ??= this.reclaim().finally(() => {
        this.reclaiming = undefined;
      });
      return;
    }
    this.say('kiln: disk space is back; queued jobs start again');
    if (this.deferred) this.recover(this.deferred);
    this.p.pool.kick();
  }

  /** Retention now, then LRU caches until free space reaches the threshold; then a fresh sample. */
  private async reclaim(): Promise<void> {
    try {
      await this.p.storage.retention.freeUp(() => {
        const s = this.p.disk.sample();
        return Math.max(0, s.neededBytes - s.freeBytes);
      });
    } catch (err) {
      this.p.onError('freeing space (retention) failed', err);
    }
    this.p.disk.sample();
  }

  private recover(startUp: () => void): void {
    try {
      startUp();
      this.deferred = undefined;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.deferred = startUp;
      this.p.disk.reportFull('the database (start-up recovery)');
      this.say(`kiln: disk full: start-up recovery could not be written (${err instanceof Error ? err.message : String(err)}); `
        + 'the dashboard works, and queued runs start once there is room');
    }
  }
}
