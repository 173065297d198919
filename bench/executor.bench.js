// Per-job overhead: a 1-job, 3-step pipeline through `kiln run` (a fresh `node bin/kiln.js run`
// process, as a user runs it) against raw `docker run --rm` of the same three commands in one
// container, measured alternately in the same run. Target: ratio at most 1.3.
// A second row times the executor alone (DockerExecutor.runJob in this process: no Node start-up,
// no pipeline parsing) against the same baseline, to show where the time goes.
// Two floor rows bound what any executor can reach while running each step as its own
// `docker exec` (the issue's requirement): the same engine calls through the API with no Kiln code
// (create, start, workspace put, 3 × exec create/start/inspect, remove), and that plus the start-up
// of a bare `node` process (`kiln run` is a Node CLI).
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerExecutor } from '../dist/src-main/executor/docker-executor.js';
import { makeTar } from '../dist/src-main/executor/archive.js';

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

const Docker = createRequire(import.meta.url)('dockerode');
const docker = new Docker();
const WORKSPACE_TAR = makeTar([{ name: 'kiln/', mode: 0o1777 }, { name: 'workspace/', mode: 0o777 }, { name: 'workspace/a.txt', mode: 0o644, content: Buffer.from('x') }]);

/** The engine calls the executor cannot avoid, straight through dockerode: no Kiln code. */
async function engineFloor() {
  const c = await docker.createContainer({
    Image: IMAGE, Entrypoint: ['sh'], Cmd: ['-c', 'while :; do sleep 3600; done'], WorkingDir: '/workspace',
    Labels: { 'kiln.bench': String(process.pid) }, HostConfig: { Init: true },
  });
  try {
    await c.start();
    const put = await c.putArchive(WORKSPACE_TAR, { path: '/' });
    put?.resume?.();
    for (const cmd of COMMANDS) {
      const e = await c.exec({ Cmd: ['sh', '-e', '-c', cmd], AttachStdout: true, AttachStderr: true, WorkingDir: '/workspace' });
      const s = await e.start({ hijack: true, stdin: false });
      await new Promise((resolve, reject) => { s.on('data', () => undefined); s.once('end', resolve); s.once('error', reject); });
      if ((await e.inspect()).ExitCode !== 0) throw new Error(`exec '${cmd}' failed`);
    }
  } finally {
    await c.remove({ force: true, v: true });
  }
}

function nodeStart() {
  const r = spawnSync(process.execPath, ['-e', '0']);
  if (r.status !== 0) throw new Error('node -e 0 failed');
}

try {
  // Warm-up: page cache, image layers, the engine's first-container costs.
  kilnRun();
  dockerRun();
  await executorRun();
  await engineFloor();
  nodeStart();
  const kiln = [];
  const exec = [];
  const raw = [];
  const floor = [];
  const boot = [];
  for (let i = 0; i < REPS; i++) {
    raw.push(timed(dockerRun));
    kiln.push(timed(kilnRun));
    exec.push(await timedAsync(executorRun));
    floor.push(await timedAsync(engineFloor));
    boot.push(timed(nodeStart));
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
  const floorPlusBoot = floor.map((f, i) => f + boot[i]);
  console.table([
    row('kiln run: 1 job, 3 steps', kiln),
    row('executor only (runJob in process)', exec),
    row('floor: the same engine calls, no Kiln code', floor),
    row('floor + bare node start-up', floorPlusBoot),
  ]);
  console.log(`${REPS} repetitions each, interleaved. Samples ms: kiln run ${kiln.map(Math.round).join(', ')}; executor ${exec.map(Math.round).join(', ')}; floor ${floor.map(Math.round).join(', ')}; node -e 0 ${boot.map(Math.round).join(', ')}; docker run ${raw.map(Math.round).join(', ')}`);
  console.log(`Kiln's own share: kiln run - floor - node start-up = ${Math.round(median(kiln) - median(floor) - median(boot))} ms; executor - floor = ${Math.round(median(exec) - median(floor))} ms.`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
