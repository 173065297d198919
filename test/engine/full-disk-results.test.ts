/**
 * A job whose result cannot be recorded because the database's disk is full: the result is kept
 * and written once there is room — with the status the job ended with, and without running the job
 * again, even though its lease ran out meanwhile. The data directory is a tmpfs of 12 MB filled to
 * the last byte while the job runs; its logs have a tmpfs of their own, so that the job's last log
 * lines are written and only the database finds no room.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeFill } from '../helpers/small-disk.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { pipeline, startOnSmallDisk, waitFor, type SmallDiskEngine } from './full-disk-fixture.js';

let k: SmallDiskEngine | undefined;
afterEach(async () => {
  await k?.close();
  k = undefined;
});

describe('when the database cannot be written as a job ends', () => {
  it('keeps the result, writes it once there is room, and does not run the job again', async () => {
    k = await startOnSmallDisk({
      size: '12m', logsDisk: '8m',
      // No reserve: nothing gives SQLite room until the test frees it. A short lease, to show that
      // one running out while the result waits does not put the job back in the queue.
      disk: { reserveBytes: 0, checkIntervalMs: 200 },
      options: { queue: { leaseMs: 1_500, heartbeatMs: 300, pollMs: 200 } },
    });
    const { engine, disk } = k;
    const id = await k.push(pipeline(`  slow:
    image: ${TEST_IMAGE}
    steps:
      - name: Work
        run: echo started once; sleep 4; echo done
`));
    const jobId = await waitFor(async () => {
      const run = await engine.getRun(id);
      const job = run.jobs[0];
      if (job?.status !== 'running') return undefined;
      const log = await engine.getLog(job.id, 0, 100);
      return log.lines.some((l) => l.text === 'started once') ? job.id : undefined;
    }, 'the job to be running');
    const filler = disk.fill('someone-else');
    expect(disk.free()).toBe(0);

    // The job ends; its result finds no room and waits.
    const waiting = await waitFor(async () => {
      const health = await engine.health();
      return (health.disk?.resultsWaiting ?? 0) > 0 ? health : undefined;
    }, 'the result to wait for room', 30_000);
    expect(waiting.disk).toMatchObject({ ok: false, resultsWaiting: 1 });
    expect(k.errors.join('\n')).toMatch(/recording a job result failed; trying again on the next poll: .*(database or disk is full|SQLITE_FULL)/);
    // Past the lease: still not recorded, still not run again.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await engine.getRun(id)).jobs[0].status).toBe('running');

    removeFill(filler);
    const run = await k.finished(id, 30_000);
    expect(run.status).toBe('passed');
    expect(run.jobs[0].status).toBe('passed');
    expect((await engine.health()).disk?.resultsWaiting).toBeUndefined();
    // Ran once: one attempt, one "started once" in its log.
    const log = (await engine.getLog(jobId, 0, 200)).lines.map((l) => l.text);
    expect(log.filter((t) => t === 'started once')).toHaveLength(1);
    expect(log).toContain('done');
    const db = new Database(join(disk.dir, 'kiln.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT attempts, state FROM queue WHERE job_id = ?').get(jobId)).toEqual({ attempts: 1, state: 'done' });
    } finally {
      db.close();
    }
    // Nothing claims it later either.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await engine.getRun(id)).jobs[0].status).toBe('passed');
    await k.healthy();
  });
});
