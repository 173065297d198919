/**
 * A real SQLite file in a fresh temp directory with the store, queue and scheduler over it, and a
 * hand-driven clock: for queue tests that need no executor (no job is run, only claimed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../../src-main/storage/ids.js';
import { openDatabase, type Db } from '../../src-main/storage/db.js';
import { RunStore } from '../../src-main/storage/run-store.js';
import { JobQueue } from '../../src-main/queue/job-queue.js';
import { Scheduler, type SchedulerChange } from '../../src-main/queue/scheduler.js';
import type { PlannedJob, Plan } from '../../shared/model/plan.js';
import type { Priority, Status } from '../../shared/model/status.js';
import { PRIORITY_RANK } from '../../shared/model/status.js';

export interface QueueFixture {
  dir: string;
  db: Db;
  store: RunStore;
  queue: JobQueue;
  scheduler: Scheduler;
  changes: SchedulerChange[];
  now: { t: number };
  /** Inserts a run whose jobs are `jobs` (key → needs); returns job ids by key. */
  addRun(o: { repo?: string; priority?: Priority; jobs?: Record<string, string[]>; branch?: string }): { runId: string; jobs: Record<string, string> };
  close(): void;
}

export function plannedJob(key: string, needs: string[] = []): PlannedJob {
  return {
    id: key, key, name: key, matrix: {}, image: 'kiln-test/busybox:1', needs, skipped: false, env: {}, secrets: [],
    timeoutMs: 60_000, services: [], steps: [{ index: 0, name: 'run', run: 'true', env: {}, if: 'success()', continueOnError: false }],
  };
}

export function queueFixture(options: { leaseMs?: number; agingIntervalMs?: number; maxAttempts?: number; instanceId?: string; dir?: string } = {}): QueueFixture {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'kiln-queue-'));
  const db = openDatabase(join(dir, 'kiln.db'));
  const now = { t: 1_000_000 };
  const clock = () => now.t;
  const store = new RunStore(db);
  const queue = new JobQueue(db, {
    instanceId: options.instanceId ?? 'test-instance', leaseMs: options.leaseMs ?? 30_000,
    agingIntervalMs: options.agingIntervalMs ?? 60_000, maxAttempts: options.maxAttempts ?? 3,
  });
  const changes: SchedulerChange[] = [];
  const scheduler = new Scheduler(db, store, queue, clock, (c) => changes.push(...c));
  return {
    dir, db, store, queue, scheduler, changes, now,
    addRun({ repo = 'acme/web', priority = 'normal', jobs = { build: [] }, branch = 'main' }) {
      const runId = newId();
      const plan: Plan = { pipeline: 'p', priority, jobs: Object.entries(jobs).map(([k, needs]) => plannedJob(k, needs)), warnings: [] };
      const ids: Record<string, string> = {};
      db.transaction(() => {
        store.insertRun({ id: runId, event: { kind: 'push', repo, branch, sha: 'a'.repeat(40) }, pipeline: 'p', priority, status: 'queued', plan, createdAt: now.t });
        const rows: { id: string; planned: PlannedJob; status: Status }[] = [];
        plan.jobs.forEach((j, i) => {
          ids[j.id] = newId();
          store.insertJob(runId, j, i, ids[j.id], 'queued', now.t);
          rows.push({ id: ids[j.id], planned: j, status: 'queued' });
        });
        scheduler.enqueueJobs(runId, repo, PRIORITY_RANK[priority], rows);
      })();
      scheduler.settleNewRun(runId);
      return { runId, jobs: ids };
    },
    close() {
      if (db.open) db.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
