/**
 * Storage usage for GET /api/metrics/storage and EngineApi.storageMetrics(): artifact and cache
 * totals from the database, hit rate from cache_stats (partial hits count as hits: something was
 * restored), bytes on disk of workspaces (host directories, plus — when a Docker client is given —
 * this instance's volumes and the writable layers of its running job containers, where the
 * executor keeps /workspace) and logs, and the free/total space of the data directory's disk.
 */
import { lstat, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import type { StorageMetrics } from '../../shared/model/run.js';
import type { Db } from './db.js';
import { workspacesDir } from './leftovers-gc.js';

export interface StorageMetricsDeps {
  db: Db;
  dataDir: string;
  docker?: Dockerode;
  instanceId?: string;
}

export async function storageMetrics(deps: StorageMetricsDeps): Promise<StorageMetrics> {
  const { db, dataDir } = deps;
  const art = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM artifacts').get() as { n: number; bytes: number };
  const cache = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM caches').get() as { n: number; bytes: number };
  const stats = Object.fromEntries(
    (db.prepare('SELECT name, value FROM cache_stats').all() as { name: string; value: number }[]).map((r) => [r.name, r.value]),
  ) as Record<string, number | undefined>;
  const hits = (stats.hits ?? 0) + (stats.partial_hits ?? 0);
  const misses = stats.misses ?? 0;
  const [workspaceDirBytes, volumeBytes, logBytes, disk] = await Promise.all([
    diskUsage(workspacesDir(dataDir)),
    deps.docker && deps.instanceId ? dockerUsage(deps.docker, deps.instanceId) : Promise.resolve(0),
    diskUsage(join(dataDir, 'logs')),
    statfs(dataDir),
  ]);
  return {
    artifactBytes: art.bytes,
    artifactCount: art.n,
    cacheBytes: cache.bytes,
    cacheEntries: cache.n,
    cacheHits: hits,
    cacheMisses: misses,
    cacheHitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
    workspaceBytes: workspaceDirBytes + volumeBytes,
    logBytes,
    diskFreeBytes: disk.bavail * disk.bsize,
    diskTotalBytes: disk.blocks * disk.bsize,
  };
}

/** Bytes of the regular files below `dir` (links not followed); 0 when it does not exist. */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = join(d, name);
      try {
        const st = await lstat(p);
        if (st.isDirectory()) stack.push(p);
        else if (st.isFile()) total += st.size;
      } catch {
        // removed while we walked
      }
    }
  }
  return total;
}

/**
 * This instance's volumes (from `docker system df`) plus the writable layers of its containers
 * (SizeRw); 0 for what the engine cannot tell.
 */
async function dockerUsage(docker: Dockerode, instanceId: string): Promise<number> {
  const [volumes, containers] = await Promise.all([
    docker.df().then(
      (df: { Volumes?: { Labels?: Record<string, string> | null; UsageData?: { Size?: number } }[] }) =>
        (df.Volumes ?? []).filter((v) => v.Labels?.['kiln.instance'] === instanceId).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0),
      () => 0,
    ),
    docker.listContainers({ size: true, filters: { label: [`kiln.instance=${instanceId}`] } }).then(
      (list) => list.reduce((n, c) => n + Math.max(0, (c as { SizeRw?: number }).SizeRw ?? 0), 0),
      () => 0,
    ),
  ]);
  return volumes + containers;
}
