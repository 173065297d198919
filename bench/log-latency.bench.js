import { createParser } from 'eventsource-parser';
// Live log latency: a line printed by a step in a Docker container → the real Engine (executor log
// capture, log store, event batching) → SSE on GET /api/jobs/:id/log/stream → a client over HTTP.
// Each line carries the container's clock (same kernel clock as this process) in nanoseconds.
// Baseline, same run: the same script in `docker run` with its stdout piped straight to this process.
// Target: p99 < 100 ms (requirement: < 2 s).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Engine } from '../dist/src-main/engine/engine.js';
import { defaultConfig } from '../dist/src-main/config.js';
import { startServer } from '../dist/src-main/http/app.js';

const LINES = Number(process.env.BENCH_LINES ?? 200);
const IMAGE = 'kiln-test/busybox:1';
// busybox `date` has no %N: awk reads the microsecond clock from `adjtimex` and prints each line itself.
const SCRIPT = `sleep 1; awk 'BEGIN { for (i = 0; i < ${LINES}; i++) { while (("adjtimex" | getline l) > 0) { if (l ~ /tv_sec/) { split(l, a, ":"); s = a[2] + 0 } if (l ~ /tv_usec/) { split(l, b, ":"); u = b[2] + 0 } } close("adjtimex"); printf "LAT %d%06d000 %d\\n", s, u, i; fflush(); system("sleep 0.01") } }'`;

const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const latencyMs = (text, receivedNs) => {
  const m = /^LAT (\d+) /.exec(text);
  return m ? Number(receivedNs - BigInt(m[1])) / 1e6 : undefined;
};
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const pct = (p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { n: s.length, p50: pct(50), p99: pct(99), max: s[s.length - 1] };
};

try {
  execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
} catch {
  console.error(`log-latency: the image ${IMAGE} is missing; run the integration tests once (their global setup builds it)`);
  process.exit(0);
}

// Baseline: docker run, stdout piped to us.
async function baseline() {
  const latencies = [];
  const child = spawn('docker', ['run', '--rm', '--label', 'kiln.bench=log-latency', IMAGE, 'sh', '-c', SCRIPT]);
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    const at = nowNs();
    buffer += chunk.toString('utf8');
    let idx;
    while ((idx = buffer.indexOf('\n')) >= 0) {
      const ms = latencyMs(buffer.slice(0, idx), at);
      buffer = buffer.slice(idx + 1);
      if (ms !== undefined) latencies.push(ms);
    }
  });
  await new Promise((resolve) => child.on('close', resolve));
  return stats(latencies);
}

// Kiln: engine + HTTP server + SSE client.
async function kiln() {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-latency-'));
  const repoDir = join(dir, 'repo');
  const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
  execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
  writeFileSync(join(repoDir, '.kiln.yml'), `name: latency\non:\n  manual: true\njobs:\n  print:\n    image: ${IMAGE}\n    steps:\n      - name: Print\n        run: ${JSON.stringify(SCRIPT)}\n`);
  execFileSync('git', ['add', '.kiln.yml'], { cwd: repoDir, env: gitEnv });
  execFileSync('git', ['commit', '-q', '-m', 'latency'], { cwd: repoDir, env: gitEnv });
  const config = {
    ...defaultConfig(),
    server: { host: '127.0.0.1', port: 0 },
    repositories: [{ name: 'acme/latency', url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} }],
  };
  const engine = await Engine.start({ config, dataDir: join(dir, 'data'), onError: () => {} });
  const server = await startServer({ engine, port: 0 });
  try {
    const res = await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: 'acme/latency', branch: 'main' }) });
    if (res.status !== 201) throw new Error(`trigger failed: ${res.status} ${await res.text()}`);
    const { runIds } = await res.json();
    const run = await (await fetch(`${server.url}/api/runs/${runIds[0]}`)).json();
    const jobId = run.jobs[0].id;
    const latencies = [];
    const sse = await fetch(`${server.url}/api/jobs/${jobId}/log/stream`, { headers: { accept: 'text/event-stream' } });
    const decoder = new TextDecoder();
    let ended = false;
    let at = 0n;
    const parser = createParser({
      onEvent: (message) => {
        if (message.event === 'end') { ended = true; return; }
        if (message.event) return;
        const ms = latencyMs(JSON.parse(message.data).text, at);
        if (ms !== undefined) latencies.push(ms);
      },
    });
    for await (const chunk of sse.body) {
      at = nowNs();
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (ended) break;
    }
    const final = await (await fetch(`${server.url}/api/runs/${runIds[0]}`)).json();
    return { ...stats(latencies), status: final.status };
  } finally {
    await server.close();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = await baseline();
const k = await kiln();
const round = (x) => Math.round(x * 100) / 100;
console.table([
  { metric: 'p50 latency (ms)', value: round(k.p50), baseline: round(base.p50), ratio: round(k.p50 / base.p50), target: '' },
  { metric: 'p99 latency (ms)', value: round(k.p99), baseline: round(base.p99), ratio: round(k.p99 / base.p99), target: '< 100' },
  { metric: 'max latency (ms)', value: round(k.max), baseline: round(base.max), ratio: round(k.max / base.max), target: '< 2000' },
]);
console.log(`${k.n}/${LINES} lines over SSE (run ${k.status}), ${base.n}/${LINES} lines from docker run; target ${k.p99 < 100 ? 'MET' : 'NOT MET'}`);
