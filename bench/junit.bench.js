// Test reports: a 50 MB JUnit file with 100,000 cases (1% failing with a stack trace, every case with
// some output, as Surefire writes it) taken through the production path — TestReportStore.collect:
// a tar stream of the job's workspace directory (what Docker's getArchive sends, made here by the
// `tar` package from a real directory), matched against the job's `reports` pattern, parsed by the
// streaming JUnit reader case by case, and stored in batched inserts into a fresh SQLite file (files,
// cases, flaky check). Baseline, in the same run: the same tar stream read to its end. Each side runs
// in its own process, so the RSS reported is that process's peak. Both peaks include node-tar's
// read buffers (it reads the file 16 MB at a time: ~48 MB of arrayBuffers at the end); Docker's
// getArchive sends socket-sized chunks instead.
// Targets: parsed and stored in < 2 s, < 200 MB of memory for the process.
// JUNIT_CASES=2000 npm run bench -- junit   runs it small (a check that it works, not a measurement).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create as tarCreate } from 'tar';

const CASES = Number(process.env.JUNIT_CASES ?? 100_000);
const TARGET_MB = 50;
const TARGET_SECONDS = 2;
const TARGET_RSS_MB = 200;
const WORKSPACE = '/workspace';
const PATTERN = 'target/surefire-reports/*.xml';

/** The job container as the report collector sees it: getArchive of a workspace path is a tar of the local copy. */
function containerOver(localWorkspace) {
  return {
    workspace: WORKSPACE,
    exec: async () => ({ exitCode: 0 }),
    putArchive: async () => undefined,
    getArchive: async (path) => {
      const local = join(localWorkspace, posix.relative(WORKSPACE, path));
      return tarCreate({ cwd: dirname(local), portable: true }, [basename(local)]);
    },
  };
}

async function child(mode, workspace, dir) {
  const container = containerOver(workspace);
  let detail = '';
  // Timed from here: the stream to its end (and, measured, the parse and the stores); loading the
  // modules and creating the database are outside the clock, inside the RSS.
  let t = process.hrtime.bigint();
  let cpu = process.cpuUsage();
  if (mode === 'read') {
    let bytes = 0;
    for await (const chunk of await container.getArchive(posix.join(WORKSPACE, 'target'))) bytes += chunk.length;
    detail = `${bytes} bytes of tar`;
  } else {
    const { openDatabase } = await import('../dist/src-main/storage/db.js');
    const { TestReportStore } = await import('../dist/src-main/storage/test-report-store.js');
    const db = openDatabase(join(dir, 'kiln.db'));
    db.prepare(`INSERT INTO runs (id, number, repo, pipeline, event, branch, sha, status, plan_json, created_at)
      VALUES ('r1', 1, 'acme/big', 'ci', 'push', 'main', ?, 'passed', '{"jobs":[]}', 0)`).run('a'.repeat(40));
    db.prepare(`INSERT INTO jobs (id, run_id, plan_id, name, position, status) VALUES ('j1', 'r1', 'test', 'test', 0, 'passed')`).run();
    t = process.hrtime.bigint();
    cpu = process.cpuUsage();
    const said = [];
    const files = await new TestReportStore(db).collect({ container, runId: 'r1', jobId: 'j1', patterns: [PATTERN], log: (line) => said.push(line) });
    const stored = db.prepare('SELECT COUNT(*) AS n FROM test_cases').get().n;
    db.close();
    if (files.length !== 1 || files[0].problem) throw new Error(`collect: ${JSON.stringify(files)}; ${said.join('; ')}`);
    detail = `${files[0].tests} cases (${files[0].failed} failed), ${stored} rows`;
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
    parts.push(`<testsuite name="com.acme.module${s}.ServiceTest" tests="${CASES / 100}" time="12.5">\n`);
    for (let c = 0; c < CASES / 100; c++) {
      const i = s * (CASES / 100) + c;
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

function runChild(mode, workspace, dir) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, workspace, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], process.argv[5]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-junit-bench-'));
  try {
    const workspace = join(dir, 'workspace');
    mkdirSync(join(workspace, 'target', 'surefire-reports'), { recursive: true });
    const file = join(workspace, 'target', 'surefire-reports', 'TEST-big.xml');
    makeReport(file);
    const mb = statSync(file).size / 1e6;
    const rounds = 3;
    const reads = [];
    const parses = [];
    for (let i = 0; i < rounds; i++) {
      reads.push(runChild('read', workspace, dir));
      const round = mkdtempSync(join(dir, 'db-'));
      parses.push(runChild('parse', workspace, round));
      rmSync(round, { recursive: true, force: true });
    }
    const median = (xs, k) => [...xs].sort((a, b) => a[k] - b[k])[Math.floor(xs.length / 2)][k];
    const parseS = median(parses, 'seconds');
    const readS = median(reads, 'seconds');
    const parseRss = Math.max(...parses.map((p) => p.rssMb));
    const readRss = Math.max(...reads.map((p) => p.rssMb));
    console.table([
      {
        benchmark: `JUnit ${mb.toFixed(1)} MB, ${CASES.toLocaleString('en')} cases: workspace tar → parse → store`,
        'measured s': +parseS.toFixed(3),
        'measured CPU s': +median(parses, 'cpuSeconds').toFixed(3),
        'baseline s (tar read)': +readS.toFixed(3),
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
