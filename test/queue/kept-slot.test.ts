/**
 * The claim's one rule for a repository's slots (`per-repository`) on a real SQLite file: a job in
 * progress, or a failed job kept for debugging (kept_jobs, written by the real DebugStore) until
 * its debug ends or its deadline passes — whether its entry is still active (kept by this process)
 * or done (its failure recorded: the engine stopped, or a restart adopted it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { queueFixture, type QueueFixture } from '../helpers/queue-fixture.js';
import { DebugStore, type KeptJobRow } from '../../src-main/storage/debug-store.js';
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

const failed: JobResult = { status: 'failed', steps: [], error: "step 'Break' failed", logOffset: 0 };
const KEEP_MS = 60_000;

function keep(store: DebugStore, claim: Claim, keptAt: number): KeptJobRow {
  const row: KeptJobRow = {
    job_id: claim.jobId, run_id: claim.runId, container_id: 'c1', job_key: claim.jobId, step_index: 0, step_name: 'Break',
    kept_at: keptAt, deadline: keptAt + KEEP_MS, claim_token: claim.token, attempt: claim.attempt, error: "step 'Break' failed",
  };
  store.keep(row);
  return row;
}

/** acme/a's job claimed and kept for debugging, a second acme/a run and an acme/b run queued behind it. */
function keptJobOfA(): { kept: Claim; store: DebugStore; a2: string; b: string } {
  f = queueFixture();
  const store = new DebugStore(f.db);
  f.addRun({ repo: 'acme/a' });
  const kept = f.scheduler.claim('w', 1)!;
  keep(store, kept, f.now.t);
  f.now.t += 1;
  const a2 = f.addRun({ repo: 'acme/a' }).runId;
  f.now.t += 1;
  const b = f.addRun({ repo: 'acme/b' }).runId;
  return { kept, store, a2, b };
}

describe('a job kept for debugging by the process that claimed it (its entry still active)', () => {
  it('holds one slot of its repository, not two', () => {
    const { a2, b } = keptJobOfA();
    expect(f.queue.slotHolders(f.now.t)).toEqual([{ repo: 'acme/a', holding: 1, kept: 1 }]);
    expect(f.scheduler.claim('w', 1)?.runId).toBe(b);
    expect(f.scheduler.claim('w', 2)?.runId).toBe(a2);
  });
});

describe('a job kept for debugging whose failure is recorded (engine stopped, or adopted after a restart)', () => {
  it('still holds its repository slot: the repository waits, another repository runs', () => {
    const { kept, a2, b } = keptJobOfA();
    expect(f.scheduler.complete(kept, failed)).toBe(true);
    expect(f.queue.get(kept.jobId)?.state).toBe('done');
    expect(f.queue.slotHolders(f.now.t)).toEqual([{ repo: 'acme/a', holding: 1, kept: 1 }]);
    expect(f.scheduler.claim('w', 1)?.runId).toBe(b);
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    expect(f.queue.counts()).toMatchObject({ queued: 1 });
    f.scheduler.forgetIdle(); // the poll asks afresh: still held
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    expect(f.store.getRun(a2)?.status).toBe('queued');
  });

  it('gives the slot back when debugging ends', () => {
    const { kept, store, a2 } = keptJobOfA();
    f.scheduler.complete(kept, failed);
    f.scheduler.claim('w', 1); // acme/b
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    store.release(kept.jobId);
    f.scheduler.forgetIdle();
    expect(f.queue.slotHolders(f.now.t)).toEqual([{ repo: 'acme/b', holding: 1, kept: 0 }]);
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a2);
  });

  it('gives the slot back once its deadline has passed, even before its container is removed', () => {
    const { kept, a2 } = keptJobOfA();
    f.scheduler.complete(kept, failed);
    f.scheduler.claim('w', 1); // acme/b
    f.now.t += KEEP_MS - 3;
    f.scheduler.forgetIdle();
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    f.now.t += 2; // the deadline
    f.scheduler.forgetIdle();
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a2);
  });
});

describe('a job kept on an engine no longer configured (stranded: its record stays, nothing can end its container)', () => {
  it('holds no slot: a new run of its repository starts, and the wait reason does not count it', () => {
    const { kept, store, a2 } = keptJobOfA();
    f.scheduler.complete(kept, failed);
    f.scheduler.claim('w', 1); // acme/b
    expect(f.scheduler.claim('w', 1)).toBeUndefined();
    store.strand(kept.jobId);
    f.scheduler.forgetIdle(); // as DebugService.recover does after stranding
    expect(store.kept(kept.jobId)).toMatchObject({ stranded: 1 });
    expect(f.queue.slotHolders(f.now.t)).toEqual([{ repo: 'acme/b', holding: 1, kept: 0 }]);
    expect(f.scheduler.claim('w', 1)?.runId).toBe(a2);
  });
});

describe('a worker pool holding an adopted job\'s slot, whose poll is too slow to help', () => {
  it('starts the waiting job of the kept job\'s repository as soon as the slot is freed', async () => {
    const { kept, store, a2, b } = keptJobOfA();
    f.scheduler.complete(kept, failed);
    const started: string[] = [];
    pool = new WorkerPool({
      scheduler: f.scheduler, concurrency: 4, perRepository: 1, heartbeatMs: 60_000, pollMs: 3_600_000, workerName: 'w',
      execute: (claim: Claim, signal: AbortSignal) => new Promise<JobResult>((resolve) => {
        started.push(claim.runId);
        signal.addEventListener('abort', () => resolve({ status: 'cancelled', steps: [], logOffset: 0 }), { once: true });
      }),
      finish: (claim, result) => f.scheduler.complete(claim, result),
      onError: (message, err) => { throw new Error(`${message}: ${String(err)}`); },
    });
    pool.holdSlot(kept.jobId, undefined);
    pool.start();
    const end = Date.now() + 2_000;
    while (!started.includes(b) && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toEqual([b]);

    // Debugging ends (debug-service: the kept row goes, then the slot): no poll needed.
    store.release(kept.jobId);
    pool.freeSlot(kept.jobId);
    const t0 = Date.now();
    while (!started.includes(a2) && Date.now() - t0 < 2_000) await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual([b, a2]);
  });
});
