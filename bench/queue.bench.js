// Queue throughput on the real store: enqueue + claim + complete of 10,000 jobs on a SQLite file
// (WAL, synchronous=NORMAL, as the engine opens it), each step as the engine does it: a burst of
// events inserted through the group commit (as handleEvent does), and a finished job's result and
// the next claim in one transaction (as the worker pool does). Claim latency is measured per claim
// (the claim's statements inside its transaction); the complete+claim transaction is measured with
// its commit. A second row measures the queue table alone (JobQueue enqueue, claim, finish; job rows
// inserted beforehand, untimed). Baseline, same run, same kind of file: 10,000 × (one INSERT + two
// UPDATEs of a single row), each its own autocommit statement — the cheapest durable writes SQLite can do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../dist/src-main/storage/ids.js';
import { openDatabase } from '../dist/src-main/storage/db.js';
import { RunStore } from '../dist/src-main/storage/run-store.js';
import { JobQueue } from '../dist/src-main/queue/job-queue.js';
import { Scheduler } from '../dist/src-main/queue/scheduler.js';
import { insertRun } from '../dist/src-main/engine/run-factory.js';
import { GroupCommit } from '../dist/src-main/storage/group-commit.js';

const N = 10_000;
const TARGET_JOBS_PER_S = 5_000;
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-queue-'));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function plannedJob() {
  return { id: 'build', key: 'build', name: 'build', matrix: {}, image: 'busybox', needs: [], skipped: false, env: {}, secrets: [],
    timeoutMs: 60_000, services: [], steps: [{ index: 0, name: 'run', run: 'true', env: {}, if: 'success()', continueOnError: false }] };
}

async function benchQueue() {
  const db = openDatabase(join(dir, 'queue.db'));
  const store = new RunStore(db);
  const queue = new JobQueue(db, { instanceId: 'bench', leaseMs: 30_000, agingIntervalMs: 60_000, maxAttempts: 3 });
  const scheduler = new Scheduler(db, store, queue, Date.now, () => {});
  const priorities = ['low', 'normal', 'high', 'critical'];
  const commits = new GroupCommit(db);
  const t0 = performance.now();
  // Enqueue exactly as handleEvent does after planning: run + job + queue entry + DAG settle as one
  // write of the engine's group commit (a burst of events shares commits, 3 ms of writes per group).
  const deps = { db, store, scheduler, clock: Date.now, mirrorsDir: dir, pipeline: undefined, checkout: undefined, commits };
  const inserted = [];
  for (let i = 0; i < N; i++) {
    const priority = priorities[i % 4];
    const plan = { pipeline: 'bench', priority, jobs: [plannedJob()], warnings: [] };
    inserted.push(commits.write(() => insertRun(deps, { event: { kind: 'push', repo: `acme/r${i % 8}`, branch: 'main', sha: 'a'.repeat(40) }, plan, priority })));
  }
  await Promise.all(inserted);
  const tEnqueued = performance.now();
  const claimMs = [];
  const batchMs = [];
  const claim = () => {
    const c0 = performance.now();
    const c = scheduler.claim('bench', 4);
    claimMs.push(performance.now() - c0);
    return c;
  };
  // Four workers' worth of claims in flight, as the default pool. As in the engine's worker pool,
  // a finished job's result and the claim of the next job are one transaction (scheduler.batch).
  const inFlight = scheduler.batch(() => [claim(), claim(), claim(), claim()].filter(Boolean));
  let done = 0;
  while (inFlight.length) {
    const finished = inFlight.shift();
    const b0 = performance.now();
    const next = scheduler.batch(() => {
      if (!scheduler.complete(finished, { status: 'passed', steps: [], logOffset: 0 })) throw new Error('fenced out unexpectedly');
      return claim();
    });
    batchMs.push(performance.now() - b0);
    if (next) inFlight.push(next);
    done++;
  }
  const t1 = performance.now();
  if (done !== N) throw new Error(`completed ${done} of ${N}`);
  const integrity = db.pragma('integrity_check', { simple: true });
  db.close();
  claimMs.sort((a, b) => a - b);
  batchMs.sort((a, b) => a - b);
  return { seconds: (t1 - t0) / 1000, enqueueSeconds: (tEnqueued - t0) / 1000, p50: percentile(claimMs, 50), p99: percentile(claimMs, 99), tx50: percentile(batchMs, 50), tx99: percentile(batchMs, 99), integrity };
}

/** The queue table alone (JobQueue): job rows exist beforehand (untimed); enqueue, claim, finish each one transaction. */
function benchQueueTable() {
  const db = openDatabase(join(dir, 'queue-only.db'));
  const store = new RunStore(db);
  const queue = new JobQueue(db, { instanceId: 'bench', leaseMs: 30_000, agingIntervalMs: 60_000, maxAttempts: 3 });
  const runId = newId();
  const jobs = Array.from({ length: N }, () => newId());
  const plan = { pipeline: 'bench', priority: 'normal', jobs: [plannedJob()], warnings: [] };
  db.transaction(() => {
    store.insertRun({ id: runId, event: { kind: 'push', repo: 'acme/r', branch: 'main', sha: 'a'.repeat(40) }, pipeline: 'bench', priority: 'normal', status: 'queued', plan, createdAt: Date.now() });
    jobs.forEach((id, i) => store.insertJob(runId, { ...plan.jobs[0], id: `j${i}` }, i, id, 'queued', Date.now()));
  })();
  const t0 = performance.now();
  jobs.forEach((jobId, i) => db.transaction(() => queue.enqueue({ jobId, runId, repo: `acme/r${i % 8}`, rank: i % 4, state: 'queued', now: Date.now() })).immediate());
  for (let i = 0; i < N; i++) {
    const c = queue.claim('bench', 4, Date.now());
    db.transaction(() => queue.finish(c.jobId, c.token)).immediate();
  }
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return { seconds };
}

function benchBaseline(name) {
  const db = openDatabase(join(dir, `${name}.db`));
  db.exec('CREATE TABLE plain (id TEXT PRIMARY KEY, state TEXT NOT NULL, n INTEGER NOT NULL)');
  const ins = db.prepare("INSERT INTO plain (id, state, n) VALUES (?, 'queued', 0)");
  const upd = db.prepare('UPDATE plain SET state = ?, n = n + 1 WHERE id = ?');
  const ids = Array.from({ length: N }, () => newId());
  const t0 = performance.now();
  for (const id of ids) ins.run(id);
  for (const id of ids) upd.run('active', id);
  for (const id of ids) upd.run('done', id);
  const t1 = performance.now();
  db.close();
  return { seconds: (t1 - t0) / 1000 };
}

try {
  benchBaseline('warm-up'); // warm-up of the file system and SQLite code paths
  const base = benchBaseline('baseline');
  const q = await benchQueue();
  const table = benchQueueTable();
  const jobsPerS = N / q.seconds;
  const baseJobsPerS = N / base.seconds;
  console.table([
    { metric: 'engine path jobs/s (run+job insert, claim, result, DAG, run status)', measured: Math.round(jobsPerS), baseline: Math.round(baseJobsPerS), ratio: +(jobsPerS / baseJobsPerS).toFixed(2), target: `≥ ${TARGET_JOBS_PER_S}`, ok: jobsPerS >= TARGET_JOBS_PER_S },
    { metric: 'queue table only jobs/s (JobQueue enqueue+claim+finish)', measured: Math.round(N / table.seconds), baseline: Math.round(baseJobsPerS), ratio: +((N / table.seconds) / baseJobsPerS).toFixed(2), target: `≥ ${TARGET_JOBS_PER_S}`, ok: N / table.seconds >= TARGET_JOBS_PER_S },
    { metric: 'claim latency p50 (ms)', measured: +q.p50.toFixed(3), baseline: '-', ratio: '-', target: '-', ok: true },
    { metric: 'claim latency p99 (ms)', measured: +q.p99.toFixed(3), baseline: '-', ratio: '-', target: '< 5', ok: q.p99 < 5 },
    { metric: 'complete+claim transaction p50 (ms)', measured: +q.tx50.toFixed(3), baseline: '-', ratio: '-', target: '-', ok: true },
    { metric: 'complete+claim transaction p99 (ms, incl. commit)', measured: +q.tx99.toFixed(3), baseline: '-', ratio: '-', target: '-', ok: true },
  ]);
  console.log(`${N} jobs in ${q.seconds.toFixed(2)} s (enqueue ${q.enqueueSeconds.toFixed(2)} s); baseline: ${N} single-row INSERTs + ${2 * N} UPDATEs (autocommit) in ${base.seconds.toFixed(2)} s; integrity_check: ${q.integrity}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
