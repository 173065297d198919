import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { dockerLeftovers, startEngine, type EngineFixture } from './engine-fixture.js';
import { ApiError } from '../../shared/api/engine-api.js';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const DAG = `name: web
on:
  push: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: compile
        run: |
          echo "compiling $KILN_SHA"
          echo "warning: something odd" >&2
  test:
    image: ${TEST_IMAGE}
    needs: [build]
    steps:
      - run: echo "tests of $KILN_BRANCH passed"
`;

describe('when a push matches the pipeline', () => {
  it('runs its jobs in DAG order to passed and keeps steps, edges, logs and events', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(DAG, 'add pipeline');
    const outcome = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main', commitMessage: 'add pipeline', commitAuthor: 'Ada', triggeredBy: 'ada' });
    expect(outcome.runIds).toHaveLength(1);
    const run = await f.waitForRun(outcome.runIds[0]);
    expect(run).toMatchObject({ status: 'passed', repo: 'acme/web', pipeline: 'web', event: 'push', branch: 'main', sha, number: 1, commitMessage: 'add pipeline', triggeredBy: 'ada', stages: [] });
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    const build = run.jobs.find((j) => j.name === 'build')!;
    const test = run.jobs.find((j) => j.name === 'test')!;
    expect(run.edges).toEqual([{ from: build.id, to: test.id }]);
    expect(build).toMatchObject({ status: 'passed', attempt: 1, image: TEST_IMAGE, needs: [] });
    expect(test.needs).toEqual(['build']);
    expect(build.steps.map((s) => [s.name, s.status])).toEqual([['compile', 'passed']]);
    expect(test.startedAt!).toBeGreaterThanOrEqual(build.finishedAt!);

    const log = await f.engine.getLog(build.id, 0);
    expect(log.complete).toBe(true);
    expect(log.total).toBe(log.lines.length);
    expect(log.lines.map((l) => l.seq)).toEqual(log.lines.map((_, i) => i));
    expect(log.lines.some((l) => l.text === `compiling ${sha}` && l.stream === 'stdout' && l.step === 0)).toBe(true);
    expect(log.lines.some((l) => l.text === 'warning: something odd' && l.stream === 'stderr')).toBe(true);
    const resumed = await f.engine.getLog(build.id, 2, 1);
    expect(resumed.lines.map((l) => l.seq)).toEqual([2]);
    expect(resumed.nextOffset).toBe(3);
    expect(await f.engine.searchLog(test.id, 'TESTS OF main')).toEqual([expect.objectContaining({ text: 'tests of main passed', step: 0 })]);

    const kinds = new Set(f.events.map((e) => e.type));
    expect(kinds).toEqual(new Set(['run', 'job', 'log']));
    const runEvents = f.events.filter((e) => e.type === 'run').map((e) => e.type === 'run' && e.run.status);
    expect(runEvents[runEvents.length - 1]).toBe('passed');
    const logEvents = f.events.flatMap((e) => (e.type === 'log' && e.jobId === build.id ? e.lines : []));
    expect(logEvents.map((l) => l.seq)).toEqual(log.lines.map((l) => l.seq));

    const page = await f.engine.listRuns({ repo: 'acme/web' });
    expect(page.items.map((r) => r.id)).toEqual([run.id]);
    expect(dockerLeftovers(f.engine.instanceId)).toEqual([]);
  });

  it('makes a failed run whose error shows FILE:LINE:COL when .kiln.yml is invalid', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(`name: broken\non:\n  push: { branches: [main] }\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    needs: [biuld]\n    steps:\n      - run: true\n`);
    const outcome = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha });
    expect(outcome.runIds).toHaveLength(1);
    const run = await f.engine.getRun(outcome.runIds[0]);
    expect(run.status).toBe('failed');
    expect(run.jobs).toEqual([]);
    expect(run.error).toMatch(/^\.kiln\.yml:7:\d+: .*biuld/m);
  });

  it('starts nothing and says why when the push does not match the triggers', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(DAG, 'on a feature branch', 'feature/x');
    const outcome = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'feature/x', sha });
    expect(outcome).toEqual({ runIds: [], reason: expect.stringMatching(/do not match/) });
    expect((await f.engine.listRuns({})).items).toEqual([]);
    expect(await f.engine.handleEvent({ kind: 'push', repo: 'acme/unknown', branch: 'main', sha })).toEqual({ runIds: [], reason: expect.stringMatching(/not configured/) });
  });
});

describe('a webhook delivery recorded with the runs it starts', () => {
  it('commits with the runs, and when it cannot be written, no run is stored and the event can be sent again', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(DAG, 'add pipeline');
    const event = { kind: 'push' as const, repo: repo.name, branch: 'main', sha };
    const delivery = { deliveryId: 'd-1', event: 'push', receivedAt: Date.now(), bodySha256: 'b'.repeat(64), summary: `push main at ${sha.slice(0, 12)}` };
    // A record the deliveries table refuses (NOT NULL event): the write fails as a whole.
    await expect(f.engine.handleEvent(event, { ...delivery, event: null as unknown as string })).rejects.toThrow(/NOT NULL/);
    expect((await f.engine.listRuns({})).items).toEqual([]);
    expect(f.engine.deliveries.seenAt('d-1', delivery.bodySha256)).toEqual({ id: undefined, body: undefined });

    const outcome = await f.engine.handleEvent(event, delivery);
    expect(outcome.runIds).toHaveLength(1);
    expect(outcome.delivery).toMatchObject({ deliveryId: 'd-1', outcome: 'accepted', httpStatus: 202, runIds: outcome.runIds });
    expect(await f.engine.listDeliveries()).toEqual([outcome.delivery]);
    expect(f.engine.deliveries.seenAt('d-1', delivery.bodySha256)).toEqual({ id: delivery.receivedAt, body: delivery.receivedAt });
    expect((await f.engine.listRuns({})).items.map((r) => r.id)).toEqual(outcome.runIds);
  });
});

describe('when a user triggers a run', () => {
  it('resolves the branch to its commit and runs it as a manual run', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(DAG);
    const { runIds } = await f.engine.triggerRun({ repo: repo.name, branch: 'main' });
    const run = await f.waitForRun(runIds[0]);
    expect(run).toMatchObject({ event: 'manual', branch: 'main', sha, status: 'passed', triggeredBy: 'ui' });
    await expect(f.engine.triggerRun({ repo: 'acme/none', branch: 'main' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(f.engine.triggerRun({ repo: repo.name, branch: 'no-such-branch' })).rejects.toBeInstanceOf(ApiError);
  });

  it('re-runs only the failed jobs of a run, keeping the passed ones', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(`name: flaky
on: { push: { branches: [main] } }
jobs:
  ok:
    image: ${TEST_IMAGE}
    steps: [{ run: echo fine }]
  flaky:
    image: ${TEST_IMAGE}
    steps: [{ run: 'echo "flaky in $KILN_RUN_ID"; exit 3' }]
`);
    const first = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha });
    const run1 = await f.waitForRun(first.runIds[0]);
    expect(run1.status).toBe('failed');
    const { runId } = await f.engine.rerun(run1.id, { failedOnly: true });
    const run2 = await f.waitForRun(runId);
    const ok = run2.jobs.find((j) => j.name === 'ok')!;
    expect(ok).toMatchObject({ status: 'passed', attempt: 0 });
    const flaky = run2.jobs.find((j) => j.name === 'flaky')!;
    expect(flaky).toMatchObject({ status: 'failed', attempt: 1 });
    expect((await f.engine.getLog(flaky.id, 0)).lines.some((l) => l.text === `flaky in ${run2.id}`)).toBe(true);
    expect((await f.engine.getLog(ok.id, 0)).lines).toEqual([]);
    expect(run2.number).toBe(2);
    await expect(f.engine.getRun('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
