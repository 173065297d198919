// Secret masking throughput: 50 secrets over a 200 MB log-like stream in 64 KiB chunks, through
// the streaming masker (SecretMasker.createStream), against a plain pass-through copy of the same
// chunks measured in the same run. Target: at least 200 MB/s.
import { randomBytes } from 'node:crypto';
import { SecretMasker } from '../dist/src-main/executor/secret-masker.js';

const TOTAL = 200 * 1000 * 1000;
const CHUNK = 64 * 1024;
const TARGET_MBS = 200;

// Realistic tokens (GitHub-, npm-, AWS-like) plus a few multi-line values.
const secrets = Array.from({ length: 50 }, (_, i) => {
  if (i % 10 === 9) return `-----BEGIN KEY-----\n${randomBytes(48).toString('base64')}\n${randomBytes(48).toString('base64')}\n-----END KEY-----`;
  const prefix = ['ghp_', 'npm_', 'AKIA', 'xoxb-', ''][i % 5];
  return prefix + randomBytes(18).toString('base64').replace(/[+/=]/g, 'x');
});

// Build-log text; every ~4 KiB one secret occurrence, so matches are exercised too.
const lines = [
  '2025-01-01T12:00:00.000Z [info] compiling src/components/Widget.tsx (strict) ... done in 12 ms',
  'npm warn deprecated inflight@1.0.6: This module is not supported, and leaks memory.',
  '  ✓ renders the widget with the default props (3 ms)',
  'Step 4/12 : RUN apt-get update && apt-get install -y curl ca-certificates',
  'GET https://registry.npmjs.org/react 200 OK 143 ms {"accept":"application/json"}',
];
const chunks = [];
let produced = 0;
let k = 0;
while (produced < TOTAL) {
  let text = '';
  while (text.length < CHUNK) {
    text += `${lines[k % lines.length]}\n`;
    if (k % 40 === 0) text += `token=${secrets[k % secrets.length].split('\n')[0]}\n`;
    k++;
  }
  const b = Buffer.from(text).subarray(0, CHUNK);
  chunks.push(b);
  produced += b.length;
}

function passThrough() {
  let n = 0;
  for (const c of chunks) n += Buffer.from(c).length;
  return n;
}

function masked() {
  const masker = new SecretMasker(secrets);
  const stream = masker.createStream();
  let n = 0;
  for (const c of chunks) n += stream.write(c).length;
  n += stream.end().length;
  return n;
}

function timeIt(fn) {
  const t = process.hrtime.bigint();
  const n = fn();
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, n };
}

const rounds = 3;
const base = [];
const mask = [];
let outBytes = 0;
for (let i = 0; i < rounds; i++) {
  global.gc?.();
  base.push(timeIt(passThrough).seconds);
  global.gc?.();
  const m = timeIt(masked);
  mask.push(m.seconds);
  outBytes = m.n;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbs = (s) => produced / 1e6 / s;
const maskMbs = mbs(median(mask));
const baseMbs = mbs(median(base));
console.table([
  {
    benchmark: `mask 50 secrets over ${(produced / 1e6).toFixed(0)} MB`,
    'measured MB/s': Math.round(maskMbs),
    'baseline MB/s (plain copy)': Math.round(baseMbs),
    'ratio (measured/baseline)': +(maskMbs / baseMbs).toFixed(3),
    'target MB/s': `>= ${TARGET_MBS}`,
    met: maskMbs >= TARGET_MBS ? 'yes' : 'NO',
  },
]);
console.log(`masked output: ${(outBytes / 1e6).toFixed(1)} MB (secrets replaced by ***)`);
