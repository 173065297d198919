// parse + validate + plan of a generated 200-job pipeline (stages, needs, a 3x3x3 matrix) against
// the 50 ms target. Baseline: a bare `yaml.parse` of the same text, measured in the same run, so the
// ratio shows what schema validation, semantic checks and planning add on top of reading YAML.
// A second, heavier line gives every 10th job the 3x3x3 matrix (20 x 27 = 540 instances) for context.
import { performance } from 'node:perf_hooks';
import { parse as yamlParse } from 'yaml';
import { parsePipeline, planPipeline } from '../dist/src-main/pipeline/index.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);
const WARMUP = 5;
const TARGET_MS = 50;

function generate(jobCount, matrixEvery) {
  const stages = ['build', 'test', 'package', 'deploy'];
  const lines = [
    'name: bench',
    "on: { push: { branches: [main, 'release/*'] }, pull_request: { branches: [main] }, manual: true }",
    'env: { REGISTRY: registry.local, NODE_ENV: test }',
    `stages: [${stages.join(', ')}]`,
    'jobs:',
  ];
  for (let i = 0; i < jobCount; i++) {
    const stage = stages[Math.floor((i * stages.length) / jobCount)];
    lines.push(`  job-${i}:`, `    stage: ${stage}`, '    image: "node:${{ matrix.node || \'20\' }}"');
    if (i % 7 === 3 && i > 10) lines.push(`    needs: [job-${i - 5}, job-${i - 9}]`);
    if (i % 5 === 0) lines.push("    if: branch == 'main' || event == 'pull_request'");
    lines.push('    timeout: 15m', `    env: { JOB_INDEX: "${i}", TARGET: "\${REGISTRY}/app-${i}:\${KILN_SHA}" }`);
    if (i % matrixEvery === 0) {
      lines.push('    matrix:', "      node: ['18', '20', '22']", '      os: [alpine, bookworm, trixie]', '      arch: [amd64, arm64, riscv64]');
      lines.push("      exclude: [{ node: '18', arch: riscv64 }]", "      include: [{ node: '22', os: trixie, arch: amd64, experimental: true }]");
    }
    if (i % 10 === 1) lines.push('    services:', '      db: { image: "postgres:16", env: { POSTGRES_PASSWORD: pw }, ports: ["5432"] }');
    if (i % 4 === 0) lines.push('    cache: { key: "npm-${{ hashFiles(\'package-lock.json\') }}", restore-keys: [npm-], paths: [node_modules] }');
    lines.push(
      '    steps:',
      '      - name: Install',
      '        run: npm ci',
      '      - name: Test',
      '        run: |',
      '          echo "testing ${{ branch }} on ${{ matrix.os }}"',
      '          npm test -- --shard=$JOB_INDEX',
      "        if: success() && event != 'tag'",
    );
  }
  return `${lines.join('\n')}\n`;
}

const event = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'abc1234', ref: 'refs/heads/main' };

// Baseline and Kiln are measured alternately in every iteration, so that both see the same machine
// load; besides wall time, CPU time (process.cpuUsage) is reported: it is far less disturbed by
// other processes competing for the cores.
function measurePair(baseline, subject) {
  for (let i = 0; i < WARMUP; i++) {
    baseline();
    subject();
  }
  const wall = { base: [], kiln: [] };
  const cpu = { base: [], kiln: [] };
  const once = (fn, key) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall[key].push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu[key].push((c.user + c.system) / 1000);
  };
  for (let i = 0; i < ITERATIONS; i++) {
    once(baseline, 'base');
    once(subject, 'kiln');
  }
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] };
  };
  return { base: stats(wall.base), kiln: stats(wall.kiln), baseCpu: stats(cpu.base), kilnCpu: stats(cpu.kiln) };
}

function full(text) {
  const parsed = parsePipeline(text, 'bench.yml');
  if (!parsed.pipeline) throw new Error(`generated pipeline is invalid: ${JSON.stringify(parsed.diagnostics.slice(0, 3))}`);
  const planned = planPipeline(parsed.pipeline, event);
  if (!planned.plan) throw new Error(`planning failed: ${JSON.stringify(planned.diagnostics.slice(0, 3))}`);
  return planned.plan.jobs.length;
}

const rows = [];
for (const [label, matrixEvery, target] of [
  ['200 jobs, one 3x3x3 matrix', 1000, `< ${TARGET_MS} ms`],
  ['200 jobs, every 10th a 3x3x3 matrix', 10, ''],
]) {
  // Job 0 carries the matrix in the first case (0 % 1000 === 0).
  const text = generate(200, matrixEvery);
  const instances = full(text);
  const m = measurePair(() => yamlParse(text), () => full(text));
  rows.push({
    measure: `yaml.parse only (baseline) — ${label}`,
    median_ms: m.base.median.toFixed(2),
    p95_ms: m.base.p95.toFixed(2),
    cpu_median_ms: m.baseCpu.median.toFixed(2),
    ratio: '1.00',
    target: '',
  });
  rows.push({
    measure: `parse+validate+plan — ${label} (${instances} planned jobs)`,
    median_ms: m.kiln.median.toFixed(2),
    p95_ms: m.kiln.p95.toFixed(2),
    cpu_median_ms: m.kilnCpu.median.toFixed(2),
    ratio: (m.kiln.median / m.base.median).toFixed(2),
    target,
  });
}
console.table(rows);
console.log(`${ITERATIONS} iterations each (BENCH_ITERATIONS to change), ${WARMUP} warm-up; ${(text200Bytes() / 1024).toFixed(0)} KiB of YAML.`);

function text200Bytes() {
  return Buffer.byteLength(generate(200, 1000));
}
