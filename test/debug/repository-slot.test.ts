/**
 * A job kept for debugging holds its repository's slot (`concurrency.per-repository`), with the
 * real engine, real Docker and a real SQLite file: with `per-repository: 1`, a kept job of acme/web
 * makes a new run of acme/web wait until debugging ends (End debugging, or the deadline), while
 * acme/api starts at once. The same holds for a job adopted after a kill -9 and a restart, whose
 * queue entry is no longer active: the claim counts kept jobs, not only running ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeptJobInfo } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, repoConfig, TERMINAL } from '../engine/engine-fixture.js';
import { containers, keptByCrashingChild, until } from './debug-fixture.js';

const FAILING = `name: slot
on:
  push: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: Break
        run: echo failing now; exit 3
`;

const PASSING = `name: other
on:
  push: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - run: echo ok
`;

/**
 * The keep of the deadline cases: long enough for what is checked while the job is kept (another
 * repository's run, a few claim passes; a restart too when adopted, counted from when the child
 * kept it), short enough to wait out. The checks assert that the job was still kept when they looked.
 */
const DEADLINE_KEEP_MS = 15_000;
const ADOPTED_DEADLINE_KEEP_MS = 20_000;

describe('a job kept for debugging holds its repository slot', () => {
  let root: string;
  let config: KilnConfig;
  let dataDir: string;
  const engines: Engine[] = [];

  beforeAll(() => ensureBuilt());

  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const setUp = (): void => {
    root = mkdtempSync(join(tmpdir(), 'kiln-debug-slot-'));
    const web = createRepo(root, 'acme/web');
    web.commit(FAILING);
    const api = createRepo(root, 'acme/api');
    api.commit(PASSING);
    config = {
      ...defaultConfig(), server: { host: '127.0.0.1', port: 0 }, concurrency: { jobs: 4, perRepository: 1 },
      repositories: [repoConfig(web), repoConfig(api)],
    };
    dataDir = join(root, 'data');
  };
  const start = async (keepMs: number): Promise<Engine> => {
    const engine = await Engine.start({ config, dataDir, debug: { keepMs }, onError: () => undefined });
    engines.push(engine);
    return engine;
  };
  const finished = (engine: Engine, runId: string): Promise<RunDetail> => until(async () => {
    const run = await engine.getRun(runId);
    return TERMINAL.includes(run.status) ? run : undefined;
  }, `run ${runId} to finish`);

  /**
   * While `kept` is kept: a new run of acme/web stays queued while a run of acme/api (queued after
   * it) runs and passes. Returns the waiting run's id.
   */
  const waitsWhileOtherRepositoryRuns = async (engine: Engine, kept: KeptJobInfo): Promise<string> => {
    const [waiting] = (await engine.triggerRun({ repo: 'acme/web', branch: 'main' })).runIds;
    const [other] = (await engine.triggerRun({ repo: 'acme/api', branch: 'main' })).runIds;
    expect((await finished(engine, other)).status).toBe('passed');
    // A few more claim passes (the poll runs every 500 ms): the waiting run is still not claimed.
    await new Promise((r) => setTimeout(r, 1500));
    const run = await engine.getRun(waiting);
    expect(Date.now()).toBeLessThan(kept.deadline); // still kept while we looked
    expect(run.jobs.map((j) => j.status)).toEqual(['queued']);
    expect((await engine.listKeptJobs()).map((k) => k.jobId)).toEqual([kept.jobId]);
    // The run view and the health line say why: the kept job holds the repository's only slot.
    expect(run.waiting).toBe('waiting for a slot: acme/web is at its per-repository limit (1): 1 job kept for debug');
    expect((await engine.listRuns({ repo: 'acme/web', status: 'queued' })).items).toMatchObject([{ id: waiting, waiting: run.waiting }]);
    expect((await engine.health()).queue).toEqual({ queued: 1, running: 1, kept: 1 });
    return waiting;
  };

  /** A child process keeps acme/web's failed job of a run with debug, then is killed (kill -9). */
  const keptByChild = (keepMs: number): Promise<{ runId: string; jobId: string }> => keptByCrashingChild({ root, config, dataDir, keepMs });

  describe('in the process that kept it', () => {
    it('makes a new run of its repository wait until debugging is ended, while another repository runs at once', async () => {
      setUp();
      const engine = await start(120_000);
      const [debugRun] = (await engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
      const kept = await until(async () => (await engine.listKeptJobs())[0], 'the job to be kept');
      expect(kept).toMatchObject({ runId: debugRun, state: 'held' });
      const waiting = await waitsWhileOtherRepositoryRuns(engine, kept);

      await engine.endDebug(kept.jobId);
      const done = await finished(engine, waiting);
      expect(done.jobs[0].status).toBe('failed');
      expect(done.waiting).toBeUndefined();
      expect((await engine.health()).queue).toEqual({ queued: 0, running: 0 });
      expect((await engine.getRun(debugRun)).status).toBe('failed');
      expect(containers(debugRun)).toEqual([]);
    });

    it('makes a new run of its repository wait until the debug deadline passes', async () => {
      setUp();
      const engine = await start(DEADLINE_KEEP_MS);
      await engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true });
      const kept = await until(async () => (await engine.listKeptJobs())[0], 'the job to be kept');
      const waiting = await waitsWhileOtherRepositoryRuns(engine, kept);

      const run = await finished(engine, waiting);
      expect(run.jobs[0].startedAt).toBeGreaterThanOrEqual(kept.deadline);
      expect(await engine.listKeptJobs()).toEqual([]);
    });
  });

  describe('adopted after a kill -9 and a restart', () => {
    it('makes a new run of its repository wait until debugging is ended, while another repository runs at once', async () => {
      setUp();
      const seen = await keptByChild(120_000);
      const engine = await start(120_000);
      const [kept] = await engine.listKeptJobs();
      expect(kept).toMatchObject({ jobId: seen.jobId, state: 'adopted' });
      expect((await engine.getRun(seen.runId)).status).toBe('failed');
      const waiting = await waitsWhileOtherRepositoryRuns(engine, kept);

      await engine.endDebug(kept.jobId);
      expect((await finished(engine, waiting)).jobs[0].status).toBe('failed');
      expect(containers(seen.runId)).toEqual([]);
    });

    it('makes a new run of its repository wait until the debug deadline passes', async () => {
      setUp();
      const seen = await keptByChild(ADOPTED_DEADLINE_KEEP_MS);
      const engine = await start(ADOPTED_DEADLINE_KEEP_MS);
      const [kept] = await engine.listKeptJobs();
      expect(kept).toMatchObject({ jobId: seen.jobId, state: 'adopted' });
      const waiting = await waitsWhileOtherRepositoryRuns(engine, kept);

      const run = await finished(engine, waiting);
      expect(run.jobs[0].startedAt).toBeGreaterThanOrEqual(kept.deadline);
      expect(await engine.listKeptJobs()).toEqual([]);
      await until(async () => (containers(seen.runId).length === 0 ? true : undefined), 'the expired container to be removed', 30_000);
    });
  });
});
