/**
 * The real Engine (SQLite, DockerExecutor, git mirrors, artifact store) behind the real HTTP server,
 * over local git repositories whose branches hold the pipelines a test needs — for the API tests.
 * Built on test/engine/engine-fixture.ts; adds the listening server, a static UI directory and
 * helpers to trigger runs and wait for them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { RunDetail } from '../../../shared/model/run.js';
import type { Status } from '../../../shared/model/status.js';
import type { KilnConfig, RepositoryConfig } from '../../../src-main/engine-contract.js';
import { Engine } from '../../../src-main/engine/engine.js';
import { startServer, type RunningServer } from '../../../src-main/http/app.js';
import { git, startEngine, TERMINAL, type EngineFixture } from '../../engine/engine-fixture.js';
import { testConfig } from './stub-engine.js';

/** Per repository: branch → pipeline text. Branches are created in the order given, each from the previous one. */
export type RepoBranches = Record<string, Record<string, string>>;

export interface ApiEngine {
  engine: Engine;
  server: RunningServer;
  fixture: EngineFixture;
  staticDir: string;
  /** The head SHA of a repository's branch. */
  headOf(repo: string, branch: string): string;
  /** Triggers a manual run of the branch head (or of `sha`, named as that branch) through the engine; returns its id. */
  trigger(repo: string, branch: string, sha?: string): Promise<string>;
  waitForRun(runId: string, statuses?: readonly Status[]): Promise<RunDetail>;
  /** GET a JSON answer from the server. */
  getJson<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

export async function startApiEngine(o: {
  repos: RepoBranches;
  configure?: (name: string) => Partial<RepositoryConfig>;
  concurrency?: KilnConfig['concurrency'];
}): Promise<ApiEngine> {
  const fixture = await startEngine({
    repos: Object.keys(o.repos),
    concurrency: o.concurrency,
    configure: (repo) => o.configure?.(repo.name) ?? {},
  });
  try {
    // The engine reads a repository only when a run is triggered, so the commits can follow its start.
    for (const repo of fixture.repos) {
      // `commit` checks out `-B branch` from the current HEAD, so the first branch is main and the
      // others branch off it; none is committed to twice.
      for (const [branch, pipeline] of Object.entries(o.repos[repo.name])) repo.commit(pipeline, `pipeline for ${branch}`, branch);
    }
    // Under the fixture's root, which its close() removes.
    const staticDir = join(fixture.root, 'static');
    mkdirSync(join(staticDir, 'assets'), { recursive: true });
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Kiln</title><div id="root"></div>');
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
    const { engine } = fixture;
    const server = await startServer({ engine, port: 0, staticDir, artifacts: engine.artifacts });
    let lastCreated = 0;
    const repoDir = (name: string): string => {
      const repo = fixture.repos.find((r) => r.name === name);
      if (!repo) throw new Error(`no test repository ${name}`);
      return repo.dir;
    };
    return {
      engine, server, fixture, staticDir,
      headOf: (repo, branch) => git(repoDir(repo), 'rev-parse', `refs/heads/${branch}`),
      async trigger(repo, branch, sha) {
        // Runs list newest first by creation time: keep each run's millisecond distinct so that order is the trigger order.
        while (Date.now() <= lastCreated) await new Promise((r) => setTimeout(r, 1));
        const { runIds } = await engine.triggerRun({ repo, branch, sha });
        lastCreated = (await engine.getRun(runIds[0])).createdAt;
        return runIds[0];
      },
      waitForRun: (runId, statuses = TERMINAL) => fixture.waitForRun(runId, statuses, 90_000),
      async getJson<T>(path: string): Promise<T> {
        const res = await fetch(`${server.url}${path}`);
        if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as T;
      },
      async close() {
        await server.close();
        await fixture.close();
      },
    };
  } catch (err) {
    await fixture.close();
    throw err;
  }
}

/**
 * A real Engine with one configured repository that is never cloned (no run is started), behind a
 * server on `host`: for the tests of what the server does around the engine (tokens, shutdown).
 */
export async function startBareEngine(repo: string, overrides: Partial<KilnConfig> = {}, host = '127.0.0.1'): Promise<{ engine: Engine; server: RunningServer; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bare-'));
  const engine = await Engine.start({ config: testConfig([{ name: repo, url: join(dir, 'not-cloned') }], overrides), dataDir: join(dir, 'data') });
  try {
    const server = await startServer({ engine, host, port: 0 });
    return {
      engine, server,
      async close() {
        await server.close();
        await engine.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The job of a run by its name; throws when the run has none. */
export function jobNamed(run: RunDetail, name: string): RunDetail['jobs'][number] {
  const job = run.jobs.find((j) => j.name === name);
  if (!job) throw new Error(`run ${run.id} has no job ${name}`);
  return job;
}
