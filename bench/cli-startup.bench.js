// `kiln --version` must start in well under half a second, and so should the commands people run by
// hand or per job: `kiln validate FILE` and `kiln plan FILE` (real parse, schema check and plan of
// the product example pipeline), and `kiln run --help` (the whole run import graph — executor, Docker
// client — without touching Docker). Baseline: a bare `node -e ''` in the same run, so the ratio shows
// what Kiln adds on top of Node's own start-up. Commands are measured round-robin, one spawn each
// per round, so that every command sees the same machine load.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const EXAMPLE = 'src-main/pipeline/testdata/product-example.kiln.yml';

const COMMANDS = [
  { measure: 'node -e "" (baseline)', args: ['-e', ''], target: '' },
  { measure: 'kiln --version', args: ['bin/kiln.js', '--version'], target: '< 500 ms' },
  { measure: 'kiln validate --help', args: ['bin/kiln.js', 'validate', '--help'], target: '< 500 ms' },
  { measure: `kiln validate (3-job example)`, args: ['bin/kiln.js', 'validate', EXAMPLE], target: '< 500 ms' },
  { measure: `kiln plan (3-job example)`, args: ['bin/kiln.js', 'plan', EXAMPLE], target: '< 500 ms' },
  { measure: 'kiln run --help (run import graph)', args: ['bin/kiln.js', 'run', '--help'], target: '< 500 ms' },
];

const samples = COMMANDS.map(() => []);
for (let round = 0; round < RUNS; round++) {
  COMMANDS.forEach((c, i) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, c.args, { stdio: 'ignore' });
    samples[i].push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${c.args.join(' ')} exited ${r.status}`);
  });
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] };
};
const all = samples.map(stats);
console.table(
  COMMANDS.map((c, i) => ({
    measure: c.measure,
    median_ms: all[i].median.toFixed(1),
    p90_ms: all[i].p90.toFixed(1),
    ratio: (all[i].median / all[0].median).toFixed(2),
    target: c.target,
  })),
);
console.log(`${RUNS} spawns per command, round-robin (BENCH_RUNS to change).`);
