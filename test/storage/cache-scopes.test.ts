import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { CacheStore, readScopes, writeScope } from '../../src-main/storage/cache-store.js';
import { createStorageHooks } from '../../src-main/engine/job-storage-hooks.js';
import { plannedJob, pullRequestEvent, pushEvent, startContainer, tempDataDir } from './storage-container.js';

const STEP = 'if [ -f deps/who ]; then echo "restored $(cat deps/who)"; else mkdir -p deps && printf "$WHO" > deps/who && echo built; fi';

describe('cache scopes against poisoning', () => {
  let data: ReturnType<typeof tempDataDir>;
  let caches: CacheStore;
  let artifacts: ArtifactStore;

  beforeEach(() => {
    data = tempDataDir();
    caches = new CacheStore(data.db, data.dataDir);
    artifacts = new ArtifactStore(data.db, data.dataDir);
  });
  afterEach(() => data.cleanup());

  async function runJob(event: TriggerEvent, who: string): Promise<{ output: string; log: string[] }> {
    const box = await startContainer();
    const log: string[] = [];
    try {
      const hooks = createStorageHooks({
        artifacts, caches, runId: 'r', jobId: `j-${who}`, event, repo: 'acme/web', defaultBranch: 'main', upstreamJobIds: [],
        job: plannedJob({ cache: { key: 'deps-v1', restoreKeys: ['deps-'], paths: ['deps'] } }),
      });
      await hooks.beforeSteps?.(box, (t) => log.push(t));
      const step = await box.sh(`WHO='${who}'; ${STEP}`);
      await hooks.afterSteps?.(box, step.exitCode === 0 ? 'passed' : 'failed', (t) => log.push(t));
      return { output: step.stdout.trim(), log };
    } finally {
      await box.remove();
    }
  }

  it('a pull request writes only into its own pr/<number> scope, even when its head branch is called main', async () => {
    const pr = await runJob(pullRequestEvent(7, 'main'), 'attacker');
    expect(pr.output).toBe('built');
    expect(caches.list().map((e) => e.scope)).toEqual(['pr/7']);
    const main = await runJob(pushEvent('main'), 'main');
    expect(main.output).toBe('built');
    expect(main.log).toContain('cache miss: deps-v1');
    expect(caches.get('acme/web', 'main', 'deps-v1')).toBeDefined();
    const mainAgain = await runJob(pushEvent('main'), 'main-again');
    expect(mainAgain.output).toBe('restored main');
  });

  it('a pull request reads the default branch cache when its own scope has none', async () => {
    await runJob(pushEvent('main'), 'main');
    const pr = await runJob(pullRequestEvent(8, 'feature'), 'pr');
    expect(pr.output).toBe('restored main');
    expect(pr.log.some((l) => l.startsWith('cache hit: deps-v1') && l.endsWith('from scope main'))).toBe(true);
  });

  it('a feature branch reads its own scope before the default branch, and never writes main', async () => {
    await runJob(pushEvent('main'), 'main');
    const feature = await runJob(pushEvent('feature', { sha: 'c'.repeat(40) }), 'feature');
    expect(feature.output).toBe('restored main');
    expect(caches.list().map((e) => e.scope)).toEqual(['main']);
  });

  it('maps events to scopes that cannot collide with the default branch', () => {
    expect(writeScope(pushEvent('main'))).toBe('main');
    expect(writeScope(pullRequestEvent(12, 'main'))).toBe('pr/12');
    expect(writeScope({ kind: 'tag', repo: 'acme/web', tag: 'v1.0', sha: 'd'.repeat(40) })).toBe('tag/v1.0');
    expect(writeScope(pushEvent('pr/12'))).toBe('branch/pr/12');
    expect(readScopes(pullRequestEvent(12, 'x'), 'main')).toEqual(['pr/12', 'main']);
    expect(readScopes(pushEvent('main'), 'main')).toEqual(['main']);
  });
});
