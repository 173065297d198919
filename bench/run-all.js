#!/usr/bin/env node
// Runs the benchmarks under bench/ (each `*.bench.js` prints its own table of ratios against a
// baseline measured in the same run). `npm run bench` runs all; `npm run bench -- queue` runs those
// whose file name contains "queue".
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(here).filter((f) => f.endsWith('.bench.js') && f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`no benchmark matches '${filter}'`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
