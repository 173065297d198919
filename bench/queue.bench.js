// Queue throughput on the real store: enqueue + claim + complete of 10,000 jobs on a SQLite file
// (WAL, synchronous=NORMAL, as the engine opens it), each operation its own transaction as in the
// engine (one run per event, one claim per free worker, one result per job). Claim latency is
// measured per claim. Baseline, same run, same kind of file: 10,000 × (one INSERT + two UPDATEs of
// a single row), each its own autocommit statement — the cheapest durable writes SQLite can do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../dist/src-main/storage/ids.js';
import { openDatabase } from '../dist/src-main/storage/db.js';
import { RunStore } from '../dist/src-main/storage/run-store.js';
import { JobQueue } from '../dist/src-main/queue/job-queue.js';
import { Scheduler } from '../dist/src-main/queue/scheduler.js';

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

function benchQueue() {
  const db = openDatabase(join(dir, 'queue.db'));
  if (process.env.CKPT) db.pragma('wal_autocheckpoint = ' + process.env.CKPT);
  if (process.env.SYNC) db.pragma('synchronous = ' + process.env.SYNC);
  if (process.env.PRAGMAS) for (const p of process.env.PRAGMAS.split(';')) db.pragma(p);
  const store = new RunStore(db);
  const queue = new JobQueue(db, { instanceId: 'bench', leaseMs: 30_000, agingIntervalMs: 60_000, maxAttempts: 3 });
  const scheduler = new Scheduler(db, store, queue, Date.now, () => {});
  const priorities = ['low', 'normal', 'high', 'critical'];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const runId = newId();
    const jobId = newId();
    const priority = priorities[i % 4];
    const plan = { pipeline: 'bench', priority, jobs: [plannedJob()], warnings: [] };
    db.transaction(() => {
      store.insertRun({ id: runId, event: { kind: 'push', repo: `acme/r${i % 8}`, branch: 'main', sha: 'a'.repeat(40) }, pipeline: 'bench', priority, status: 'queued', plan, createdAt: Date.now() });
      store.insertJob(runId, plan.jobs[0], 0, jobId, 'queued', Date.now());
      scheduler.enqueueJobs(runId, `acme/r${i % 8}`, i % 4, [{ id: jobId, planned: plan.jobs[0], status: 'queued' }]);
    }).immediate();
  }
  const tEnqueued = performance.now();
  const claimMs = [];
  let done = 0;
  // Four workers' worth of claims in flight, as the default pool.
  const inFlight = [];
  for (;;) {
    while (inFlight.length < 4) {
      const c0 = performance.now();
      const claim = scheduler.claim('bench', 4);
      claimMs.push(performance.now() - c0);
      if (!claim) break;
      inFlight.push(claim);
    }
    const claim = inFlight.shift();
    if (!claim) break;
    if (!scheduler.complete(claim, { status: 'passed', steps: [], logOffset: 0 })) throw new Error('fenced out unexpectedly');
    done++;
  }
  const t1 = performance.now();
  if (done !== N) throw new Error(`completed ${done} of ${N}`);
  const integrity = db.pragma('integrity_check', { simple: true });
  db.close();
  claimMs.sort((a, b) => a - b);
  return { seconds: (t1 - t0) / 1000, enqueueSeconds: (tEnqueued - t0) / 1000, p50: percentile(claimMs, 50), p99: percentile(claimMs, 99), integrity };
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
  const q = benchQueue();
  const jobsPerS = N / q.seconds;
  const baseJobsPerS = N / base.seconds;
  console.table([
    { metric: 'queue jobs/s (enqueue+claim+complete)', measured: Math.round(jobsPerS), baseline: Math.round(baseJobsPerS), ratio: +(jobsPerS / baseJobsPerS).toFixed(2), target: `≥ ${TARGET_JOBS_PER_S}`, ok: jobsPerS >= TARGET_JOBS_PER_S },
    { metric: 'claim latency p50 (ms)', measured: +q.p50.toFixed(3), baseline: '-', ratio: '-', target: '-', ok: true },
    { metric: 'claim latency p99 (ms)', measured: +q.p99.toFixed(3), baseline: '-', ratio: '-', target: '< 5', ok: q.p99 < 5 },
  ]);
  console.log(`${N} jobs in ${q.seconds.toFixed(2)} s (enqueue ${q.enqueueSeconds.toFixed(2)} s); baseline: ${N} single-row INSERTs + ${2 * N} UPDATEs (autocommit) in ${base.seconds.toFixed(2)} s; integrity_check: ${q.integrity}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
