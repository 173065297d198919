/**
 * The one engine of the HTTP, webhook and IPC tests: the real Engine (SQLite, queue, scheduler, log
 * store, settings, the real pipeline compiler and git checkout) with a FakeExecutor in place of
 * Docker (./fake-executor.ts), over local git repositories whose branches hold the pipelines a test
 * needs. A test scripts what the jobs do through the executor's programs, and gets failures from
 * real conditions (a missing repository, a database that refuses writes, a step that exits 3)
 * rather than from a hand-kept copy of the engine that drifts from it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { KilnConfig, RepositoryConfig } from '../../src-main/core/engine-contract.js';
// The only import of the engine module in these helpers: when it moves, this line follows it.
import { Engine, KILN_VERSION, type EngineOptions } from '../../src-main/engine/engine.js';
import { createRepo, repoConfig, TERMINAL, type TestRepo } from '../engine/engine-fixture.js';
import { FakeExecutor, type StepProgram } from './fake-executor.js';
import { git } from './git.js';

export { Engine, KILN_VERSION, TERMINAL, git };
export type { EngineOptions, TestRepo };

/** A KilnConfig for tests: loopback, small limits, and the given repositories with empty defaults. */
export function testConfig(repositories: Partial<RepositoryConfig>[], overrides: Partial<KilnConfig> = {}): KilnConfig {
  return {
    server: { host: '127.0.0.1', port: 0 },
    concurrency: { jobs: 2, perRepository: 2 },
    retention: { artifactsMs: 30 * 86_400_000, cachesMs: 30 * 86_400_000, cacheSizeBytes: 1e9, workspacesMs: 86_400_000 },
    webhooks: { maxAgeMs: 5 * 60_000, replayWindowMs: 3 * 86_400_000, maxBodyBytes: 5 * 1024 * 1024 },
    ...overrides,
    repositories: repositories.map((r) => ({
      name: 'acme/web', url: '/nonexistent', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, ...r,
    })),
  };
}

/**
 * Per repository: branch → pipeline text, committed in the order given, each branch from the
 * previous one (the first is main). A repository with no branches is created empty.
 */
export type RepoBranches = Record<string, Record<string, string>>;

/** A pipeline run manually (and on `on`), of one job `name` whose steps run the named programs. */
export function pipelineOf(jobs: Record<string, string[]>, on = '  manual: true\n'): string {
  const body = Object.entries(jobs).map(([job, steps]) =>
    `  ${job}:\n    image: fake\n    steps:\n${steps.map((run) => `      - run: ${run}\n`).join('')}`).join('');
  return `name: ci\non:\n${on}jobs:\n${body}`;
}

export interface FakeEngine {
  root: string;
  dataDir: string;
  engine: Engine;
  executor: FakeExecutor;
  repos: TestRepo[];
  /** Every event the engine published since it started. */
  events: EngineEvent[];
  /** The head SHA of a repository's branch. */
  headOf(repo: string, branch: string): string;
  /** Triggers a manual run of the branch head (or of `sha`, named as that branch); returns its id. Runs get distinct creation times. */
  trigger(repo: string, branch: string, sha?: string): Promise<string>;
  waitForRun(runId: string, statuses?: readonly Status[], timeoutMs?: number): Promise<RunDetail>;
  waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

export async function startFakeEngine(o: {
  repos?: RepoBranches;
  /** Programs by the `run` text of the steps that call them. */
  programs?: Record<string, StepProgram>;
  configure?: (name: string) => Partial<RepositoryConfig>;
  /** Repositories configured without a test repository behind them (their url need not exist). */
  extraRepositories?: Partial<RepositoryConfig>[];
  /** Overrides of testConfig's defaults (concurrency, webhooks, …). */
  config?: Partial<KilnConfig>;
  options?: Partial<EngineOptions>;
} = {}): Promise<FakeEngine> {
  const root = mkdtempSync(join(tmpdir(), 'kiln-fake-engine-'));
  const dataDir = join(root, 'data');
  const executor = new FakeExecutor(o.programs, { root: join(root, 'executor'), mirrorsDir: join(dataDir, 'mirrors') });
  let engine: Engine | undefined;
  try {
    const repos = Object.entries(o.repos ?? {}).map(([name, branches]) => {
      const repo = createRepo(root, name);
      // `commit` checks out `-B branch` from the current HEAD: the first branch is main, the others branch off it.
      for (const [branch, pipeline] of Object.entries(branches)) repo.commit(pipeline, `pipeline for ${branch}`, branch);
      if (Object.keys(branches).length > 0) git(repo.dir, 'checkout', '-q', Object.keys(branches)[0]);
      return repo;
    });
    const config = testConfig([...repos.map((r) => repoConfig(r, o.configure?.(r.name))), ...(o.extraRepositories ?? [])], o.config);
    engine = await Engine.start({ config, dataDir, executor, ...o.options });
    const started = engine;
    const events: EngineEvent[] = [];
    started.subscribe((e) => events.push(e));
    const waitFor = async <T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, what = 'condition'): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await probe();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const repoDir = (name: string): string => {
      const repo = repos.find((r) => r.name === name);
      if (!repo) throw new Error(`no test repository ${name}`);
      return repo.dir;
    };
    let lastCreated = 0;
    return {
      root, dataDir, engine: started, executor, repos, events, waitFor,
      headOf: (repo, branch) => git(repoDir(repo), 'rev-parse', `refs/heads/${branch}`),
      async trigger(repo, branch, sha) {
        // Runs list newest first by creation time: keep each run's millisecond distinct so that order is the trigger order.
        while (Date.now() <= lastCreated) await new Promise((r) => setTimeout(r, 1));
        const { runIds } = await started.triggerRun({ repo, branch, sha });
        lastCreated = (await started.getRun(runIds[0])).createdAt;
        return runIds[0];
      },
      waitForRun(runId, statuses = TERMINAL, timeoutMs = 30_000) {
        return waitFor(async () => {
          const run = await started.getRun(runId);
          return statuses.includes(run.status) ? run : undefined;
        }, timeoutMs, `run ${runId} to be ${statuses.join('|')}`);
      },
      async close() {
        await started.stop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
