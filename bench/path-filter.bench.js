#!/usr/bin/env node
// Changed files of a large push, as path filters see them: a 100,000-file repository (1,000
// directories of 100 files) and a push changing 10,000 of them (every 10th file, in every
// directory). Target: the changed files computed in < 300 ms.
//
// Measured: git/changed-files.ts's changedFilesOf (a `git diff-tree` on the worker thread, the
// checks around it, splitting the names) with the cap raised to 100,000 so the whole list is
// computed; then the same with the default cap of 3,000 (→ "everything changed"); and matching the
// 10,000 files against a `paths` filter. Baseline, in the same run: the bare
// `git diff-tree -r -z --name-only` of the same two commits spawned from this thread — what no
// implementation can beat. Alternating, so both see the same machine load.
// The repository is written directly as the host mirror (git fast-import, then repacked into one
// pack, as a fetch leaves it). The load average is printed: on a shared machine, wall times follow it.
// Sizes: PATH_BENCH_FILES=100000 PATH_BENCH_CHANGED=10000 PATH_BENCH_ITERATIONS=15.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { changedFilesOf } from '../dist/src-main/git/changed-files.js';
import { mirrorPathOf } from '../dist/src-main/git/checkout.js';
import { closeGitObjectReaders } from '../dist/src-main/git/git-object-reader.js';
import { pathFilterAllows } from '../dist/src-main/pipeline/index.js';

const FILES = Number(process.env.PATH_BENCH_FILES ?? 100_000);
const CHANGED = Number(process.env.PATH_BENCH_CHANGED ?? 10_000);
const ITERATIONS = Number(process.env.PATH_BENCH_ITERATIONS ?? 15);
const TARGET_MS = 300;
const PER_DIR = 100;

const dir = mkdtempSync(join(tmpdir(), 'kiln-path-bench-'));
const source = { url: join(dir, 'remote') };
const mirrors = join(dir, 'mirrors');
const mirror = mirrorPathOf(source, mirrors);

function fastImport() {
  const every = Math.max(1, Math.floor(FILES / CHANGED));
  const path = (i) => `pkg${String(Math.floor(i / PER_DIR)).padStart(4, '0')}/src/file${i % PER_DIR}.ts`;
  const lines = [];
  const commit = (mark, parent, message, changes) => {
    lines.push(`commit refs/heads/main`, `mark :${mark}`, 'committer Ada <ada@example.com> 1700000000 +0000', `data ${message.length}`, message);
    if (parent) lines.push(`from :${parent}`);
    lines.push(...changes, '');
  };
  lines.push('blob', 'mark :1', 'data 8', 'export;\n', 'blob', 'mark :2', 'data 9', 'changed;\n');
  const all = [];
  for (let i = 0; i < FILES; i++) all.push(`M 100644 :1 ${path(i)}`);
  commit(10, undefined, 'base', all);
  const changed = [];
  for (let i = 0; i < FILES && changed.length < CHANGED; i += every) changed.push(`M 100644 :2 ${path(i)}`);
  commit(11, 10, 'big push', changed);
  execFileSync('git', ['init', '-q', '--bare', mirror]);
  execFileSync('git', ['-C', mirror, 'fast-import', '--quiet'], { input: `${lines.join('\n')}\n` });
  // A fetched mirror is one pack; fast-import leaves its objects less compactly stored.
  execFileSync('git', ['-C', mirror, 'repack', '-adq']);
  const before = execFileSync('git', ['-C', mirror, 'rev-parse', 'main~1'], { encoding: 'utf8' }).trim();
  const after = execFileSync('git', ['-C', mirror, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
  return { before, after };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

try {
  const t0 = performance.now();
  const { before, after } = fastImport();
  const setupMs = performance.now() - t0;
  const event = { kind: 'push', repo: 'acme/big', branch: 'main', ref: 'refs/heads/main', before, sha: after };
  const full = { defaultBranch: 'main', maxFiles: FILES };
  const first = await changedFilesOf(source, mirrors, event, full);
  if (first.kind !== 'files' || first.files.length !== CHANGED) throw new Error(`expected ${CHANGED} changed files, got ${JSON.stringify(first).slice(0, 200)}`);
  const capped = await changedFilesOf(source, mirrors, event, { defaultBranch: 'main' });
  if (capped.kind !== 'everything') throw new Error('the default cap should count 10,000 files as everything changed');

  const times = { base: [], kiln: [], capped: [], filter: [] };
  for (let i = 0; i < ITERATIONS; i++) {
    let t = performance.now();
    const r = spawnSync('git', ['-C', mirror, 'diff-tree', '-r', '-z', '--name-only', '--no-renames', '--no-commit-id', before, after], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(r.stderr);
    times.base.push(performance.now() - t);
    t = performance.now();
    const c = await changedFilesOf(source, mirrors, event, full);
    times.kiln.push(performance.now() - t);
    t = performance.now();
    await changedFilesOf(source, mirrors, event, { defaultBranch: 'main' });
    times.capped.push(performance.now() - t);
    t = performance.now();
    pathFilterAllows({ paths: ['docs/**', '**/*.md', '!pkg0001/**'] }, c); // no file matches: every file is tried against every pattern
    times.filter.push(performance.now() - t);
  }
  const base = median(times.base);
  const row = (measure, xs, target = '') => ({ measure, median_ms: median(xs).toFixed(1), p95_ms: p95(xs).toFixed(1), ratio: (median(xs) / base).toFixed(2), target });
  console.table([
    row(`git diff-tree alone, spawned here (baseline) — ${CHANGED} of ${FILES} files`, times.base),
    row(`changedFilesOf: push of ${CHANGED} files (the whole list)`, times.kiln, `< ${TARGET_MS} ms`),
    row('changedFilesOf with the default cap 3,000 (→ everything changed)', times.capped),
    row(`paths filter (3 patterns) over the ${CHANGED} files, none matching`, times.filter),
  ]);
  console.log(`${ITERATIONS} iterations, alternating; repository of ${FILES} files written with git fast-import in ${(setupMs / 1000).toFixed(1)} s; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs.`);
  const ok = median(times.kiln) < TARGET_MS;
  console.log(ok ? `within target (< ${TARGET_MS} ms)` : `OVER TARGET: ${median(times.kiln).toFixed(1)} ms >= ${TARGET_MS} ms`);
} finally {
  closeGitObjectReaders(mirrors);
  rmSync(dir, { recursive: true, force: true });
}
