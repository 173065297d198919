/**
 * The fake engine (test/helpers/fake-engine.ts: the real Engine with a scripted executor) behind the
 * real HTTP server, with a static UI directory — for the API, badge and log-stream tests.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { RunDetail } from '../../../shared/model/run.js';
import type { KilnConfig, RepositoryConfig } from '../../../src-main/core/engine-contract.js';
import { startServer, type RunningServer } from '../../../src-main/http/app.js';
import type { StepProgram } from '../../helpers/fake-executor.js';
import { Engine, startFakeEngine, type FakeEngine, type RepoBranches } from '../../helpers/fake-engine.js';

export type { RepoBranches };

export interface ApiEngine extends FakeEngine {
  server: RunningServer;
  /** The engine with its repositories and helpers (the same object, kept for the tests that name it). */
  fixture: FakeEngine;
  staticDir: string;
  /** GET a JSON answer from the server. */
  getJson<T>(path: string): Promise<T>;
}

export async function startApiEngine(o: {
  repos: RepoBranches;
  programs?: Record<string, StepProgram>;
  configure?: (name: string) => Partial<RepositoryConfig>;
  concurrency?: KilnConfig['concurrency'];
}): Promise<ApiEngine> {
  const fake = await startFakeEngine({ repos: o.repos, programs: o.programs, configure: o.configure, config: { concurrency: o.concurrency ?? { jobs: 4, perRepository: 4 } } });
  try {
    // Under the engine's root, which its close() removes.
    const staticDir = join(fake.root, 'static');
    mkdirSync(join(staticDir, 'assets'), { recursive: true });
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Kiln</title><div id="root"></div>');
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
    const { engine } = fake;
    const server = await startServer({ engine, port: 0, staticDir, artifacts: engine.artifacts });
    return {
      ...fake, server, fixture: fake, staticDir,
      async getJson<T>(path: string): Promise<T> {
        const res = await fetch(`${server.url}${path}`);
        if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as T;
      },
      async close() {
        await server.close();
        await fake.close();
      },
    };
  } catch (err) {
    await fake.close();
    throw err;
  }
}

/**
 * A real Engine with one configured repository that is never cloned (no run is started), behind a
 * server on `host`: for the tests of what the server does around the engine (tokens, shutdown).
 */
export async function startBareEngine(repo: string, overrides: Partial<KilnConfig> = {}, host = '127.0.0.1'): Promise<{ engine: Engine; server: RunningServer; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bare-'));
  const fake = await startFakeEngine({ extraRepositories: [{ name: repo, url: join(dir, 'not-cloned') }], config: overrides });
  try {
    const server = await startServer({ engine: fake.engine, host, port: 0 });
    return {
      engine: fake.engine, server,
      async close() {
        await server.close();
        await fake.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await fake.close();
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
