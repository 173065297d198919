/**
 * The real Engine (DockerExecutor, queue, store) wired with the storage hooks, over a local git
 * repository holding `files` — for the end-to-end cache and artifact tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunDetail } from '../../shared/model/run.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import type { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import type { CacheStore } from '../../src-main/storage/cache-store.js';
import type { StorageServices } from '../../src-main/storage/storage-services.js';
import { Engine, testConfig } from '../helpers/fake-engine.js';
import { git } from '../helpers/git.js';
export { git };

export const E2E_REPO = 'acme/storage-e2e';


export interface StorageEngine {
  dir: string;
  repoDir: string;
  engine: Engine;
  artifacts: ArtifactStore;
  caches: CacheStore;
  services: StorageServices;
  /** Triggers a manual run of main (or handles `event`) and waits for the run to finish; returns it with each job's log by job name. */
  run(event?: Omit<TriggerEvent, 'repo' | 'sha'>): Promise<{ run: RunDetail; logs: Record<string, string[]> }>;
  close(): Promise<void>;
}

export async function startStorageEngine(files: Record<string, string>, config: Partial<KilnConfig> = {}): Promise<StorageEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-storage-e2e-'));
  const repoDir = join(dir, 'repo');
  execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repoDir, name), text);
  git(repoDir, 'add', '.');
  git(repoDir, 'commit', '-q', '-m', 'pipeline');
  // The engine wires its own storage services (caches, artifacts, retention) into every job.
  const engine = await Engine.start({
    config: testConfig([{ name: E2E_REPO, url: repoDir, defaultBranch: 'main' }], config),
    dataDir: join(dir, 'data'),
  });
  const services = engine.storage;
  const { artifacts, caches } = services;

  async function run(event?: Omit<TriggerEvent, 'repo' | 'sha'>): Promise<{ run: RunDetail; logs: Record<string, string[]> }> {
    const sha = git(repoDir, 'rev-parse', 'HEAD');
    const runIds = event
      ? (await engine.handleEvent({ ...event, repo: E2E_REPO, sha })).runIds
      : (await engine.triggerRun({ repo: E2E_REPO, branch: 'main' })).runIds;
    if (runIds.length !== 1) throw new Error(`expected one run, got ${runIds.length}`);
    let detail = await engine.getRun(runIds[0]);
    for (let i = 0; i < 1200 && !['passed', 'failed', 'cancelled', 'timed_out'].includes(detail.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      detail = await engine.getRun(runIds[0]);
    }
    const logs: Record<string, string[]> = {};
    for (const job of detail.jobs) logs[job.name] = (await engine.getLog(job.id, 0, 5000)).lines.map((l) => l.text);
    return { run: detail, logs };
  }

  return {
    dir, repoDir, engine, artifacts, caches, services, run,
    async close() {
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
