/**
 * A real engine whose data directory is a tmpfs of a few megabytes (helpers/small-disk.ts), with
 * one local repository, and what the full-disk suites check after each case: the engine answers,
 * PRAGMA integrity_check is ok, and no container of this data directory is left.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine, type EngineOptions } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { createRepo, dockerLeftovers, repoConfig, TERMINAL, type TestRepo } from './engine-fixture.js';

export interface SmallDiskEngine {
  root: string;
  disk: SmallDisk;
  repo: TestRepo;
  engine: Engine;
  errors: string[];
  /** Commits `pipeline` and pushes it; the one run's id. */
  push(pipeline: string): Promise<string>;
  finished(runId: string, timeoutMs?: number): Promise<RunDetail>;
  healthy(): Promise<void>;
  /** Stops the engine (once); close() also unmounts and deletes. */
  stop(): Promise<void>;
  /** Stops the engine and starts a new one on the same data directory, with other disk settings. */
  restart(disk?: NonNullable<KilnConfig['disk']>): Promise<Engine>;
  close(): Promise<void>;
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startOnSmallDisk(o: {
  size: string;
  disk?: NonNullable<KilnConfig['disk']>;
  retention?: Partial<KilnConfig['retention']>;
  options?: Partial<EngineOptions>;
  /** A tmpfs of this size of their own for the job logs (the database's disk fills without cutting a log). */
  logsDisk?: string;
}): Promise<SmallDiskEngine> {
  const root = mkdtempSync(join(tmpdir(), 'kiln-fulldisk-'));
  const disk = mountSmallDisk(join(root, 'data'), o.size);
  const logsDisk = o.logsDisk ? mountSmallDisk(join(disk.dir, 'logs'), o.logsDisk) : undefined;
  const repo = createRepo(root, 'acme/web');
  const errors: string[] = [];
  const base = defaultConfig();
  const config: KilnConfig = {
    ...base,
    server: { host: '127.0.0.1', port: 0 },
    concurrency: { jobs: 1, perRepository: 1 },
    disk: { minFreeBytes: 1024 * 1024, minFreePercent: 0, reserveBytes: 512 * 1024, checkIntervalMs: 200, ...o.disk },
    retention: { ...base.retention, ...o.retention },
    repositories: [repoConfig(repo)],
  };
  const launch = (c: KilnConfig): Promise<Engine> => Engine.start({ config: c, dataDir: disk.dir, onError: (m, e) => errors.push(`${m}: ${String(e)}`), ...o.options });
  let engine: Engine;
  try {
    engine = await launch(config);
  } catch (err) {
    logsDisk?.unmount();
    disk.unmount();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await engine.stop();
  };
  const k: SmallDiskEngine = {} as SmallDiskEngine;
  const finished = (runId: string, timeoutMs = 90_000): Promise<RunDetail> => waitFor(async () => {
    const run = await engine.getRun(runId);
    return TERMINAL.includes(run.status) ? run : undefined;
  }, `run ${runId} to finish`, timeoutMs);
  return Object.assign(k, {
    root, disk, repo, engine, errors, stop, finished,
    async restart(d?: NonNullable<KilnConfig['disk']>) {
      await stop();
      engine = await launch({ ...config, disk: { ...config.disk, ...d } });
      stopped = false;
      k.engine = engine;
      return engine;
    },
    async push(pipeline: string) {
      const sha = repo.commit(pipeline);
      const outcome = await engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
      expect(outcome.runIds, outcome.reason).toHaveLength(1);
      return outcome.runIds[0];
    },
    async healthy() {
      expect((await engine.health()).docker.ok).toBe(true);
      const check = new Database(join(disk.dir, 'kiln.db'), { readonly: true });
      try {
        expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        check.close();
      }
      await waitFor(() => dockerLeftovers(engine.instanceId).length === 0, 'the job containers to be removed', 20_000);
    },
    async close() {
      await stop();
      logsDisk?.unmount();
      disk.unmount();
      rmSync(root, { recursive: true, force: true });
    },
  });
}

/** A pipeline of one job, `job` being its YAML under `jobs:`. */
export const pipeline = (job: string): string => `name: fill
on: { push: { branches: [main] } }
jobs:
${job}`;
