// Test reports: a 50 MB JUnit file with 100,000 cases (1% failing with a stack trace, every case with
// some output, as Surefire writes it) streamed through the JUnit reader and stored in a fresh SQLite
// file (files, cases, flaky check) — against a raw read of the same file in the same run. Each side
// runs in its own process, so the RSS reported is that process's peak.
// Targets: parsed and stored in < 2 s, < 200 MB of memory for the process.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CASES = 100_000;
const TARGET_MB = 50;
const TARGET_SECONDS = 2;
const TARGET_RSS_MB = 200;

async function child(mode, file, dir) {
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let detail = '';
  if (mode === 'read') {
    let bytes = 0;
    for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) bytes += chunk.length;
    detail = `${bytes} bytes`;
  } else {
    const { openDatabase } = await import('../dist/src-main/storage/db.js');
    const { junitReader } = await import('../dist/src-main/storage/junit-parser.js');
    const { TestReportStore } = await import('../dist/src-main/storage/test-report-store.js');
    const db = openDatabase(join(dir, 'kiln.db'));
    db.prepare(`INSERT INTO runs (id, number, repo, pipeline, event, branch, sha, status, plan_json, created_at)
      VALUES ('r1', 1, 'acme/big', 'ci', 'push', 'main', ?, 'passed', '{"jobs":[]}', 0)`).run('a'.repeat(40));
    db.prepare(`INSERT INTO jobs (id, run_id, plan_id, name, position, status) VALUES ('j1', 'r1', 'test', 'test', 0, 'passed')`).run();
    const reader = junitReader('target/surefire-reports/TEST-big.xml');
    for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) reader.write(chunk);
    const info = new TestReportStore(db).storeFile('r1', 'j1', 'target/surefire-reports/TEST-big.xml', reader.end());
    const stored = db.prepare('SELECT COUNT(*) AS n FROM test_cases').get().n;
    db.close();
    if (info.problem) throw new Error(info.problem);
    detail = `${info.tests} cases (${info.failed} failed), ${stored} rows`;
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const used = process.cpuUsage(cpu);
  // maxRSS is in KiB: the process's peak resident memory, start-up included. CPU time (user + system)
  // is reported beside the wall clock: on a shared, loaded machine the wall clock mostly measures the queue.
  console.log(JSON.stringify({ seconds, cpuSeconds: (used.user + used.system) / 1e6, rssMb: process.resourceUsage().maxRSS / 1024, detail }));
}

function makeReport(file) {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="big">\n'];
  const pad = 'x'.repeat(310);
  for (let s = 0; s < 100; s++) {
    parts.push(`<testsuite name="com.acme.module${s}.ServiceTest" tests="1000" time="12.5">\n`);
    for (let c = 0; c < CASES / 100; c++) {
      const i = s * 1000 + c;
      const failing = i % 100 === 7;
      const failure = failing
        ? `<failure message="expected:&lt;${i}&gt; but was:&lt;${i + 1}&gt;" type="java.lang.AssertionError">java.lang.AssertionError: expected:&lt;${i}&gt; but was:&lt;${i + 1}&gt;\n${'\tat com.acme.module.ServiceTest.handles(ServiceTest.java:42)\n'.repeat(30)}</failure>`
        : '';
      parts.push(`  <testcase classname="com.acme.module${s}.ServiceTest" name="handles request ${i} with payload variant ${i % 13}" time="0.0${i % 90 + 10}">${failure}<system-out>request ${i}: ok ${pad}</system-out></testcase>\n`);
    }
    parts.push('</testsuite>\n');
  }
  parts.push('</testsuites>\n');
  writeFileSync(file, parts.join(''));
}

function runChild(mode, file, dir) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, file, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], process.argv[5]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-junit-bench-'));
  try {
    const file = join(dir, 'TEST-big.xml');
    makeReport(file);
    const mb = statSync(file).size / 1e6;
    const rounds = 3;
    const reads = [];
    const parses = [];
    for (let i = 0; i < rounds; i++) {
      reads.push(runChild('read', file, dir));
      const round = mkdtempSync(join(dir, 'db-'));
      parses.push(runChild('parse', file, round));
      rmSync(round, { recursive: true, force: true });
    }
    const median = (xs, k) => [...xs].sort((a, b) => a[k] - b[k])[Math.floor(xs.length / 2)][k];
    const parseS = median(parses, 'seconds');
    const readS = median(reads, 'seconds');
    const parseRss = Math.max(...parses.map((p) => p.rssMb));
    const readRss = Math.max(...reads.map((p) => p.rssMb));
    console.table([
      {
        benchmark: `JUnit ${mb.toFixed(1)} MB, ${CASES.toLocaleString('en')} cases: parse + store`,
        'measured s': +parseS.toFixed(3),
        'measured CPU s': +median(parses, 'cpuSeconds').toFixed(3),
        'baseline s (raw read)': +readS.toFixed(3),
        'baseline CPU s': +median(reads, 'cpuSeconds').toFixed(3),
        'ratio (measured/baseline)': +(parseS / readS).toFixed(1),
        'target s': `< ${TARGET_SECONDS}`,
        'peak RSS MB': Math.round(parseRss),
        'baseline RSS MB': Math.round(readRss),
        'target RSS MB': `< ${TARGET_RSS_MB}`,
        met: parseS < TARGET_SECONDS && parseRss < TARGET_RSS_MB && mb >= TARGET_MB ? 'yes' : 'NO',
      },
    ]);
    console.log(`stored: ${parses[0].detail}; baseline read ${reads[0].detail}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
