import { afterEach, describe, expect, it } from 'vitest';
import { queueFixture, type QueueFixture } from '../helpers/queue-fixture.js';
import type { JobResult } from '../../src-main/core/job-contract.js';

let f: QueueFixture;
afterEach(() => f?.close());

const passed: JobResult = { status: 'passed', steps: [], logOffset: 0 };
const failed: JobResult = { status: 'failed', steps: [], error: 'step 1 exited with 1', logOffset: 0 };

describe('when jobs of different priorities wait', () => {
  it('claims the highest priority first even when it was enqueued last', () => {
    f = queueFixture();
    const low = f.addRun({ priority: 'low' });
    f.now.t += 10;
    const normal = f.addRun({ priority: 'normal' });
    f.now.t += 10;
    const high = f.addRun({ priority: 'high' });
    f.now.t += 10;
    const critical = f.addRun({ priority: 'critical' });
    const order = [1, 2, 3, 4].map(() => f.scheduler.claim('w', 100)?.runId);
    expect(order).toEqual([critical.runId, high.runId, normal.runId, low.runId]);
  });

  it('claims jobs of one priority in the order they were enqueued', () => {
    f = queueFixture();
    const runs = [0, 1, 2, 3].map(() => { f.now.t += 1; return f.addRun({ priority: 'high' }).runId; });
    const order = runs.map(() => f.scheduler.claim('w', 100)?.runId);
    expect(order).toEqual(runs);
  });
});

describe('when a stream of high priority jobs keeps arriving', () => {
  it('still runs the waiting low priority job once it has aged two intervals', () => {
    f = queueFixture({ agingIntervalMs: 1_000 });
    const low = f.addRun({ priority: 'low' });
    let lowClaimedAt: number | undefined;
    let highsBefore = 0;
    // Every 100 ms one high job arrives and one worker slot frees up: the queue never drains.
    for (let tick = 0; tick < 100 && lowClaimedAt === undefined; tick++) {
      f.now.t += 100;
      f.addRun({ priority: 'high' });
      const claim = f.scheduler.claim('w', 100);
      expect(claim).toBeDefined();
      if (claim?.runId === low.runId) lowClaimedAt = f.now.t;
      else highsBefore++;
    }
    expect(lowClaimedAt).toBeDefined();
    // Fresh high jobs win for the first two intervals (two levels), then age wins.
    expect(highsBefore).toBeGreaterThanOrEqual(15);
    expect(lowClaimedAt! - 1_000_000).toBeLessThanOrEqual(2_200);
  });
});

describe('when the lease expires', () => {
  it('re-queues the job with its attempt raised and a new, larger fencing token', () => {
    f = queueFixture({ leaseMs: 1_000 });
    const { jobs } = f.addRun({});
    const first = f.scheduler.claim('w1', 100)!;
    expect(first.attempt).toBe(1);
    f.now.t += 999;
    expect(f.scheduler.expireLeases()).toBe(0);
    f.now.t += 2;
    expect(f.scheduler.expireLeases()).toBe(1);
    expect(f.store.getJob(jobs.build)!.status).toBe('queued');
    expect(f.changes.some((c) => c.kind === 'note' && /lease expired; the job is queued again \(attempt 2 of 3\)/.test(c.text))).toBe(true);
    const second = f.scheduler.claim('w2', 100)!;
    expect(second.jobId).toBe(jobs.build);
    expect(second.attempt).toBe(2);
    expect(second.token).toBeGreaterThan(first.token);
  });

  it('keeps a lease alive while the worker renews it', () => {
    f = queueFixture({ leaseMs: 1_000 });
    f.addRun({});
    const claim = f.scheduler.claim('w1', 100)!;
    for (let i = 0; i < 5; i++) {
      f.now.t += 800;
      expect(f.scheduler.renew(claim)).toBe(true);
      expect(f.scheduler.expireLeases()).toBe(0);
    }
  });

  it('fails the job with a clear reason after it lost its worker max-attempts times', () => {
    f = queueFixture({ leaseMs: 1_000, maxAttempts: 3 });
    const { runId, jobs } = f.addRun({});
    for (let i = 0; i < 3; i++) {
      expect(f.scheduler.claim('w', 100)?.jobId).toBe(jobs.build);
      f.now.t += 1_001;
      f.scheduler.expireLeases();
    }
    const job = f.store.getJob(jobs.build)!;
    expect(job.status).toBe('failed');
    expect(job.error).toBe('lost its worker 3 times; giving up');
    expect(f.store.getRun(runId)!.status).toBe('failed');
    expect(f.scheduler.claim('w', 100)).toBeUndefined();
  });
});

describe('when a stale worker reports after its job was handed to another worker', () => {
  it('refuses the stale writer and keeps the newer attempt\'s result', () => {
    f = queueFixture({ leaseMs: 1_000 });
    const { runId, jobs } = f.addRun({});
    const stale = f.scheduler.claim('w1', 100)!;
    f.now.t += 1_001;
    f.scheduler.expireLeases();
    const fresh = f.scheduler.claim('w2', 100)!;
    expect(f.scheduler.renew(stale)).toBe(false);
    expect(f.scheduler.recordStep(stale, { index: 0, name: 'run', status: 'passed' })).toBe(false);
    expect(f.scheduler.complete(fresh, failed)).toBe(true);
    expect(f.scheduler.complete(stale, passed)).toBe(false);
    expect(f.store.getJob(jobs.build)!.status).toBe('failed');
    expect(f.store.getRun(runId)!.status).toBe('failed');
    expect(f.store.stepsOfJob(jobs.build)).toEqual([]);
  });
});

describe('when a repository has reached its concurrency limit', () => {
  it('skips its queued jobs and claims another repository\'s job instead', () => {
    f = queueFixture();
    const a1 = f.addRun({ repo: 'acme/a' });
    f.now.t += 1;
    f.addRun({ repo: 'acme/a' });
    f.now.t += 1;
    const b1 = f.addRun({ repo: 'acme/b' });
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a1.runId);
    expect(f.scheduler.claim('w', 1)?.runId).toBe(b1.runId);
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    expect(f.queue.counts()).toMatchObject({ queued: 1, active: 2 });
  });
});

describe('when a job of a DAG finishes', () => {
  it('queues dependants whose needs passed and skips those whose needs failed', () => {
    f = queueFixture();
    const { runId, jobs } = f.addRun({ jobs: { build: [], test: ['build'], lint: [], deploy: ['test', 'lint'] } });
    const c1 = f.scheduler.claim('w', 100)!;
    const c2 = f.scheduler.claim('w', 100)!;
    expect(new Set([c1.jobId, c2.jobId])).toEqual(new Set([jobs.build, jobs.lint]));
    expect(f.scheduler.claim('w', 100)).toBeUndefined(); // test waits for build
    const build = c1.jobId === jobs.build ? c1 : c2;
    const lint = c1.jobId === jobs.build ? c2 : c1;
    expect(f.scheduler.complete(build, passed)).toBe(true);
    const test = f.scheduler.claim('w', 100)!;
    expect(test.jobId).toBe(jobs.test);
    f.scheduler.complete(test, failed);
    f.scheduler.complete(lint, passed);
    expect(f.store.getJob(jobs.deploy)!.status).toBe('skipped');
    expect(f.store.getRun(runId)!.status).toBe('failed');
  });

  it('derives passed for a run whose jobs passed or were skipped', () => {
    f = queueFixture();
    const { runId } = f.addRun({ jobs: { build: [] } });
    const claim = f.scheduler.claim('w', 100)!;
    expect(f.store.getRun(runId)!.status).toBe('running');
    f.now.t += 500;
    f.scheduler.complete(claim, passed);
    const run = f.store.getRun(runId)!;
    expect(run.status).toBe('passed');
    expect(run.finished_at! - run.started_at!).toBe(500);
  });
});

describe('when a run is cancelled', () => {
  it('cancels its queued and waiting jobs at once and reports the active ones to abort', () => {
    f = queueFixture();
    const { runId, jobs } = f.addRun({ jobs: { build: [], lint: [], test: ['build'] } });
    const claim = f.scheduler.claim('w', 100)!;
    const active = f.scheduler.cancelRun(runId);
    expect(active).toEqual([claim.jobId]);
    const other = claim.jobId === jobs.build ? jobs.lint : jobs.build;
    expect(f.store.getJob(other)!.status).toBe('cancelled');
    expect(f.store.getJob(jobs.test)!.status).toBe('cancelled');
    expect(f.store.getRun(runId)!.status).toBe('running');
    f.scheduler.complete(claim, { status: 'cancelled', steps: [], logOffset: 0 });
    expect(f.store.getRun(runId)!.status).toBe('cancelled');
    expect(f.scheduler.claim('w', 100)).toBeUndefined();
  });
});
