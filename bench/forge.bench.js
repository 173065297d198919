// Forge reporting: commit statuses posted through the durable outbox to a local GitHub stand-in.
//
//   latency      With no backlog, the time from a run's state change (the engine event) to the
//                status arriving at the forge, at GitHub's real pace (one write per second; events
//                spaced 1.1 s apart). Target: p99 ≤ 1 s.
//   burst        1,000 runs finishing together (one event each, in one turn): every status posted
//                exactly once, none out of order for a context, consecutive writes never closer than
//                the pace. GitHub's pace would take 1,000 s, so the pace is scaled (BENCH_PACE_MS,
//                default 10 ms) and the spacing is checked against the scaled pace.
//   ingestion    Webhook deliveries into the real Engine (stub executor, as in webhook.bench.js; the
//                same client process) with reporting off (baseline) and on (every run queues its
//                statuses and they are posted at GitHub's pace, BENCH_INGEST_PACE_MS): the rate with
//                reporting must stay within 5% of the baseline. Median of BENCH_ROUNDS rounds each.
// BENCH_ONLY=latency|burst|ingestion runs one part.
import { fork } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Engine } from '../dist/src-main/engine/engine.js';
import { defaultConfig } from '../dist/src-main/settings/config-file.js';
import { startServer } from '../dist/src-main/http/app.js';
import { openDatabase } from '../dist/src-main/storage/db.js';
import { createForgeReporter } from '../dist/src-main/forge/reporter.js';

const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 30);
const BURST = Number(process.env.BENCH_BURST ?? 1000);
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 10);
const DELIVERIES = Number(process.env.BENCH_COUNT ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Ingestion runs at GitHub's real pace by default: what a burst costs the engine in production. */
const INGEST_PACE_MS = Number(process.env.BENCH_INGEST_PACE_MS ?? 1000);
const TOKEN = 'bench-token';

/** A minimal forge: records each status with its arrival time and answers as GitHub does. */
async function startForge() {
  const statuses = [];
  let id = 1;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m || req.headers.authorization !== `token ${TOKEN}`) { res.writeHead(404).end(); return; }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      statuses.push({ at: performance.now(), sha: m[3], ...body });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: id++, state: body.state, context: body.context }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, statuses, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const sha = (i) => i.toString(16).padStart(40, '0');
const run = (i, status) => ({ id: `run-${i}`, number: i, repo: 'acme/bench', pipeline: 'bench', event: 'push', branch: 'main', sha: sha(i), priority: 'normal', status, createdAt: 0, durationMs: 12_000, jobs: [], edges: [], stages: [] });
const pct = (list, p) => { const s = [...list].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

function reporterOver(dir, forge, paceMs) {
  const db = openDatabase(join(dir, `kiln-${paceMs}-${Math.random()}.db`));
  const runs = new Map();
  const repo = { name: 'acme/bench', url: '/x', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, forge: { apiUrl: forge.url, token: TOKEN, jobStatuses: false } };
  const reporter = createForgeReporter({ db, repository: () => repo, getRun: (id) => runs.get(id), client: { writePaceMs: paceMs } });
  reporter.start();
  return { reporter, runs, db };
}

async function latency(dir) {
  const forge = await startForge();
  const { reporter, runs, db } = reporterOver(dir, forge, 1000);
  const samples = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const r = run(i + 1, i % 2 ? 'passed' : 'failed');
    runs.set(r.id, r);
    const before = forge.statuses.length;
    const t0 = performance.now();
    reporter.onEvent({ type: 'run', run: r });
    while (forge.statuses.length === before) await new Promise((res) => setTimeout(res, 1));
    samples.push(forge.statuses[before].at - t0);
    await new Promise((res) => setTimeout(res, 1100));
  }
  reporter.stop();
  db.close();
  await forge.close();
  return { p50: pct(samples, 50), p99: pct(samples, 99), max: Math.max(...samples) };
}

async function burst(dir) {
  const forge = await startForge();
  const { reporter, runs, db } = reporterOver(dir, forge, PACE_MS);
  // Each run was queued and started before (two pending statuses), then all finish in one turn.
  for (let i = 1; i <= BURST; i++) runs.set(`run-${i}`, run(i, 'running'));
  for (let i = 1; i <= BURST; i++) reporter.onEvent({ type: 'run', run: runs.get(`run-${i}`) });
  while (forge.statuses.length < BURST) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  for (let i = 1; i <= BURST; i++) runs.set(`run-${i}`, run(i, i % 10 ? 'passed' : 'failed'));
  for (let i = 1; i <= BURST; i++) reporter.onEvent({ type: 'run', run: runs.get(`run-${i}`) });
  while (forge.statuses.length < 2 * BURST) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
  const byKey = new Map();
  for (const s of forge.statuses) byKey.set(`${s.sha}|${s.context}`, [...(byKey.get(`${s.sha}|${s.context}`) ?? []), s.state]);
  const lost = [...Array(BURST).keys()].filter((i) => !byKey.has(`${sha(i + 1)}|kiln/bench`)).length;
  const wrong = [...byKey.values()].filter((states) => states.length !== 2 || states[0] !== 'pending' || states[1] === 'pending').length;
  let minGap = Infinity;
  for (let i = 1; i < forge.statuses.length; i++) minGap = Math.min(minGap, forge.statuses[i].at - forge.statuses[i - 1].at);
  const counts = reporter.outbox.counts();
  reporter.stop();
  db.close();
  await forge.close();
  return { posted: forge.statuses.length, lost, wrong, minGap, seconds, counts };
}

async function ingestion(dir) {
  const forge = await startForge();
  const repoDir = join(dir, 'repo');
  const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
  execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
  writeFileSync(join(repoDir, '.kiln.yml'), 'name: bench\non:\n  push: { branches: ["**"] }\njobs:\n  build:\n    image: kiln-test/busybox:1\n    steps:\n      - run: echo hi\n');
  execFileSync('git', ['add', '.kiln.yml'], { cwd: repoDir, env });
  execFileSync('git', ['commit', '-q', '-m', 'bench'], { cwd: repoDir, env });
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoDir, encoding: 'utf8' }).trim();
  // The webhook benchmark's client process: signed push deliveries to acme/bench with its secret.
  const client = fork(fileURLToPath(new URL('./webhook.bench.js', import.meta.url)), ['--client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise((r) => client.once('message', r));
  const load = async (url, count, tag) => { const s = next(); client.send({ url, count, tag, sha: head, expectStatus: 202 }); await s; return next(); };
  const parking = {
    runJob: (request) => new Promise((resolve) => {
      const done = () => resolve({ status: 'cancelled', steps: [], logOffset: request.logOffset ?? 0 });
      if (request.signal.aborted) done(); else request.signal.addEventListener('abort', done, { once: true });
    }),
    async reapOrphans() {}, async ping() { return { ok: true }; },
  };
  async function measure(name, reporting) {
    const config = {
      ...defaultConfig(), server: { host: '127.0.0.1', port: 0 }, concurrency: { jobs: 4, perRepository: 4 },
      repositories: [{ name: 'acme/bench', url: repoDir, defaultBranch: 'main', webhookSecrets: ['bench-secret'], secrets: {}, priority: {}, ...(reporting ? { forge: { apiUrl: forge.url, token: TOKEN, jobStatuses: false } } : {}) }],
    };
    const engine = await Engine.start({ config, dataDir: join(dir, `data-${name}`), executor: parking, onError: () => {}, forge: { client: { writePaceMs: INGEST_PACE_MS } } });
    const kiln = await startServer({ engine, port: 0 });
    try {
      await load(kiln.url, 200, `warm-${name}`);
      const before = forge.statuses.length;
      const result = await load(kiln.url, DELIVERIES, name);
      return { ...result, posted: forge.statuses.length - before };
    } finally {
      await kiln.close();
      await engine.stop();
    }
  }
  const off = [];
  const on = [];
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await measure(`off${r}`, false));
    on.push(await measure(`on${r}`, true));
  }
  client.kill();
  await forge.close();
  const median = (list) => [...list].sort((a, b) => a.rate - b.rate)[Math.floor(list.length / 2)];
  return { off: median(off), on: median(on), posted: on.reduce((n, x) => n + x.posted, 0) / on.length };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-forge-'));
  try {
    const only = process.env.BENCH_ONLY;
    const l = !only || only === 'latency' ? await latency(dir) : { p50: NaN, p99: NaN, max: NaN };
    const b = !only || only === 'burst' ? await burst(dir) : { posted: NaN, lost: NaN, wrong: NaN, minGap: NaN, seconds: NaN };
    const i = !only || only === 'ingestion' ? await ingestion(dir) : { on: { rate: NaN, p99: NaN }, off: { rate: NaN, p99: NaN }, posted: NaN };
    const ratio = i.on.rate / i.off.rate;
    console.table([
      { measure: 'status latency, no backlog, GitHub pace (p50 / p99 / max)', value: `${l.p50.toFixed(0)} / ${l.p99.toFixed(0)} / ${l.max.toFixed(0)} ms`, target: 'p99 ≤ 1000 ms', ok: l.p99 <= 1000 },
      { measure: `burst: ${BURST} runs finish together (${2 * BURST} statuses)`, value: `${b.posted} posted, ${b.lost} lost, ${b.wrong} duplicated or out of order`, target: 'each exactly once, in order', ok: b.posted === 2 * BURST && b.lost === 0 && b.wrong === 0 },
      { measure: `burst: closest two writes (pace ${PACE_MS} ms, scaled from GitHub's 1000 ms)`, value: `${b.minGap.toFixed(1)} ms; final statuses in ${b.seconds.toFixed(1)} s`, target: `≥ ${PACE_MS} ms`, ok: b.minGap >= PACE_MS - 1 },
      { measure: 'webhook ingestion, reporting off (baseline)', value: `${i.off.rate.toFixed(0)}/s, p99 ${i.off.p99.toFixed(1)} ms`, target: '', ok: true },
      { measure: `webhook ingestion, reporting on (pace ${INGEST_PACE_MS} ms)`, value: `${i.on.rate.toFixed(0)}/s, p99 ${i.on.p99.toFixed(1)} ms (${(ratio * 100).toFixed(1)}% of baseline; ${i.posted.toFixed(0)} statuses posted during it)`, target: '≥ 95% of baseline', ok: ratio >= 0.95 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
