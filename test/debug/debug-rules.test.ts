/**
 * Debug mode's rules on the real engine with the scripted executor (no Docker): which failures are
 * kept (a run started with debug, a repository with debug-failures — also once saved in Settings —,
 * not a plain run), the deadline (debug.keep, also once saved)
 * and its extension, re-running the failed step into the log, ending, and the API's answers for a
 * job that is not kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { exits, prints } from '../helpers/fake-executor.js';
import { pipelineOf, startFakeEngine, type FakeEngine } from '../helpers/fake-engine.js';

const PROGRAMS = { fail: exits(2, 'broken on purpose'), ok: prints('fine') };
const REPOS = { 'acme/web': { main: pipelineOf({ build: ['ok', 'fail'] }) } };

describe('debug mode rules', () => {
  let kiln: FakeEngine | undefined;
  afterEach(async () => { await kiln?.close(); kiln = undefined; });

  const keptOf = async (k: FakeEngine, runId: string) => k.waitFor(async () => (await k.engine.listKeptJobs()).find((j) => j.runId === runId), 20_000, 'the job to be kept');

  it('keeps a failed job of a rerun with debug until the deadline, which extend moves', async () => {
    let now = 1_800_000_000_000;
    kiln = await startFakeEngine({ repos: REPOS, programs: PROGRAMS, options: { debug: { keepMs: 60_000 }, clock: () => now } });
    const first = await kiln.waitForRun(await kiln.trigger('acme/web', 'main'));
    expect(first.status).toBe('failed');
    expect(await kiln.engine.listKeptJobs()).toEqual([]);

    const { runId } = await kiln.engine.rerun(first.id, { failedOnly: false, debug: true });
    const kept = await keptOf(kiln, runId);
    expect(kept).toMatchObject({ step: { index: 1, name: 'Run fail' }, state: 'held', deadline: now + 60_000 });
    now += 10_000;
    expect((await kiln.engine.extendDebug(kept.jobId, 5)).deadline).toBe(kept.deadline + 5 * 60_000);
    await expect(kiln.engine.extendDebug(kept.jobId, -1)).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    expect(await kiln.engine.rerunFailedStep(kept.jobId)).toEqual({ exitCode: 2 });
    const log = (await kiln.engine.getLog(kept.jobId, 0, 500)).lines.map((l) => l.text);
    expect(log.filter((t) => t === 'broken on purpose')).toHaveLength(2);

    await kiln.engine.endDebug(kept.jobId);
    const run = await kiln.waitForRun(runId);
    expect(run.jobs[0]).toMatchObject({ status: 'failed', error: "step 'Run fail' failed with exit code 2" });
    await expect(kiln.engine.endDebug(kept.jobId)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(kiln.engine.extendDebug(kept.jobId)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('keeps every failure of a repository set to debug-failures, without asking', async () => {
    kiln = await startFakeEngine({ repos: REPOS, programs: PROGRAMS, configure: () => ({ debugFailures: true }) });
    const runId = await kiln.trigger('acme/web', 'main');
    const kept = await keptOf(kiln, runId);
    expect((await kiln.engine.getRun(runId)).jobs[0].status).toBe('running');
    expect((await kiln.engine.health()).queue.running).toBe(1);
    await kiln.engine.endDebug(kept.jobId);
    expect((await kiln.waitForRun(runId)).status).toBe('failed');
  });

  it('applies debug-failures and debug keep saved in Settings to the next failure, without a restart', async () => {
    const now = 1_800_000_000_000;
    kiln = await startFakeEngine({ repos: REPOS, programs: PROGRAMS, options: { clock: () => now } });
    const first = await kiln.waitForRun(await kiln.trigger('acme/web', 'main'));
    expect(first.status).toBe('failed');
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
    await kiln.engine.saveRepository({ name: 'acme/web', debugFailures: true });
    await kiln.engine.saveServerSettings({ debugKeep: '7m' });
    const { runId } = await kiln.engine.rerun(first.id, { failedOnly: false });
    const kept = await keptOf(kiln, runId);
    expect(kept.deadline).toBe(now + 7 * 60_000);
    await kiln.engine.endDebug(kept.jobId);
    expect((await kiln.waitForRun(runId)).status).toBe('failed');
  });

  it('cancelling the run ends debugging, the job staying failed', async () => {
    kiln = await startFakeEngine({ repos: REPOS, programs: PROGRAMS });
    const [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    await keptOf(kiln, runId);
    await kiln.engine.cancelRun(runId);
    const run = await kiln.waitForRun(runId);
    expect(run.jobs[0].status).toBe('failed');
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
  });

  it('a terminal needs Docker: an engine without it answers UNAVAILABLE for a kept job', async () => {
    kiln = await startFakeEngine({ repos: REPOS, programs: PROGRAMS });
    const [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await keptOf(kiln, runId);
    expect(kiln.engine.terminals.isKept(kept.jobId)).toBe(true);
    await expect(kiln.engine.terminals.open(kept.jobId, { cols: 80, rows: 24 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(kiln.engine.terminals.open('nope', { cols: 80, rows: 24 })).rejects.toMatchObject({ code: 'CONFLICT' });
    await kiln.engine.endDebug(kept.jobId);
  });
});
