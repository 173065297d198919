/**
 * The cache and artifact work around one job's steps, as JobHooks for the executor.
 *
 * beforeSteps: (1) put the artifacts of the job's needs into the workspace; (2) render the cache
 * key (hashFiles over the checked-out workspace) and restore: exact key, then restore-keys, in the
 * run's own scope then the default branch's.
 * afterSteps: (1) on a passed job without an exact hit, save the cache paths under the key in the
 * run's own scope; (2) read the test reports (`reports.junit`), whatever the outcome; (3) collect
 * artifacts when `when` matches the outcome.
 *
 * Cache problems never fail a build (a cache is an optimisation: they are logged as warnings);
 * artifact problems (refused pattern, size limit, storage error) throw, which fails the job. Test
 * report problems (malformed XML, a refused pattern) are logged and recorded, and fail nothing.
 * A full disk says so ("disk full: the cache was not saved") and is reported to the guard.
 * An attempt that no longer holds its job (`current`: its engine was lost, its lease expired) stores
 * no report and no artifact: the job's next attempt owns them.
 */
import type { PlannedJob } from '../../shared/model/plan.js';
import type { RunSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { JobContainer, JobHooks } from '../core/job-contract.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { TestReportStore } from '../storage/test-report-store.js';
import { formatBytes } from '../../shared/format.js';
import { DiskFullError, isDiskFull } from '../core/disk-full.js';
import { readScopes, writeScope, type CacheStore } from '../storage/cache-store.js';
import type { Db } from '../storage/db.js';
import { renderCacheKey } from '../storage/workspace-hash.js';

export interface StorageHookDeps {
  artifacts: ArtifactStore;
  /** Where test reports go; without it `reports:` is ignored. */
  reports?: TestReportStore;
  caches: CacheStore;
  runId: string;
  jobId: string;
  job: PlannedJob;
  event: TriggerEvent;
  /** Repository name the caches belong to (owner/name). */
  repo: string;
  defaultBranch: string;
  /** Job ids (database ids) of the job's needs, in the order their artifacts should be laid down. */
  upstreamJobIds: string[];
  /** A write found the disk full (the disk guard holds new jobs back). */
  onDiskFull?: (what: string) => void;
  /** Whether the attempt still holds the job (its fencing token); default: always. */
  current?: () => boolean;
}

/** Does an artifacts `when` apply to a job whose steps ended with `status`? */
export function artifactsWanted(when: 'on_success' | 'on_failure' | 'always', status: Status): boolean {
  if (when === 'always') return true;
  if (when === 'on_success') return status === 'passed';
  return status === 'failed' || status === 'timed_out';
}

export function createStorageHooks(deps: StorageHookDeps): JobHooks {
  const { job, caches } = deps;
  // What beforeSteps learned, for afterSteps: the rendered key and whether it was an exact hit.
  let cacheKey: string | undefined;
  let exactHit = false;

  return {
    async beforeSteps(container: JobContainer, log: (text: string) => void): Promise<void> {
      if (deps.upstreamJobIds.length > 0) await deps.artifacts.restoreInto(container, deps.upstreamJobIds, log);
      if (!job.cache) return;
      try {
        cacheKey = await renderCacheKey(job.cache.key, {
          event: deps.event.kind, branch: deps.event.branch, tag: deps.event.tag, sha: deps.event.sha,
          repo: deps.event.repo, ref: deps.event.ref, matrix: job.matrix, env: job.env,
        }, container);
      } catch (err) {
        log(`warning: cache disabled for this job: cannot compute the key '${job.cache.key}': ${message(err)}`);
        return;
      }
      const scopes = readScopes(deps.event, deps.defaultBranch);
      try {
        const found = caches.find(deps.repo, scopes, cacheKey, job.cache.restoreKeys);
        caches.recordOutcome(found.kind);
        if (found.kind === 'miss') {
          log(`cache miss: ${cacheKey}`);
          return;
        }
        const started = Date.now();
        await caches.restore(container, found.entry);
        const took = ((Date.now() - started) / 1000).toFixed(1);
        if (found.kind === 'hit') {
          exactHit = true;
          log(`cache hit: ${cacheKey} (${formatBytes(found.entry.size)}) restored in ${took} s from scope ${found.entry.scope}`);
        } else {
          log(`partial hit via restore-key '${found.restoreKey}': ${found.entry.key} (${formatBytes(found.entry.size)}) restored in ${took} s from scope ${found.entry.scope}`);
        }
      } catch (err) {
        log(`warning: cache restore failed, continuing without it: ${message(err)}`);
      }
    },

    async afterSteps(container: JobContainer, status: Status, log: (text: string) => void): Promise<void> {
      const current = deps.current ?? ((): boolean => true);
      if (!current()) return;
      if (job.cache && cacheKey !== undefined && cacheKey !== '' && !exactHit && status === 'passed') {
        try {
          await caches.save(container, { repo: deps.repo, scope: writeScope(deps.event), key: cacheKey, paths: job.cache.paths, log });
        } catch (err) {
          if (isDiskFull(err)) {
            deps.onDiskFull?.(`the cache of job ${deps.jobId}`);
            log(`warning: disk full: the cache was not saved (${message(err)})`);
          } else log(`warning: cache not saved: ${message(err)}`);
        }
      }
      if (job.reports && deps.reports) {
        try {
          await deps.reports.collect({ container, runId: deps.runId, jobId: deps.jobId, patterns: job.reports.junit, log, current });
        } catch (err) {
          if (isDiskFull(err)) {
            // The guard gives SQLite its reserve: room to delete the part that was stored.
            deps.onDiskFull?.(`the test reports of job ${deps.jobId}`);
            try {
              deps.reports.clearJob(deps.runId, deps.jobId);
            } catch {
              // still no room: the part stays until the job runs again
            }
            log(`warning: disk full: the test reports were not stored (${message(err)})`);
          } else log(`warning: test reports not stored: ${message(err)}`);
        }
      }
      if (job.artifacts && artifactsWanted(job.artifacts.when, status)) {
        try {
          await deps.artifacts.collect({
            container, runId: deps.runId, jobId: deps.jobId, patterns: job.artifacts.paths, expireInMs: job.artifacts.expireInMs, log, current,
          });
        } catch (err) {
          if (!isDiskFull(err)) throw err;
          deps.onDiskFull?.(`the artifacts of job ${deps.jobId}`);
          throw new DiskFullError(`disk full: the artifacts were not saved (${message(err)})`, { cause: err });
        }
      }
    },
  };
}

/**
 * The engine's per-job wiring (EngineOptions.hooksFor): builds createStorageHooks for a claimed job
 * from the run, the job's needs (plan ids → job ids of the same run) and the repository's default
 * branch (the `repositories` table; 'main' when the repository is not configured).
 */
export function storageHooksFor(deps: { db: Db; artifacts: ArtifactStore; caches: CacheStore; reports?: TestReportStore; onDiskFull?: (what: string) => void }): (run: RunSummary, job: { id: string; planned: PlannedJob; current?: () => boolean }) => JobHooks {
  const jobIdOf = deps.db.prepare('SELECT id FROM jobs WHERE run_id = ? AND plan_id = ?');
  const defaultBranchOf = deps.db.prepare('SELECT default_branch FROM repositories WHERE name = ?');
  return (run, job) => {
    const upstreamJobIds = job.planned.needs
      .map((planId) => (jobIdOf.get(run.id, planId) as { id: string } | undefined)?.id)
      .filter((id): id is string => id !== undefined);
    const repoRow = defaultBranchOf.get(run.repo) as { default_branch: string } | undefined;
    const event: TriggerEvent = {
      kind: run.event, repo: run.repo, branch: run.branch, tag: run.tag, sha: run.sha, prNumber: run.prNumber, prTitle: run.prTitle,
    };
    return createStorageHooks({
      artifacts: deps.artifacts, reports: deps.reports, caches: deps.caches, runId: run.id, jobId: job.id, job: job.planned, event, repo: run.repo,
      defaultBranch: repoRow?.default_branch ?? 'main', upstreamJobIds, onDiskFull: deps.onDiskFull, current: job.current,
    });
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
