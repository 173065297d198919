/**
 * Kept containers across a restart, with the real engine and Docker: a stopped engine leaves its
 * kept job's container up and the next start adopts it (terminal, deadline, the reaper spares it);
 * after a kill -9, the next start records the kept job failed under the claim that kept it (it is
 * not run again) and removes the container when its deadline has passed. Nothing leaks.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src-main/engine/engine.js';
import { startServer } from '../../src-main/http/app.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { ensureBuilt } from '../helpers/build.js';
import { mountSmallDisk, removeFill } from '../helpers/small-disk.js';
import { createRepo, repoConfig } from '../engine/engine-fixture.js';
import { FAILING_PIPELINE, containers, keptByCrashingChild, until } from './debug-fixture.js';
import { openTerminal } from './terminal-client.js';

const KEEP_MS = 120_000;

describe('kept containers across a restart', () => {
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
    root = mkdtempSync(join(tmpdir(), 'kiln-debug-restart-'));
    const repo = createRepo(root, 'acme/web');
    repo.commit(FAILING_PIPELINE);
    config = { ...defaultConfig(), server: { host: '127.0.0.1', port: 0 }, repositories: [repoConfig(repo, { secrets: { DEPLOY_TOKEN: 'x' } })] };
    dataDir = join(root, 'data');
  };
  const start = async (clock?: () => number): Promise<Engine> => {
    const engine = await Engine.start({ config, dataDir, debug: { keepMs: KEEP_MS }, onError: () => undefined, ...(clock ? { clock } : {}) });
    engines.push(engine);
    return engine;
  };

  /** A child process keeps the failed job of a run with debug, then is killed (kill -9). */
  const keptByChild = (): Promise<{ runId: string; jobId: string }> => keptByCrashingChild({ root, config, dataDir, keepMs: KEEP_MS });

  it('are adopted after a stop: the terminal still opens, the reaper spares them, the deadline stands', async () => {
    setUp();
    const first = await start();
    const [runId] = (await first.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await until(async () => (await first.listKeptJobs())[0], 'the job to be kept');
    await first.stop();
    engines.splice(0);
    expect(containers(runId)).toEqual(['job:running', 'service:running']);

    const second = await start();
    expect((await second.getRun(runId)).status).toBe('failed');
    const [adopted] = await second.listKeptJobs();
    expect(adopted).toMatchObject({ jobId: kept.jobId, state: 'adopted', deadline: kept.deadline });
    // Engine.start reaped leftovers already: the kept job's container and service are not among them.
    expect(containers(runId)).toEqual(['job:running', 'service:running']);
    await expect(second.rerunFailedStep(kept.jobId)).rejects.toMatchObject({ code: 'CONFLICT' });

    const server = await startServer({ engine: second, port: 0 });
    try {
      const t = await openTerminal(`${server.url.replace('http', 'ws')}/api/jobs/${kept.jobId}/terminal`);
      t.type('echo "v=$SOME_VAR"\n');
      await t.waitFor('v=from-kiln-env');
      await t.close();
    } finally {
      await server.close();
    }
    const restartedAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    const endedAt = Date.now();
    await second.endDebug(kept.jobId);
    expect(containers(runId)).toEqual([]);
    expect(await second.listKeptJobs()).toEqual([]);
    // The timing view: the hold lasts until End (not until the stop that left it), then the teardown.
    const [timing] = (await second.getRunTiming(runId)).jobs;
    const phases = timing.segments.map((seg) => seg.phase);
    expect(phases.slice(-2)).toEqual(['kept_for_debug', 'tearing_down']);
    const hold = timing.segments.at(-2)!;
    expect(hold.start).toBeLessThanOrEqual(kept.keptAt + 1000);
    expect(hold.end).toBeGreaterThanOrEqual(endedAt);
    expect(hold.end! - hold.start).toBeGreaterThan(endedAt - restartedAt);
    expect(timing.segments.at(-1)!.end).toBeDefined();
  });

  it('keep the record of a job kept on an engine no longer configured, and leave its container, until that engine is back', async () => {
    setUp();
    const engine = (name: string): NonNullable<KilnConfig['engines']>[number] => ({ name, address: 'unix:///var/run/docker.sock', limit: 2, labels: [] });
    config = { ...config, concurrency: { jobs: 4, perRepository: 1 }, engines: [engine('first')] };
    const first = await start();
    const [runId] = (await first.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await until(async () => (await first.listKeptJobs())[0], 'the job to be kept');
    await first.stop();
    engines.splice(0);

    // Renamed in Settings (the same Docker under another name): the job's engine is no longer configured.
    config = { ...config, engines: [engine('second')] };
    const errors: string[] = [];
    const renamed = await Engine.start({ config, dataDir, debug: { keepMs: KEEP_MS }, onError: (m, err) => errors.push(`${m}: ${err instanceof Error ? err.message : String(err)}`) });
    engines.push(renamed);
    expect((await renamed.getRun(runId)).status).toBe('failed');
    // Shown, so the user can act: where its container is and how to remove it there.
    const [stranded] = await renamed.listKeptJobs();
    expect(stranded).toMatchObject({ jobId: kept.jobId, state: 'stranded', stranded: { engine: 'first', why: 'is no longer configured' } });
    expect(stranded.stranded!.removeCommand).toContain(`--filter label=kiln.run=${runId}`);
    expect(errors.join('\n')).toContain(`kept job ${kept.jobId} is on engine 'first', which is no longer configured: its container`);
    // Neither removed nor forgotten: the reaper (start-up and periodic) spares it until its deadline.
    await renamed.reapLeftovers();
    expect(containers(runId)).toEqual(['job:running', 'service:running']);
    // It holds no slot (per-repository 1): a new run of its repository runs, with no wait reason naming it.
    const [next] = (await renamed.triggerRun({ repo: 'acme/web', branch: 'main' })).runIds;
    const ran = await until(async () => {
      const run = await renamed.getRun(next);
      return ['failed', 'passed'].includes(run.status) ? run : undefined;
    }, 'a new run of the stranded job\'s repository to run');
    expect(ran.jobs[0].status).toBe('failed');
    await renamed.stop();
    engines.splice(0);

    config = { ...config, engines: [engine('first')] };
    const back = await start();
    expect(await back.listKeptJobs()).toMatchObject([{ jobId: kept.jobId, state: 'adopted' }]);
    await back.endDebug(kept.jobId);
    expect(containers(runId)).toEqual([]);
  });

  it('end a job kept on an engine no longer configured by dropping its record: its container stays, for the command shown', async () => {
    setUp();
    const engine = (name: string): NonNullable<KilnConfig['engines']>[number] => ({ name, address: 'unix:///var/run/docker.sock', limit: 2, labels: [] });
    config = { ...config, engines: [engine('first')] };
    const first = await start();
    const [runId] = (await first.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await until(async () => (await first.listKeptJobs())[0], 'the job to be kept');
    await first.stop();
    engines.splice(0);

    config = { ...config, engines: [engine('second')] };
    const renamed = await start();
    const [stranded] = await renamed.listKeptJobs();
    expect(stranded).toMatchObject({ jobId: kept.jobId, state: 'stranded' });
    await expect(renamed.extendDebug(kept.jobId, 10)).rejects.toMatchObject({ code: 'CONFLICT' });
    await renamed.endDebug(kept.jobId);
    expect(await renamed.listKeptJobs()).toEqual([]);
    await expect(renamed.endDebug(kept.jobId)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(containers(runId)).toEqual(['job:running', 'service:running']);
    // The command the page shows removes them, on that engine (here the same Docker).
    execFileSync('sh', ['-c', stranded.stranded!.removeCommand]);
    expect(containers(runId)).toEqual([]);
    execFileSync('sh', ['-c', `docker network ls -q --filter label=kiln.run=${runId} | xargs -r docker network rm`]);
  });

  it('strand an adopted job, not forget it, when its container is missing from a Docker other than the one that kept it', async () => {
    setUp();
    const first = await start();
    const [runId] = (await first.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await until(async () => (await first.listKeptJobs())[0], 'the job to be kept');
    const dockerId = (JSON.parse(execFileSync('docker', ['info', '--format', '{{json .ID}}'], { encoding: 'utf8' })) as string);
    const recorded = await until(async () => {
      const db = new Database(join(dataDir, 'kiln.db'), { readonly: true });
      try {
        return (db.prepare('SELECT docker_id FROM kept_jobs WHERE job_id = ?').get(kept.jobId) as { docker_id: string | null }).docker_id ?? undefined;
      } finally {
        db.close();
      }
    }, 'the Docker ID to be recorded');
    expect(recorded).toBe(dockerId);
    await first.stop();
    engines.splice(0);

    // As if kept on another Docker whose address the engine's name no longer reaches: that Docker's
    // ID and a container this Docker does not have (404 here).
    const db = new Database(join(dataDir, 'kiln.db'));
    db.prepare("UPDATE kept_jobs SET docker_id = 'another-docker', container_id = ? WHERE job_id = ?").run('f'.repeat(64), kept.jobId);
    db.close();
    const errors: string[] = [];
    const second = await Engine.start({ config, dataDir, debug: { keepMs: KEEP_MS, checkMs: 200 }, onError: (m, err) => errors.push(`${m}: ${err instanceof Error ? err.message : String(err)}`) });
    engines.push(second);
    const stranded = await until(async () => (await second.listKeptJobs()).find((k) => k.state === 'stranded'), 'the check to strand the job');
    expect(stranded).toMatchObject({ jobId: kept.jobId, stranded: { why: 'now reaches a different Docker than the one that kept it' } });
    expect(errors.join('\n')).toContain(`kept job ${kept.jobId} is on engine`);
    // Nothing removed on the Docker asked (the run's own containers, labelled alike, stay), and no slot held.
    expect(containers(runId)).toEqual(['job:running', 'service:running']);
    expect((await second.health()).queue).toEqual({ queued: 0, running: 0 });
    await second.endDebug(kept.jobId);
    execFileSync('sh', ['-c', stranded.stranded!.removeCommand]);
    execFileSync('sh', ['-c', `docker network ls -q --filter label=kiln.run=${runId} | xargs -r docker network rm`]);
  });

  it('after a kill -9, on a full disk: the start-up reap spares them before the deferred recovery adopts them', async () => {
    setUp();
    const disk = mountSmallDisk(join(root, 'small'), '16m');
    dataDir = disk.dir;
    try {
      config = { ...config, disk: { minFreeBytes: 1024 * 1024, minFreePercent: 0, reserveBytes: 0, checkIntervalMs: 200 } };
      const seen = await keptByChild();
      expect(containers(seen.runId)).toEqual(['job:running', 'service:running']);

      // The database as a restart finds it (its WAL folded in), then another program takes the last
      // byte: the next start cannot write the kept job's failure, so its recovery waits for room.
      const db = new Database(join(dataDir, 'kiln.db'));
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const filler = disk.fill('someone-else');
      const second = await start();
      expect(await second.listKeptJobs()).toEqual([]); // not adopted: recovery is deferred
      // Engine.start's reap has run (awaited before it returns), and a periodic pass: the kept containers stay.
      await second.reapLeftovers();
      expect(containers(seen.runId)).toEqual(['job:running', 'service:running']);

      // Room again: recovery records the failure and adopts the job, whose terminal still opens.
      removeFill(filler);
      const adopted = await until(async () => (await second.listKeptJobs())[0], 'the kept job to be adopted', 30_000);
      expect(adopted).toMatchObject({ jobId: seen.jobId, state: 'adopted' });
      expect((await second.getRun(seen.runId)).status).toBe('failed');
      expect(containers(seen.runId)).toEqual(['job:running', 'service:running']);
      await second.endDebug(seen.jobId);
      expect(containers(seen.runId)).toEqual([]);
    } finally {
      for (const e of engines.splice(0)) await e.stop();
      disk.unmount();
    }
  });

  it('an adopted job holds its worker slot: with one slot a new run waits, visibly, until debugging ends', async () => {
    setUp();
    config = { ...config, concurrency: { jobs: 1, perRepository: 4 } };
    const first = await start();
    await first.triggerRun({ repo: 'acme/web', branch: 'main', debug: true });
    const kept = await until(async () => (await first.listKeptJobs())[0], 'the job to be kept');
    await first.stop();
    engines.splice(0);

    const second = await start();
    expect(await second.listKeptJobs()).toMatchObject([{ jobId: kept.jobId, state: 'adopted' }]);
    const [waiting] = (await second.triggerRun({ repo: 'acme/web', branch: 'main' })).runIds;
    // Several claim passes go by (a kick at once, then the poll); without the slot the job starts in the first.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await second.getRun(waiting)).toMatchObject({ jobs: [{ status: 'queued' }], waiting: 'waiting for a slot: Kiln is at its job limit (1): 1 job kept for debug' });
    const health = await second.health();
    expect(health.queue).toEqual({ queued: 1, running: 1, kept: 1 });
    expect(health.engines?.flatMap((e) => e.running)).toEqual([kept.jobId]);

    await second.endDebug(kept.jobId);
    const done = await until(async () => {
      const run = await second.getRun(waiting);
      return ['failed', 'passed'].includes(run.status) ? run : undefined;
    }, 'the waiting run to run once the slot is free');
    expect(done.jobs[0].status).toBe('failed');
    expect((await second.health()).queue).toEqual({ queued: 0, running: 0 });
  });

  it('after a kill -9: the job is recorded failed, not run again, and a passed deadline removes the container', async () => {
    setUp();
    const seen = await keptByChild();
    expect(containers(seen.runId)).toEqual(['job:running', 'service:running']);

    // Restarted after the deadline: the job's failure is recorded and its container removed.
    const engine = await start(() => Date.now() + KEEP_MS + 60_000);
    const run = await engine.getRun(seen.runId);
    expect(run.status).toBe('failed');
    expect(run.jobs[0]).toMatchObject({ status: 'failed', attempt: 1 });
    expect(await engine.listKeptJobs()).toEqual([]);
    await until(async () => (containers(seen.runId).length === 0 ? true : undefined), 'the expired container to be removed', 30_000);
  });
});
