// Per-job overhead: a 1-job, 3-step pipeline through `kiln run` (a fresh `node bin/kiln.js run`
// process, as a user runs it) against raw `docker run --rm` of the same three commands in one
// container, measured alternately in the same run. Target: ratio at most 1.3.
// A second row times the executor alone (DockerExecutor.runJob in this process: no Node start-up,
// no pipeline parsing) against the same baseline, to show where the time goes.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerExecutor } from '../dist/src-main/executor/docker-executor.js';

const IMAGE = 'kiln-test/busybox:1';
const REPS = Number(process.env.KILN_BENCH_REPS ?? 7);
const TARGET = 1.3;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// The same image the tests build (FROM scratch + Debian's static busybox).
function ensureImage() {
  try {
    execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
    return;
  } catch {
    // build it
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-image-'));
  try {
    copyFileSync('/bin/busybox', join(dir, 'busybox'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN mkdir -p /tmp /etc /workspace /root && chmod 1777 /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n`,
    );
    execFileSync('docker', ['build', '-q', '-t', IMAGE, dir], { stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const COMMANDS = ['echo one', 'echo two', 'echo three'];

function timed(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function timedAsync(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

ensureImage();
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-run-'));
writeFileSync(
  join(work, '.kiln.yml'),
  `name: bench\njobs:\n  build:\n    image: ${IMAGE}\n    steps:\n${COMMANDS.map((c) => `      - run: ${c}\n`).join('')}`,
);

function kilnRun() {
  const r = spawnSync(process.execPath, [join(root, 'bin/kiln.js'), 'run', '--repo', work], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(work, 'cache') } });
  if (r.status !== 0) throw new Error(`kiln run failed (${r.status}): ${r.stdout}${r.stderr}`);
}

function dockerRun() {
  const r = spawnSync('docker', ['run', '--rm', IMAGE, 'sh', '-c', COMMANDS.join('; ')], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.includes('three')) throw new Error(`docker run failed: ${r.stderr}`);
}

const executor = new DockerExecutor({ instanceId: `bench-${process.pid}`, mirrorsDir: join(work, 'mirrors') });
const plannedJob = {
  id: 'build', key: 'build', name: 'build', matrix: {}, image: IMAGE, needs: [], skipped: false, env: {}, secrets: [], timeoutMs: 60_000, services: [],
  steps: COMMANDS.map((run, index) => ({ index, name: run, run, env: {}, if: '', continueOnError: false })),
};
async function executorRun() {
  const r = await executor.runJob({
    runId: 'bench', jobId: 'build', job: plannedJob, event: { kind: 'push', repo: 'bench', sha: '0'.repeat(40), branch: 'main' },
    source: { kind: 'dir', path: work }, secrets: {}, signal: new AbortController().signal, onLog: () => undefined,
  });
  if (r.status !== 'passed') throw new Error(`job ${r.status}: ${r.error}`);
}

try {
  // Warm-up: page cache, image layers, the engine's first-container costs.
  kilnRun();
  dockerRun();
  await executorRun();
  const kiln = [];
  const exec = [];
  const raw = [];
  for (let i = 0; i < REPS; i++) {
    raw.push(timed(dockerRun));
    kiln.push(timed(kilnRun));
    exec.push(await timedAsync(executorRun));
  }
  const base = median(raw);
  const row = (name, xs) => ({
    benchmark: name,
    'measured ms (median)': Math.round(median(xs)),
    'baseline ms (docker run --rm, median)': Math.round(base),
    ratio: +(median(xs) / base).toFixed(2),
    target: `<= ${TARGET}`,
    met: median(xs) / base <= TARGET ? 'yes' : 'NO',
  });
  console.table([row('kiln run: 1 job, 3 steps', kiln), row('executor only (runJob in process)', exec)]);
  console.log(`${REPS} repetitions each; kiln run samples ms: ${kiln.map(Math.round).join(', ')}; docker run: ${raw.map(Math.round).join(', ')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
