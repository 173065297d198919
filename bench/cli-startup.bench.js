// `kiln --version` must start in well under half a second. Baseline: a bare `node -e ''` measured in
// the same run, so the ratio shows what Kiln adds on top of Node's own start-up.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const RUNS = 15;

function time(args) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    samples.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(RUNS / 2)], p90: samples[Math.floor(RUNS * 0.9)] };
}

const base = time(['-e', '']);
const kiln = time(['bin/kiln.js', '--version']);
const validate = time(['bin/kiln.js', 'validate', '--help']);
console.table([
  { measure: 'node -e "" (baseline)', median_ms: base.median.toFixed(1), p90_ms: base.p90.toFixed(1), ratio: '1.00', target: '' },
  { measure: 'kiln --version', median_ms: kiln.median.toFixed(1), p90_ms: kiln.p90.toFixed(1), ratio: (kiln.median / base.median).toFixed(2), target: '< 500 ms' },
  { measure: 'kiln validate --help', median_ms: validate.median.toFixed(1), p90_ms: validate.p90.toFixed(1), ratio: (validate.median / base.median).toFixed(2), target: '< 500 ms' },
]);
