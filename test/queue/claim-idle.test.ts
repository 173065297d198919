import { afterEach, describe, expect, it } from 'vitest';
import { queueFixture, type QueueFixture } from '../helpers/queue-fixture.js';
import { WorkerPool } from '../../src-main/queue/worker-pool.js';
import type { Claim } from '../../src-main/queue/job-queue.js';
import type { JobResult } from '../../src-main/core/job-contract.js';

let f: QueueFixture;
let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.stop();
  pool = undefined;
  f?.close();
});

const passed: JobResult = { status: 'passed', steps: [], logOffset: 0 };

async function until(what: string, ok: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('when the only repository with queued jobs is at its per-repository limit', () => {
  it('remembers that nothing is claimable, yet claims another repository\'s job and a freed slot at once', () => {
    f = queueFixture();
    const a1 = f.addRun({ repo: 'acme/a' });
    f.now.t += 1;
    const a2 = f.addRun({ repo: 'acme/a' });
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a1.runId);
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    expect(f.scheduler.mayClaim(1)).toBe(false);
    // More work for the blocked repository changes nothing; a different limit is asked afresh.
    f.addRun({ repo: 'acme/a' });
    expect(f.scheduler.mayClaim(1)).toBe(false);
    expect(f.scheduler.mayClaim(2)).toBe(true);
    // A job of another repository is claimable at once.
    const b1 = f.addRun({ repo: 'acme/b' });
    expect(f.scheduler.mayClaim(1)).toBe(true);
    const bClaim = f.scheduler.claim('w', 1);
    expect(bClaim?.runId).toBe(b1.runId);
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    // Finishing a1 frees acme/a's slot: the next claim takes a2 without waiting for a poll.
    const a1Claim = f.queue.get(a1.jobs.build)!;
    expect(f.scheduler.complete({ jobId: a1.jobs.build, runId: a1.runId, repo: 'acme/a', token: a1Claim.token, attempt: 1, leaseUntil: 0 }, passed)).toBe(true);
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a2.runId);
  });

  it('claims again after a transaction that had claimed jobs rolls back', () => {
    f = queueFixture();
    const a1 = f.addRun({ repo: 'acme/a' });
    expect(() => f.scheduler.batch(() => {
      expect(f.scheduler.claim('w', 1)?.runId).toBe(a1.runId);
      expect(f.scheduler.claim('w', 1)).toBeUndefined();
      throw new Error('boom');
    })).toThrow('boom');
    expect(f.queue.counts()).toMatchObject({ queued: 1, active: 0 });
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a1.runId);
  });
});

describe('a worker pool whose poll is too slow to help', () => {
  it('starts another repository\'s job and reuses a freed slot promptly while one repository is at its limit', async () => {
    f = queueFixture();
    const finishers = new Map<string, () => void>();
    const started: string[] = [];
    pool = new WorkerPool({
      scheduler: f.scheduler, concurrency: 4, perRepository: 1, heartbeatMs: 60_000, pollMs: 3_600_000, workerName: 'w',
      execute: (claim: Claim, signal: AbortSignal) => new Promise<JobResult>((resolve) => {
        started.push(claim.runId);
        finishers.set(claim.runId, () => resolve(passed));
        signal.addEventListener('abort', () => resolve({ status: 'cancelled', steps: [], logOffset: 0 }), { once: true });
      }),
      finish: (claim, result) => f.scheduler.complete(claim, result),
      onError: (message, err) => { throw new Error(`${message}: ${String(err)}`); },
    });
    const a = [0, 1, 2].map(() => { f.now.t += 1; return f.addRun({ repo: 'acme/a' }).runId; });
    pool.start();
    await until('the first job of acme/a starts', () => started.length === 1);
    // Kicks for more acme/a work find nothing to claim (acme/a is at its limit of 1).
    for (let i = 0; i < 5; i++) { f.addRun({ repo: 'acme/a' }); pool.kick(); }
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toEqual([a[0]]);
    expect(f.scheduler.mayClaim(1)).toBe(false);

    const t0 = Date.now();
    const b = f.addRun({ repo: 'acme/b' }).runId;
    pool.kick();
    await until('the job of acme/b starts', () => started.includes(b));
    expect(Date.now() - t0).toBeLessThan(1_000);

    const t1 = Date.now();
    finishers.get(a[0])!();
    await until('the next job of acme/a starts', () => started.includes(a[1]));
    expect(Date.now() - t1).toBeLessThan(1_000);
    expect(started).toEqual([a[0], b, a[1]]);
  });
});
