// parse + validate + plan of a generated 200-job pipeline (stages, needs, a 3x3x3 matrix) against
// the 50 ms target. Baseline: a bare `yaml.parse` of the same text, measured in the same run, so the
// ratio shows what schema validation, semantic checks and planning add on top of reading YAML.
// A second, heavier line gives every 10th job the 3x3x3 matrix (20 x 27 = 540 instances) for context.
// Both sides use the yaml package as installed, with patches/yaml+*.patch (reads LOG_TOKENS once
// instead of per token, as yaml 3 does; that lookup was a third of the parse).
// The includes lines compare the same 200 jobs split over 10 included files (main file: name, on,
// env, stages and the include list) with the one-file version, both through readIncludes (the
// engine's path; included files come from memory here, as after git's read) + parse + plan.
// Target: the split version within 1.3x of the one-file version.
// Those lines are warm (after warm-up calls). The cold lines measure what a CLI process pays: import
// plus the first call, each in a fresh `node` process, against importing yaml and a first yaml.parse
// (alternating child processes; this is where compiling the JSON schema at run time used to show).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
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

// Child mode (`--cold yaml|kiln`): import, one call, print the times as JSON, exit.
if (process.argv[2] === '--cold') {
  const text = generate(200, 1000);
  const t0 = performance.now();
  if (process.argv[3] === 'yaml') {
    const yaml = await import('yaml');
    const t1 = performance.now();
    yaml.parse(text);
    console.log(JSON.stringify({ importMs: t1 - t0, firstMs: performance.now() - t1 }));
  } else {
    const pipeline = await import('../dist/src-main/pipeline/index.js');
    const t1 = performance.now();
    const parsed = pipeline.parsePipeline(text, 'bench.yml');
    if (!parsed.pipeline || !pipeline.planPipeline(parsed.pipeline, event).plan) throw new Error('the generated pipeline does not plan');
    console.log(JSON.stringify({ importMs: t1 - t0, firstMs: performance.now() - t1 }));
  }
  process.exit(0);
}

const { parse: yamlParse } = await import('yaml');
const { parsePipeline, planPipeline, readIncludes } = await import('../dist/src-main/pipeline/index.js');

/** The one-file text split into a main file and `parts` included files of consecutive jobs. */
function split(text, parts) {
  const lines = text.trimEnd().split('\n');
  const jobsAt = lines.indexOf('jobs:');
  const header = lines.slice(0, jobsAt);
  const blocks = [];
  for (const line of lines.slice(jobsAt + 1)) {
    if (/^  \S/.test(line)) blocks.push([]);
    blocks[blocks.length - 1].push(line);
  }
  const files = new Map();
  const per = Math.ceil(blocks.length / parts);
  for (let i = 0; i < parts; i++) files.set(`ci/part-${i}.yml`, `jobs:\n${blocks.slice(i * per, (i + 1) * per).flat().join('\n')}\n`);
  return { main: `${header.join('\n')}\ninclude: [${[...files.keys()].join(', ')}]\n`, files };
}

async function fullWithIncludes(main, files) {
  const included = await readIncludes(main, (path) => Promise.resolve(files.get(path)));
  const parsed = parsePipeline(main, '.kiln.yml', undefined, included);
  if (!parsed.pipeline) throw new Error(`split pipeline is invalid: ${JSON.stringify(parsed.diagnostics.slice(0, 3))}`);
  const planned = planPipeline(parsed.pipeline, event);
  if (!planned.plan) throw new Error(`planning failed: ${JSON.stringify(planned.diagnostics.slice(0, 3))}`);
  return planned.plan.jobs.length;
}

/** measurePair for async work: alternating, wall and CPU time, medians and p95. */
async function measurePairAsync(baseline, subject) {
  for (let i = 0; i < WARMUP; i++) {
    await baseline();
    await subject();
  }
  const wall = { base: [], kiln: [] };
  const cpu = { base: [], kiln: [] };
  const once = async (fn, key) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall[key].push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu[key].push((c.user + c.system) / 1000);
  };
  for (let i = 0; i < ITERATIONS; i++) {
    await once(baseline, 'base');
    await once(subject, 'kiln');
  }
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] };
  };
  return { base: stats(wall.base), kiln: stats(wall.kiln), baseCpu: stats(cpu.base), kilnCpu: stats(cpu.kiln) };
}

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

{
  const text = generate(200, 1000);
  const { main, files } = split(text, 10);
  const one = new Map();
  const instances = await fullWithIncludes(text, one);
  if ((await fullWithIncludes(main, files)) !== instances) throw new Error('the split pipeline plans differently');
  const m = await measurePairAsync(() => fullWithIncludes(text, one), () => fullWithIncludes(main, files));
  rows.push({
    measure: 'includes: one file (baseline) — 200 jobs, readIncludes+parse+plan',
    median_ms: m.base.median.toFixed(2), p95_ms: m.base.p95.toFixed(2), cpu_median_ms: m.baseCpu.median.toFixed(2), ratio: '1.00', target: '',
  });
  rows.push({
    measure: `includes: the same 200 jobs over ${files.size} included files`,
    median_ms: m.kiln.median.toFixed(2), p95_ms: m.kiln.p95.toFixed(2), cpu_median_ms: m.kilnCpu.median.toFixed(2),
    ratio: (m.kiln.median / m.base.median).toFixed(2), target: '<= 1.30', note: `CPU ratio ${(m.kilnCpu.median / m.baseCpu.median).toFixed(2)}`,
  });
}

function cold() {
  const self = fileURLToPath(import.meta.url);
  const runs = { yaml: [], kiln: [] };
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const kind of ['yaml', 'kiln']) {
      const r = spawnSync(process.execPath, [self, '--cold', kind], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cold ${kind} run failed: ${r.stderr}`);
      runs[kind].push(JSON.parse(r.stdout));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = (xs) => ({ importMs: median(xs.map((x) => x.importMs)), firstMs: median(xs.map((x) => x.firstMs)), totalMs: median(xs.map((x) => x.importMs + x.firstMs)) });
  return { yaml: summary(runs.yaml), kiln: summary(runs.kiln) };
}

const c = cold();
rows.push({
  measure: 'cold: import yaml + first yaml.parse (baseline) — 200 jobs, one matrix',
  median_ms: c.yaml.totalMs.toFixed(2),
  p95_ms: '',
  cpu_median_ms: '',
  ratio: '1.00',
  target: '',
  note: `import ${c.yaml.importMs.toFixed(1)} + first call ${c.yaml.firstMs.toFixed(1)}`,
});
rows.push({
  measure: 'cold: import pipeline + first parse+validate+plan — 200 jobs, one matrix',
  median_ms: c.kiln.totalMs.toFixed(2),
  p95_ms: '',
  cpu_median_ms: '',
  ratio: (c.kiln.totalMs / c.yaml.totalMs).toFixed(2),
  target: '',
  note: `import ${c.kiln.importMs.toFixed(1)} + first call ${c.kiln.firstMs.toFixed(1)}`,
});
console.table(rows);
console.log(
  `${ITERATIONS} iterations each (BENCH_ITERATIONS to change), ${WARMUP} warm-up; cold lines: medians of ${COLD_RUNS} fresh processes each (BENCH_COLD_RUNS); ${(text200Bytes() / 1024).toFixed(0)} KiB of YAML.`,
);

function text200Bytes() {
  return Buffer.byteLength(generate(200, 1000));
}
