import { isSuccess, runStatusOf } from '../../shared/model/status.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import { runPlan } from '../../src-main/executor/local-runner.js';
import { EVENT, harness, job, leftovers, NONE, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness({ killGraceMs: 1000 });
});
afterEach(async () => {
  await h.cleanup();
});

function planOf(jobs: PlannedJob[]): Plan {
  return { pipeline: 'test', priority: 'normal', jobs, warnings: [] };
}

function named(id: string, run: string, extra: Partial<PlannedJob> = {}): PlannedJob {
  return job([step(run)], { id, key: id, name: id, ...extra });
}

describe('runPlan', () => {
  it('runs jobs in DAG order with at most `parallelism` at a time', async () => {
    const events: string[] = [];
    let runningNow = 0;
    let maxRunning = 0;
    const plan = planOf([
      named('a', 'sleep 1'),
      named('b', 'sleep 1'),
      named('c', 'sleep 1'),
      named('d', 'echo last', { needs: ['a', 'b', 'c'] }),
    ]);
    const outcome = await runPlan(plan, {
      executor: h.executor,
      event: EVENT,
      source: h.source,
      secrets: {},
      parallelism: 2,
      signal: new AbortController().signal,
      onLog: () => undefined,
      onJobStart: (id) => {
        events.push(`start ${id}`);
        maxRunning = Math.max(maxRunning, ++runningNow);
      },
      onJob: (id, r) => {
        events.push(`end ${id} ${r.status}`);
        runningNow--;
      },
    });
    expect(outcome.status).toBe('passed');
    expect(maxRunning).toBe(2);
    expect(events.indexOf('start d')).toBeGreaterThan(Math.max(events.indexOf('end a passed'), events.indexOf('end b passed'), events.indexOf('end c passed')));
  });

  it('skips dependants of a failed job, runs always() dependants, and reports failed', async () => {
    const plan = planOf([
      named('build', 'exit 1'),
      named('test', 'echo test', { needs: ['build'] }),
      named('notify', 'echo notify', { needs: ['build'], if: 'always()' }),
      named('deploy', 'echo deploy', { needs: ['test'] }),
    ]);
    const outcome = await runPlan(plan, { executor: h.executor, event: EVENT, source: h.source, secrets: {}, parallelism: 2, signal: new AbortController().signal, onLog: () => undefined });
    expect(outcome.status).toBe('failed');
    expect(Object.fromEntries([...outcome.jobs].map(([id, r]) => [id, r.status]))).toEqual({ build: 'failed', test: 'skipped', notify: 'passed', deploy: 'skipped' });
  });

  it('keeps jobs skipped at plan time skipped', async () => {
    const plan = planOf([named('a', 'echo a', { skipped: true, skipReason: 'if: false' }), named('b', 'echo b')]);
    const outcome = await runPlan(plan, { executor: h.executor, event: EVENT, source: h.source, secrets: {}, parallelism: 1, signal: new AbortController().signal, onLog: () => undefined });
    expect(outcome.status).toBe('passed');
    expect(outcome.jobs.get('a')?.status).toBe('skipped');
  });

  it('calls a run whose every job was skipped skipped, as kiln serve does', async () => {
    const plan = planOf([named('a', 'echo a', { skipped: true, skipReason: 'if: false' }), named('b', 'echo b', { skipped: true, skipReason: 'if: false' })]);
    const outcome = await runPlan(plan, { executor: h.executor, event: EVENT, source: h.source, secrets: {}, parallelism: 1, signal: new AbortController().signal, onLog: () => undefined });
    const jobs = [...outcome.jobs.values()];
    expect(outcome.status).toBe('skipped');
    expect(outcome.status).toBe(runStatusOf(jobs, true));
    expect(isSuccess(outcome.status)).toBe(true);
  });

  it('cancels running jobs and does not start the rest when the signal aborts', async () => {
    const controller = new AbortController();
    const plan = planOf([named('slow', 'sleep 30'), named('after', 'echo after', { needs: ['slow'] })]);
    const outcome = await runPlan(plan, {
      executor: h.executor,
      event: EVENT,
      source: h.source,
      secrets: {},
      parallelism: 2,
      signal: controller.signal,
      onLog: (_id, line) => {
        if (line.text === "step 'sleep 30'") setTimeout(() => controller.abort(), 300);
      },
    });
    expect(outcome.status).toBe('cancelled');
    expect(outcome.jobs.get('slow')?.status).toBe('cancelled');
    expect(outcome.jobs.get('after')).toMatchObject({ status: 'cancelled', error: 'cancelled before it started' });
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});
