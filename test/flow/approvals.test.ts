/**
 * Approval gates on the real engine (SQLite queue, scheduler, API) with the scripted executor: a
 * `when: manual` job waits holding no slot, is approved or rejected through the API, or expires.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { prints } from '../helpers/fake-executor.js';
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine.js';

let f: FakeEngine | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const GATED = (timeout = '') => `name: release
on:
  manual: true
jobs:
  build:
    image: fake
    steps:
      - run: say-built
  deploy:
    image: fake
    needs: build
    when: manual
${timeout ? `    approval-timeout: ${timeout}\n` : ''}    steps:
      - run: say-deployed
  smoke:
    image: fake
    needs: deploy
    steps:
      - run: say-smoke
`;
const PLAIN = 'name: other\non:\n  manual: true\njobs:\n  only:\n    image: fake\n    steps:\n      - run: say-built\n';

async function start(timeout = '', approvalCheckMs?: number): Promise<FakeEngine> {
  return startFakeEngine({
    repos: { 'acme/web': { main: GATED(timeout) }, 'acme/other': { main: PLAIN } },
    programs: { 'say-built': prints('built'), 'say-deployed': prints('deployed'), 'say-smoke': prints('smoke ok') },
    config: { concurrency: { jobs: 1, perRepository: 1 } },
    options: approvalCheckMs ? { approvalCheckMs } : {},
  });
}

async function waitingGate(e: FakeEngine, runId: string) {
  return e.waitFor(async () => {
    const run = await e.engine.getRun(runId);
    return run.jobs.find((j) => j.name === 'deploy' && j.approval?.state === 'waiting') ? run : undefined;
  }, 20_000, 'deploy to wait for approval');
}

describe('a when: manual job', () => {
  it('waits after its needs, holding no slot, until approved; then it and its dependants run', async () => {
    f = await start();
    const runId = await f.trigger('acme/web', 'main');
    const run = await waitingGate(f, runId);
    const deploy = run.jobs.find((j) => j.name === 'deploy')!;
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([['build', 'passed'], ['deploy', 'queued'], ['smoke', 'queued']]);
    expect(run.waitingForApproval).toBe(1);
    expect((await f.engine.listRuns({})).items.find((r) => r.id === runId)?.waitingForApproval).toBe(1);
    expect(deploy.approval).toMatchObject({ state: 'waiting' });
    expect(deploy.approval!.expiresAt - deploy.approval!.requestedAt).toBe(24 * 3600_000);

    // With one slot for the whole engine, another run still runs: the gate holds nothing.
    expect((await f.engine.health()).queue.running).toBe(0);
    const other = await f.waitForRun(await f.trigger('acme/other', 'main'));
    expect(other.status).toBe('passed');
    expect((await f.engine.getRun(runId)).jobs.find((j) => j.name === 'deploy')!.status).toBe('queued');

    await f.engine.approveJob(deploy.id, { by: 'ada' });
    const done = await f.waitForRun(runId);
    expect(done.status).toBe('passed');
    expect(done.jobs.map((j) => [j.name, j.status])).toEqual([['build', 'passed'], ['deploy', 'passed'], ['smoke', 'passed']]);
    expect(done.waitingForApproval).toBeUndefined();
    expect(done.jobs.find((j) => j.name === 'deploy')!.approval).toMatchObject({ state: 'approved', decidedBy: 'ada' });
    const log = (await f.engine.getLog(deploy.id, 0)).lines.map((l) => l.text);
    expect(log[0]).toBe('[kiln] approved by ada');
    expect(log).toContain('deployed');

    await expect(f.engine.approveJob(deploy.id)).rejects.toMatchObject({ code: 'CONFLICT', message: "job 'deploy' was already approved (by ada)" });
    await expect(f.engine.rejectJob(done.jobs[0].id)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining("job 'build' does not wait for approval") });
    await expect(f.engine.approveJob('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('ends cancelled when rejected, and the jobs that need it are skipped', async () => {
    f = await start();
    const runId = await f.trigger('acme/web', 'main');
    const deploy = (await waitingGate(f, runId)).jobs.find((j) => j.name === 'deploy')!;
    await f.engine.rejectJob(deploy.id, { by: 'grace' });
    const done = await f.waitForRun(runId);
    expect(done.status).toBe('cancelled');
    expect(done.jobs.map((j) => [j.name, j.status])).toEqual([['build', 'passed'], ['deploy', 'cancelled'], ['smoke', 'skipped']]);
    expect(done.jobs.find((j) => j.name === 'deploy')).toMatchObject({ error: 'rejected by grace', approval: { state: 'rejected', decidedBy: 'grace' } });
    expect(f.executor.requests.map((r) => r.job.name)).toEqual(['build']);
  });

  it('is rejected on its own when nobody decides within its approval-timeout', async () => {
    f = await start('1s', 100);
    const runId = await f.trigger('acme/web', 'main');
    await waitingGate(f, runId);
    const done = await f.waitForRun(runId, undefined, 20_000);
    expect(done.status).toBe('cancelled');
    expect(done.jobs.find((j) => j.name === 'deploy')).toMatchObject({
      status: 'cancelled', error: 'nobody approved it within 1 s; the approval expired', approval: { state: 'expired' },
    });
    expect(done.jobs.find((j) => j.name === 'smoke')!.status).toBe('skipped');
  });

  it('waits at once when it needs nothing, and the run says it waits', async () => {
    f = await startFakeEngine({
      repos: { 'acme/web': { main: 'name: gate\non:\n  manual: true\njobs:\n  ship:\n    image: fake\n    when: manual\n    steps:\n      - run: say-built\n' } },
      programs: { 'say-built': prints('built') },
    });
    const runId = await f.trigger('acme/web', 'main');
    const run = await f.waitFor(async () => { const r = await f!.engine.getRun(runId); return r.waitingForApproval ? r : undefined; }, 20_000, 'the run to wait');
    expect(run.status).toBe('queued');
    expect(f.events.some((e) => e.type === 'run' && e.run.id === runId && e.run.waitingForApproval === 1)).toBe(true);
    await f.engine.approveJob(run.jobs[0].id);
    expect((await f.waitForRun(runId)).status).toBe('passed');
  });
});
