/**
 * `cache:` under `kiln run`: kept between runs, as the server keeps it, so a second run hits. The
 * entries live in a store of their own under the user's cache directory ($XDG_CACHE_HOME/kiln/run,
 * default ~/.cache/kiln/run: a SQLite index and the archives), written and read by the server's
 * cache store and its job hooks (engine/job-storage-hooks.ts), keyed as the server keys them: the
 * repository (here its absolute path, so two checkouts named alike do not share), the branch scope
 * (falling back to main's), the rendered key. No retention runs here: deleting the directory is
 * the way to clear it. Artifacts are copied to a directory of their own (run-artifacts.ts).
 */
import { join } from 'node:path';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { JobHooks } from '../core/job-contract.js';
import { createStorageHooks } from '../engine/job-storage-hooks.js';
import { ArtifactStore } from '../storage/artifact-store.js';
import { CacheStore } from '../storage/cache-store.js';
import { openDatabase, type Db } from '../storage/db.js';

export interface LocalCaches {
  hooksFor(job: PlannedJob): JobHooks | undefined;
  close(): void;
}

export function localCacheDir(cacheHome: string): string {
  return join(cacheHome, 'kiln', 'run');
}

/** Opens the store when some job declares `cache:` (none otherwise: nothing is created on disk). */
export function openLocalCaches(dir: string, repo: string, runId: string, event: TriggerEvent, jobs: readonly PlannedJob[]): LocalCaches | undefined {
  if (!jobs.some((j) => j.cache)) return undefined;
  const db: Db = openDatabase(join(dir, 'kiln.db'));
  const caches = new CacheStore(db, dir);
  // Never used: the jobs handed to the hooks carry no artifacts and no needs' artifacts are restored.
  const artifacts = new ArtifactStore(db, dir);
  return {
    hooksFor(job) {
      if (!job.cache) return undefined;
      return createStorageHooks({
        artifacts, caches, runId, jobId: job.id, job: { ...job, artifacts: undefined }, event, repo, defaultBranch: 'main', upstreamJobIds: [],
      });
    },
    close: () => db.close(),
  };
}

/** The hooks in order: each one's beforeSteps, then each one's afterSteps (undefined when none has any). */
export function chainHooks(...list: (JobHooks | undefined)[]): JobHooks | undefined {
  const hooks = list.filter((h): h is JobHooks => h !== undefined);
  if (hooks.length <= 1) return hooks[0];
  return {
    async beforeSteps(container, log) {
      for (const h of hooks) await h.beforeSteps?.(container, log);
    },
    async afterSteps(container, status, log) {
      for (const h of hooks) await h.afterSteps?.(container, status, log);
    },
  };
}
