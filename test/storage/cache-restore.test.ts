import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlannedCache } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { CacheStore } from '../../src-main/storage/cache-store.js';
import { createStorageHooks } from '../../src-main/engine/job-storage-hooks.js';
import { plannedJob, pushEvent, startContainer, tempDataDir } from './storage-container.js';

const BUILD_STEP = `
if [ -f node_modules/.built ]; then echo "reused $(cat node_modules/pkg/index.js)"; exit 0; fi
echo building
mkdir -p node_modules/pkg && cat package-lock.json > node_modules/pkg/index.js && touch node_modules/.built
`;

describe('a job with a cache, run twice on the real engine', () => {
  let data: ReturnType<typeof tempDataDir>;
  let caches: CacheStore;
  let artifacts: ArtifactStore;

  beforeEach(() => {
    data = tempDataDir();
    caches = new CacheStore(data.db, data.dataDir);
    artifacts = new ArtifactStore(data.db, data.dataDir);
  });
  afterEach(() => data.cleanup());

  /** One job: fresh container, "checkout" (setup), hooks, one step, hooks. */
  async function runJob(opts: { cache: PlannedCache; event?: TriggerEvent; lock: string; step?: string }): Promise<{ log: string[]; output: string; exitCode: number }> {
    const box = await startContainer();
    const log: string[] = [];
    try {
      await box.sh(`printf '%s' '${opts.lock}' > package-lock.json`);
      const hooks = createStorageHooks({
        artifacts, caches, runId: 'run', jobId: `job-${Math.random()}`, job: plannedJob({ cache: opts.cache }),
        event: opts.event ?? pushEvent('main'), repo: 'acme/web', defaultBranch: 'main', upstreamJobIds: [],
      });
      await hooks.beforeSteps?.(box, (t) => log.push(t));
      const step = await box.sh(opts.step ?? BUILD_STEP);
      await hooks.afterSteps?.(box, step.exitCode === 0 ? 'passed' : 'failed', (t) => log.push(t));
      return { log, output: step.stdout, exitCode: step.exitCode };
    } finally {
      await box.remove();
    }
  }

  const cache: PlannedCache = { key: "npm-${{ hashFiles('package-lock.json') }}", restoreKeys: ['npm-'], paths: ['node_modules'] };

  it('refuses a cache path that leaves the workspace at save time, and saves the others', async () => {
    const escaping: PlannedCache = { key: 'escape-1', restoreKeys: [], paths: ['../outside', '/etc', 'node_modules'] };
    const run = await runJob({ cache: escaping, lock: 'v1', step: 'mkdir -p node_modules ../outside && echo x > node_modules/a && echo y > ../outside/b' });
    expect(run.log).toContain("cache path '../outside' refused: it contains '..': cache paths cannot leave the workspace; skipped");
    expect(run.log).toContain("cache path '/etc' refused: it is absolute: cache paths are relative to the workspace; skipped");
    expect(run.log.find((l) => l.startsWith('cache saved:'))).toMatch(/^cache saved: escape-1 /);
    expect(caches.get('acme/web', 'main', 'escape-1')).toBeDefined();
  });

  it('misses and saves on the first run, then restores on the second so the step skips its work', async () => {
    const first = await runJob({ cache, lock: 'v1' });
    expect(first.output).toContain('building');
    expect(first.log.find((l) => l.startsWith('cache miss: npm-'))).toMatch(/^cache miss: npm-[0-9a-f]{64}$/);
    expect(first.log.find((l) => l.startsWith('cache saved:'))).toMatch(/^cache saved: npm-[0-9a-f]{64} \(\d+(\.\d)? (B|KB)\) in scope main$/);

    const second = await runJob({ cache, lock: 'v1' });
    expect(second.output).toBe('reused v1\n');
    expect(second.log.some((l) => /^cache hit: npm-[0-9a-f]{64} \(\d+\.\d KB\)/.test(l))).toBe(true);
    // An exact hit is not saved again.
    expect(second.log.some((l) => l.startsWith('cache saved'))).toBe(false);
    expect(caches.list()).toHaveLength(1);
    const stats = Object.fromEntries((data.db.prepare('SELECT name, value FROM cache_stats').all() as { name: string; value: number }[]).map((r) => [r.name, r.value]));
    expect(stats).toEqual({ hits: 1, misses: 1, partial_hits: 0 });
  });

  it('keys on the hashed files: a changed lockfile is a partial hit via the restore-key, then saved under the new key', async () => {
    await runJob({ cache, lock: 'v1' });
    const changed = await runJob({ cache, lock: 'v2', step: `${BUILD_STEP}\n` });
    expect(changed.log.some((l) => /^partial hit via restore-key 'npm-': npm-[0-9a-f]{64} /.test(l))).toBe(true);
    expect(changed.output).toBe('reused v1\n');
    expect(changed.log.some((l) => l.startsWith('cache saved: npm-'))).toBe(true);
    const keys = caches.list().map((e) => e.key);
    expect(new Set(keys).size).toBe(2);
  });

  it('restores the newest entry among several matching a restore-key prefix', async () => {
    let t = 1_000;
    caches = new CacheStore(data.db, data.dataDir, { now: () => t });
    await runJob({ cache: { ...cache, key: 'deps-old' }, lock: 'old' });
    t = 2_000;
    await runJob({ cache: { ...cache, key: 'deps-new' }, lock: 'new' });
    const third = await runJob({ cache: { ...cache, key: 'deps-none', restoreKeys: ['nothing-', 'deps-'] }, lock: 'x' });
    expect(third.log.some((l) => l.startsWith("partial hit via restore-key 'deps-': deps-new "))).toBe(true);
    expect(third.output).toBe('reused new\n');
  });

  it('does not save a cache when the job failed', async () => {
    const failed = await runJob({ cache, lock: 'v1', step: `${BUILD_STEP}\nexit 3` });
    expect(failed.exitCode).toBe(3);
    expect(caches.list()).toEqual([]);
    expect(readdirSync(join(data.dataDir, 'caches')).filter((n) => n !== 'tmp')).toEqual([]);
  });

  it('logs and skips paths that do not exist, and saves nothing when none do', async () => {
    const run = await runJob({ cache: { key: 'k', restoreKeys: [], paths: ['missing', 'gone/too'] }, lock: 'v1', step: 'true' });
    expect(run.log).toContain("cache path 'missing' does not exist; skipped");
    expect(run.log).toContain("cache not saved: none of the paths 'missing', 'gone/too' exist");
    expect(caches.list()).toEqual([]);
  });
});
