/**
 * Health and storage numbers for the engine API, and the reaper that removes what jobs of this data
 * directory left behind (containers, networks, volumes no live claim owns).
 */
import { statfsSync } from 'node:fs';
import type { Health } from '../../shared/api/engine-api.js';
import type { StorageMetrics } from '../../shared/model/run.js';
import type { EngineParts } from './parts.js';

export const KILN_VERSION = '0.1.0';

export class HealthService {
  constructor(private readonly p: Pick<EngineParts, 'executor' | 'engines' | 'scheduler' | 'pool' | 'bus' | 'life' | 'config' | 'dataDir' | 'logs' | 'storage' | 'storageMetrics' | 'onError' | 'debug' | 'runs'>) {}

  async health(): Promise<Health> {
    let docker: Health['docker'] = { ok: true };
    try {
      const r = await this.p.executor.ping();
      const which = { ...(r.engine ? { engine: r.engine } : {}), ...(r.tried?.length ? { tried: r.tried } : {}) };
      docker = r.ok ? { ok: true, ...which } : { ok: false, message: r.message ?? 'Docker did not answer', ...which };
    } catch (err) {
      docker = { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    const c = this.p.scheduler.queue.counts();
    // A stranded kept job holds no slot: it is not among the running the health line counts.
    const kept = this.p.debug.list().filter((k) => k.state !== 'stranded').length;
    const { config } = this.p;
    return {
      ok: docker.ok && !this.p.life.stopping, version: KILN_VERSION, docker, tunnel: this.p.bus.tunnel,
      // Adopted debug jobs are done in the queue but still hold their slots.
      // `queued`: ready for a slot; `waitingOnNeeds`: still waiting for the jobs they need to finish.
      queue: { queued: c.queued, ...(c.waiting > 0 ? { waitingOnNeeds: c.waiting } : {}), running: c.active + this.p.debug.adoptedCount, ...(kept > 0 ? { kept } : {}) },
      engines: this.engineStatuses(),
      settings: { concurrency: { ...config.concurrency }, retention: { ...config.retention } },
    };
  }

  /** The pool's engines, each with its jobs' runs and names (a retiring engine's jobs are all it has left). */
  private engineStatuses(): Health['engines'] {
    return this.p.engines.statuses().map((e) => ({
      ...e,
      jobs: e.running.flatMap((id) => {
        const row = this.p.runs.getJob(id);
        return row ? [{ id, runId: row.run_id, name: row.name }] : [];
      }),
    }));
  }

  async storageMetrics(): Promise<StorageMetrics> {
    const extra = await (this.p.storageMetrics ?? this.p.storage.metrics)();
    let disk = { free: 0, total: 0 };
    try {
      const s = statfsSync(this.p.dataDir);
      disk = { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      // statfs unsupported: report zeros rather than fail the whole call
    }
    return {
      artifactBytes: 0, artifactCount: 0, cacheBytes: 0, cacheEntries: 0, cacheHits: 0, cacheMisses: 0, cacheHitRate: 0,
      workspaceBytes: 0, ...extra, logBytes: await this.p.logs.totalBytes(), diskFreeBytes: disk.free, diskTotalBytes: disk.total,
    };
  }

  /** Removes containers/networks/volumes of this data directory's jobs that no live claim owns. */
  async reap(): Promise<void> {
    // Nothing to reap without a Docker engine, and not an error: `kiln serve` says once that Docker
    // is missing, the health answer shows it, and the next pass reaps once Docker is back.
    const docker = await this.p.executor.ping().catch(() => ({ ok: false }));
    if (!docker.ok) return;
    try {
      // Labels are per data directory: anything of ours that this process is not running is left over.
      // A job kept for debugging (also one adopted after a restart) is live until its deadline.
      await this.p.executor.reapOrphans((runId, jobId) => this.p.pool.isRunning(jobId) || this.p.debug.keepsResourcesOf(runId, jobId));
    } catch (err) {
      this.p.onError('reaping orphaned containers failed', err);
    }
  }
}
