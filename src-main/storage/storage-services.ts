/**
 * Caches, artifacts, retention and metrics built together from one database and data directory:
 * the one call the engine makes to wire issue 6 in.
 *
 *   const storage = createStorageServices({ db, dataDir, retention: config.retention, docker, instanceId });
 *   Engine options: hooksFor: storage.hooksFor, storageMetrics: storage.metrics
 *   at start: storage.retention.start()   at stop: storage.retention.stop()
 *   HTTP: startServer({ …, artifacts: storage.artifacts })
 */
import type Dockerode from 'dockerode';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { RunSummary, StorageMetrics } from '../../shared/model/run.js';
import type { KilnConfig } from '../engine-contract.js';
import type { JobHooks } from '../executor/job-contract.js';
import { ArtifactStore } from './artifact-store.js';
import { CacheStore } from './cache-store.js';
import type { Db } from './db.js';
import { storageHooksFor } from './job-storage-hooks.js';
import { RetentionService, type RetentionReport } from './retention.js';
import { storageMetrics } from './storage-metrics.js';

export interface StorageServicesDeps {
  db: Db;
  dataDir: string;
  retention: KilnConfig['retention'];
  /** For the metrics: this instance's containers' writable layers hold the job workspaces. */
  docker?: Dockerode;
  instanceId?: string;
  /** Mirror directories of the repositories configured now (retention never collects them). */
  mirrorsInUse?: () => Iterable<string>;
  now?: () => number;
  /** Per-job artifact limit; default 1 GiB. */
  maxJobArtifactBytes?: number;
  onRetentionReport?: (report: RetentionReport) => void;
}

export interface StorageServices {
  artifacts: ArtifactStore;
  caches: CacheStore;
  retention: RetentionService;
  hooksFor: (run: RunSummary, job: { id: string; planned: PlannedJob }) => JobHooks;
  metrics: () => Promise<StorageMetrics>;
}

export function createStorageServices(deps: StorageServicesDeps): StorageServices {
  const artifacts = new ArtifactStore(deps.db, deps.dataDir, {
    now: deps.now, maxJobBytes: deps.maxJobArtifactBytes, defaultExpireMs: deps.retention.artifactsMs,
  });
  const caches = new CacheStore(deps.db, deps.dataDir, { now: deps.now });
  const retention = new RetentionService({
    db: deps.db, dataDir: deps.dataDir, artifacts, caches, retention: deps.retention, now: deps.now,
    mirrorsInUse: deps.mirrorsInUse, onReport: deps.onRetentionReport,
  });
  return {
    artifacts,
    caches,
    retention,
    hooksFor: storageHooksFor({ db: deps.db, artifacts, caches }),
    metrics: () => storageMetrics({ db: deps.db, dataDir: deps.dataDir, docker: deps.docker, instanceId: deps.instanceId }),
  };
}
