// Event-loop delay of the engine while it works through 1,000 queued runs with 4 concurrent workers.
//
// The executor is a STUB here (no Docker): each job yields to the event loop, emits 50 log lines and
// two step updates over ~20 ms and passes. The git read of .kiln.yml is a stub too (it yields like
// real I/O). So this measures the engine's own overhead — webhook-burst planning, SQLite queue
// transactions, DAG release, log store and event fan-out — which is what could freeze the desktop
// window. Parsing and planning are the real pipeline code. Baseline, same process: the delay of the
// idle event loop over the same duration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../dist/src-main/engine/engine.js';
import { defaultConfig } from '../dist/src-main/config.js';

const RUNS = 1_000;
const WORKERS = 4;
const TARGET_P99_MS = 20;
const PIPELINE = `name: bench
on: { push: { branches: [main] } }
jobs:
  build:
    image: busybox
    steps: [{ name: compile, run: make }, { name: pack, run: tar cf out.tar . }]
  test:
    image: busybox
    needs: [build]
    steps: [{ name: test, run: make test }]
`;

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stubExecutor = {
  async runJob(req) {
    let seq = req.logOffset ?? 0;
    const steps = req.job.steps.map((s) => ({ index: s.index, name: s.name, status: 'passed', startedAt: Date.now(), finishedAt: Date.now() }));
    for (const step of steps) {
      req.onStep?.({ ...step, status: 'running' });
      for (let i = 0; i < 25; i++) req.onLog({ seq: seq++, ts: Date.now(), stream: 'stdout', step: step.index, text: `line ${i} of ${step.name} in ${req.jobId}` });
      await sleep(10);
      if (req.signal.aborted) return { status: 'cancelled', steps, logOffset: seq };
      req.onStep?.(step);
    }
    return { status: 'passed', steps, logOffset: seq };
  },
  async reapOrphans() { return { containers: 0, networks: 0, volumes: 0 }; },
  async ping() { return { ok: true }; },
};
const stubCheckout = {
  async readFileAtCommit() { await tick(); return PIPELINE; },
  async resolveCommit() { await tick(); return 'a'.repeat(40); },
};

function histogramMs(h) {
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-loop-'));
try {
  const config = { ...defaultConfig(), concurrency: { jobs: WORKERS, perRepository: WORKERS }, repositories: [{ name: 'acme/web', url: '/unused', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} }] };
  const engine = await Engine.start({ config, dataDir: join(dir, 'data'), executor: stubExecutor, checkout: stubCheckout, onError: (m, e) => console.error(m, e) });
  let events = 0;
  engine.subscribe(() => { events++; });

  const busy = monitorEventLoopDelay({ resolution: 1 });
  busy.enable();
  const t0 = performance.now();
  // A burst of 1,000 pushes (as a webhook storm would deliver), then wait for every run to finish.
  const outcomes = await Promise.all(Array.from({ length: RUNS }, (_, i) => engine.handleEvent({ kind: 'push', repo: 'acme/web', branch: 'main', sha: i.toString(16).padStart(40, '0') })));
  const runIds = outcomes.flatMap((o) => o.runIds);
  const tQueued = performance.now();
  for (;;) {
    const h = await engine.health();
    if (h.queue.queued === 0 && h.queue.running === 0) break;
    await sleep(100);
  }
  const seconds = (performance.now() - t0) / 1000;
  busy.disable();
  const passed = (await engine.listRuns({ status: 'passed', limit: 200 })).items.length;
  await engine.stop();

  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await sleep(Math.min(10_000, seconds * 1000));
  idle.disable();

  const b = histogramMs(busy);
  const i = histogramMs(idle);
  console.table([
    { metric: 'event-loop delay p99 (ms)', measured: +b.p99.toFixed(2), baseline: +i.p99.toFixed(2), ratio: +(b.p99 / i.p99).toFixed(2), target: `< ${TARGET_P99_MS}`, ok: b.p99 < TARGET_P99_MS },
    { metric: 'event-loop delay p50 (ms)', measured: +b.p50.toFixed(2), baseline: +i.p50.toFixed(2), ratio: +(b.p50 / i.p50).toFixed(2), target: '-', ok: true },
    { metric: 'event-loop delay max (ms)', measured: +b.max.toFixed(2), baseline: +i.max.toFixed(2), ratio: +(b.max / i.max).toFixed(2), target: '-', ok: true },
  ]);
  console.log(`${runIds.length} runs (${runIds.length * 2} jobs, 4 workers) queued in ${((tQueued - t0) / 1000).toFixed(2)} s, all finished in ${seconds.toFixed(2)} s; ${events} events published; first page of passed runs: ${passed}.`);
  console.log('NOTE: jobs ran on a stub executor (no Docker) so that this measures the engine\'s own overhead; .kiln.yml reads were stubbed too.');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
