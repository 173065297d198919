// Several Docker engines as one pool, measured against one engine in the same run.
//
// 1. Spread: 8 independent jobs of 5 s each, at most 2 jobs per engine, through the real Engine
//    (queue, worker pool, placement): two engines against one. Target: at most 0.6× the time.
// 2. Per-job overhead over TCP + TLS: a 3-step job (DockerExecutor.runJob) on the same dockerd
//    reached over its TLS port against its Unix socket, alternated. Target: at most 1.2×.
//
// Both engines are dockerds of the benchmark's own (test/helpers/second-engine.js: own data root,
// network namespace, TLS), so the shared engine's other work does not skew either side.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../dist/src-main/engine/engine.js';
import { DockerExecutor } from '../dist/src-main/executor/docker-executor.js';
import { defaultConfig } from '../dist/src-main/settings/config-file.js';
import { startExtraEngine } from '../test/helpers/second-engine.js';

const IMAGE = 'kiln-test/busybox:1';
const REPS = Number(process.env.KILN_BENCH_REPS ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function git(dir, ...args) {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
}

const work = mkdtempSync(join(tmpdir(), 'kiln-bench-engines-'));
const repo = join(work, 'repo');
mkdirSync(repo);
execFileSync('git', ['init', '-q', '-b', 'main', repo]);
const jobs = Array.from({ length: 8 }, (_, i) => `  j${i + 1}:\n    image: ${IMAGE}\n    steps: [{ run: sleep 5 }]\n`).join('');
writeFileSync(join(repo, '.kiln.yml'), `name: spread\non: { push: { branches: ['*'] } }\njobs:\n${jobs}`);
git(repo, 'add', '.');
git(repo, '-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', 'eight jobs');
const sha = git(repo, 'rev-parse', 'HEAD');

/** Wall time of the 8-job run on `engines`, from the event to the run's end. */
async function spread(label, engines) {
  const config = { ...defaultConfig(), concurrency: { jobs: 8, perRepository: 8 }, engines,
    repositories: [{ name: 'acme/bench', url: repo, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} }] };
  const engine = await Engine.start({ config, dataDir: join(work, `data-${label}`), onError: () => undefined });
  try {
    // Until every engine answered its first ping (they take no job before).
    for (let i = 0; i < 100 && !(await engine.health()).engines.every((e) => e.state === 'up'); i++) await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const { runIds } = await engine.handleEvent({ kind: 'push', repo: 'acme/bench', branch: 'main', sha, ref: 'refs/heads/main' });
    for (;;) {
      const run = await engine.getRun(runIds[0]);
      if (['passed', 'failed', 'cancelled'].includes(run.status)) {
        if (run.status !== 'passed') throw new Error(`${label}: run ${run.status}: ${run.jobs.map((j) => j.error).filter(Boolean).join('; ')}`);
        const used = new Set(run.jobs.map((j) => j.engine));
        return { ms: performance.now() - started, engines: [...used].sort().join('+') };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await engine.stop();
  }
}

const planned = {
  id: 'build', key: 'build', name: 'build', matrix: {}, image: IMAGE, needs: [], skipped: false, env: {}, secrets: [], timeoutMs: 60_000, services: [],
  steps: ['echo one', 'echo two', 'echo three'].map((run, index) => ({ index, name: run, run, env: {}, if: '', continueOnError: false })),
};
async function oneJob(executor) {
  const t = performance.now();
  const r = await executor.runJob({
    runId: 'bench', jobId: 'build', job: planned, event: { kind: 'push', repo: 'bench', sha: '0'.repeat(40), branch: 'main' },
    source: { kind: 'dir', path: repo }, secrets: {}, signal: new AbortController().signal, onLog: () => undefined,
  });
  if (r.status !== 'passed') throw new Error(`job ${r.status}: ${r.error}`);
  return performance.now() - t;
}

const [a, b] = await Promise.all([startExtraEngine('bench-a'), startExtraEngine('bench-b')]);
try {
  const A = { name: 'a', address: `unix://${a.socket}`, limit: 2, labels: [] };
  const B = { name: 'b', address: b.address, tls: b.tls, limit: 2, labels: [] };
  await spread('warm', [A, B]); // image layers, first containers
  const one = await spread('one', [A]);
  const two = await spread('two', [A, B]);

  const mirrors = join(work, 'mirrors');
  const viaSocket = new DockerExecutor({ instanceId: `bench-${process.pid}`, mirrorsDir: mirrors, endpoint: { name: 'b', address: `unix://${b.socket}`, source: 'bench' } });
  const viaTls = new DockerExecutor({ instanceId: `bench-${process.pid}`, mirrorsDir: mirrors, endpoint: { name: 'b', address: b.address, tls: b.tls, source: 'bench' } });
  await oneJob(viaSocket);
  await oneJob(viaTls);
  const local = [];
  const tls = [];
  for (let i = 0; i < REPS; i++) {
    local.push(await oneJob(viaSocket));
    tls.push(await oneJob(viaTls));
  }

  console.table([
    {
      benchmark: '8 jobs × 5 s, 2 per engine: two engines vs one',
      'measured ms': Math.round(two.ms), 'baseline ms': Math.round(one.ms), ratio: +(two.ms / one.ms).toFixed(2), target: '<= 0.6',
      met: two.ms / one.ms <= 0.6 ? 'yes' : 'NO', detail: `engines used: ${two.engines} vs ${one.engines}`,
    },
    {
      benchmark: 'one 3-step job: TCP + TLS vs the Unix socket (same dockerd)',
      'measured ms': Math.round(median(tls)), 'baseline ms': Math.round(median(local)), ratio: +(median(tls) / median(local)).toFixed(2), target: '<= 1.2',
      met: median(tls) / median(local) <= 1.2 ? 'yes' : 'NO', detail: `medians of ${REPS}, alternated`,
    },
  ]);
  console.log(`Samples ms: TLS ${tls.map(Math.round).join(', ')}; socket ${local.map(Math.round).join(', ')}`);
} finally {
  await Promise.all([a.close(), b.close()]);
  rmSync(work, { recursive: true, force: true });
}
