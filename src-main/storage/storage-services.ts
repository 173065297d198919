/**
 * Caches, artifacts, retention and metrics built together from one database and data directory:
 * the one call the engine makes to wire them in.
 *
 *   const storage = createStorageServices({ db, dataDir, retention: config.retention, docker, instanceId });
 *   the engine builds each job's cache/artifact hooks over storage.artifacts and storage.caches
 *   (engine/job-storage-hooks.ts); storage.metrics answers storageMetrics()
 *   at start: storage.retention.start()   at stop: storage.retention.stop()
 *   HTTP: startServer({ …, artifacts: storage.artifacts })
 */
import type Dockerode from 'dockerode';
import type { StorageMetrics } from '../../shared/model/run.js';
import type { KilnConfig } from '../core/engine-contract.js';
import { ArtifactStore } from './artifact-store.js';
import { CacheStore } from './cache-store.js';
import type { Db } from './db.js';
import { RetentionService, type RetentionReport } from './retention.js';
import { storageMetrics } from './storage-metrics.js';
import { TestReportStore } from './test-report-store.js';
import { JobTimingStore } from './job-timing-store.js';

export interface StorageServicesDeps {
  db: Db;
  dataDir: string;
  retention: KilnConfig['retention'];
  /** For the metrics: this instance's containers' writable layers hold the job workspaces. Asked on each use (Settings can replace the engines). */
  docker?: () => Dockerode | undefined;
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
  /** JUnit test reports: files, cases, flaky tests. */
  reports: TestReportStore;
  /** Phase marks of jobs and the timing view built from them. */
  timings: JobTimingStore;
  retention: RetentionService;
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
    reports: new TestReportStore(deps.db, { now: deps.now }),
    timings: new JobTimingStore(deps.db),
    retention,
    metrics: () => storageMetrics({ db: deps.db, dataDir: deps.dataDir, docker: deps.docker?.(), instanceId: deps.instanceId }),
  };
}
