import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { dockerLeftovers, startEngine, TERMINAL, type EngineFixture } from './engine-fixture.js';
import { Engine } from '../../src-main/engine/engine.js';

let f: EngineFixture | undefined;
let second: Engine | undefined;
afterEach(async () => {
  await second?.stop();
  second = undefined;
  await f?.close();
  f = undefined;
});

const SLOW = `name: slow
on: { push: { branches: [main] } }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - run: echo started; sleep 2; echo finished
`;

describe('when the engine is stopped during a build', () => {
  it('hands the job back instead of failing it, cleans up, and the next start runs it to the end', async () => {
    f = await startEngine();
    const sha = f.repos[0].commit(SLOW);
    const { runIds: [runId] } = await f.engine.handleEvent({ kind: 'push', repo: f.repos[0].name, branch: 'main', sha });
    const jobId = await f.waitFor(async () => {
      const job = (await f!.engine.getRun(runId)).jobs[0];
      return (await f!.engine.getLog(job.id, 0)).lines.some((l) => l.text === 'started') ? job.id : undefined;
    });
    const config = f.engine.config;
    await Promise.all([f.engine.stop(), f.engine.stop()]); // idempotent, and concurrent calls share one shutdown
    expect(dockerLeftovers(f.engine.instanceId)).toEqual([]);
    await expect(f.engine.triggerRun({ repo: f.repos[0].name })).rejects.toMatchObject({ code: 'UNAVAILABLE' });

    second = await Engine.start({ config, dataDir: f.dataDir });
    const run = await f.waitFor(async () => {
      const r = await second!.getRun(runId);
      return TERMINAL.includes(r.status) ? r : undefined;
    });
    expect(run.status).toBe('passed');
    expect(run.jobs[0]).toMatchObject({ id: jobId, status: 'passed', attempt: 1 });
    expect((await second.getLog(jobId, 0)).lines.map((l) => l.text).filter((t) => t === 'finished')).toEqual(['finished']);
  });
});

describe('the leftovers pass while jobs run', () => {
  it('spares the containers of a running job (they are labelled with its stored id) and removes them once it ended', async () => {
    f = await startEngine();
    const sha = f.repos[0].commit(SLOW);
    const { runIds: [runId] } = await f.engine.handleEvent({ kind: 'push', repo: f.repos[0].name, branch: 'main', sha });
    await f.waitFor(async () => {
      const job = (await f!.engine.getRun(runId)).jobs[0];
      return (await f!.engine.getLog(job.id, 0)).lines.some((l) => l.text === 'started') ? true : undefined;
    });
    const before = dockerLeftovers(f.engine.instanceId);
    expect(before).toHaveLength(1);
    await f.engine.reapLeftovers();
    expect(dockerLeftovers(f.engine.instanceId)).toEqual(before);
    const run = await f.waitForRun(runId);
    expect(run.status).toBe('passed');
    const lines = (await f.engine.getLog(run.jobs[0].id, 0)).lines.map((l) => l.text);
    expect(lines).toContain('finished');
    expect(lines.filter((t) => t === 'started')).toHaveLength(1); // one attempt: nothing was lost and re-queued
    expect(dockerLeftovers(f.engine.instanceId)).toEqual([]);
  });
});

describe('when a job runs longer than its lease', () => {
  it('keeps the claim alive by heartbeat, so the job runs once', async () => {
    f = await startEngine({ options: { queue: { leaseMs: 1_000, heartbeatMs: 200, pollMs: 100 } } });
    const sha = f.repos[0].commit(SLOW.replace('sleep 2', 'sleep 3'));
    const { runIds: [runId] } = await f.engine.handleEvent({ kind: 'push', repo: f.repos[0].name, branch: 'main', sha });
    const run = await f.waitForRun(runId);
    expect(run.status).toBe('passed');
    expect(run.jobs[0].attempt).toBe(1);
    const texts = (await f.engine.getLog(run.jobs[0].id, 0)).lines.map((l) => l.text);
    expect(texts.filter((t) => t === 'started')).toHaveLength(1);
    expect(texts.some((t) => t.includes('lease expired'))).toBe(false);
  });
});

describe('health and storage metrics', () => {
  it('report Docker, the queue and the bytes of logs on disk', async () => {
    f = await startEngine({ options: { storageMetrics: async () => ({ artifactBytes: 123, artifactCount: 1 }) } });
    const sha = f.repos[0].commit(SLOW.replace('sleep 2', 'sleep 0'));
    const { runIds: [runId] } = await f.engine.handleEvent({ kind: 'push', repo: f.repos[0].name, branch: 'main', sha });
    await f.waitForRun(runId);
    const health = await f.engine.health();
    expect(health).toMatchObject({ ok: true, docker: { ok: true }, tunnel: { state: 'disabled' }, queue: { queued: 0, running: 0 }, settings: { concurrency: { jobs: 4, perRepository: 4 } } });
    const metrics = await f.engine.storageMetrics();
    expect(metrics.logBytes).toBeGreaterThan(50);
    expect(metrics).toMatchObject({ artifactBytes: 123, artifactCount: 1 });
    expect(metrics.diskTotalBytes).toBeGreaterThan(metrics.diskFreeBytes);
    f.engine.setTunnelState({ state: 'connecting', url: 'https://smee.io/x' });
    expect((await f.engine.health()).tunnel).toEqual({ state: 'connecting', url: 'https://smee.io/x' });
    expect(f.events.at(-1)).toEqual({ type: 'tunnel', tunnel: { state: 'connecting', url: 'https://smee.io/x' } });
    expect(await f.engine.listRepositories()).toEqual([{ name: 'acme/web', url: f.repos[0].dir, defaultBranch: 'main', secretNames: [], webhookSecretCount: 0 }]);
  });
});
