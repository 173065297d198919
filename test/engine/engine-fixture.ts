/**
 * A real Engine on a fresh temp data directory, with local git repositories (git init + commits of
 * a .kiln.yml) as its configured repositories, and helpers to wait for what the engine reports.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { KilnConfig, RepositoryConfig } from '../../src-main/engine-contract.js';
import { Engine, type EngineOptions } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/config.js';
import { git } from '../helpers/git.js';
export { git };

export const TERMINAL: readonly Status[] = ['passed', 'failed', 'cancelled', 'timed_out', 'skipped'];


export interface TestRepo {
  name: string;
  dir: string;
  /** Commits `.kiln.yml` (and extra files) on `branch`; returns the new SHA. */
  commit(pipeline: string, message?: string, branch?: string): string;
}

export function createRepo(root: string, name: string): TestRepo {
  const dir = join(root, name.replace('/', '-'));
  mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  return {
    name, dir,
    commit(pipeline, message = 'change', branch = 'main') {
      const current = git(dir, 'symbolic-ref', '--short', 'HEAD');
      if (current !== branch) git(dir, 'checkout', '-q', '-B', branch);
      writeFileSync(join(dir, '.kiln.yml'), pipeline);
      writeFileSync(join(dir, 'stamp.txt'), `${Date.now()} ${Math.random()}\n`);
      git(dir, 'add', '.');
      git(dir, 'commit', '-q', '-m', message);
      return git(dir, 'rev-parse', 'HEAD');
    },
  };
}

export function repoConfig(repo: TestRepo, extra: Partial<RepositoryConfig> = {}): RepositoryConfig {
  return { name: repo.name, url: repo.dir, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, ...extra };
}

export interface EngineFixture {
  root: string;
  dataDir: string;
  engine: Engine;
  events: EngineEvent[];
  repos: TestRepo[];
  waitForRun(runId: string, statuses?: readonly Status[], timeoutMs?: number): Promise<RunDetail>;
  waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

export async function startEngine(o: {
  repos?: string[];
  concurrency?: KilnConfig['concurrency'];
  configure?: (repo: TestRepo) => Partial<RepositoryConfig>;
  options?: Partial<EngineOptions>;
  root?: string;
} = {}): Promise<EngineFixture> {
  const root = o.root ?? mkdtempSync(join(tmpdir(), 'kiln-engine-'));
  const repos = (o.repos ?? ['acme/web']).map((name) => createRepo(root, name));
  const config: KilnConfig = {
    ...defaultConfig(),
    server: { host: '127.0.0.1', port: 0 },
    concurrency: o.concurrency ?? { jobs: 4, perRepository: 4 },
    repositories: repos.map((r) => repoConfig(r, o.configure?.(r))),
  };
  const dataDir = join(root, 'data');
  const engine = await Engine.start({ config, dataDir, ...o.options });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  const waitFor = async <T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, what = 'condition'): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    root, dataDir, engine, events, repos, waitFor,
    waitForRun(runId, statuses = TERMINAL, timeoutMs = 60_000) {
      return waitFor(async () => {
        const run = await engine.getRun(runId);
        return statuses.includes(run.status) ? run : undefined;
      }, timeoutMs, `run ${runId} to be ${statuses.join('|')}`);
    },
    async close() {
      await engine.stop();
      if (!o.root) rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Names of Docker containers/networks/volumes labelled with this kiln.instance. */
export function dockerLeftovers(instanceId: string): string[] {
  const filter = `label=kiln.instance=${instanceId}`;
  const list = (args: string[]) => execFileSync('docker', [...args, '--filter', filter, '--format', '{{.Name}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const containers = execFileSync('docker', ['ps', '-a', '--filter', filter, '--format', '{{.Names}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return [...containers.map((c) => `container ${c}`), ...list(['network', 'ls']).map((n) => `network ${n}`), ...list(['volume', 'ls']).map((v) => `volume ${v}`)];
}
