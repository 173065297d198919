#!/usr/bin/env node
// Cache benchmarks, on the real Docker engine, through the compiled code in dist/ (npm run build).
//
// 1. Restore of a node_modules-like cache (30,000 small files, 300 MB) into a fresh job container
//    by CacheStore.restore, versus the baseline measured in the same run: the same archive file
//    streamed from the host into `docker exec -i <container> tar -x`. Target: ratio <= 1.5.
// 2. A job whose step builds an expensive directory, run twice with createStorageHooks: the first
//    run misses and saves, the second restores and its step skips the work (it checks a marker).
//    Target: the first run takes at least 3x as long as the second.
//
// Sizes can be reduced for a quick look: CACHE_BENCH_FILES=3000 CACHE_BENCH_FILE_BYTES=10000.
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DockerJobContainer } from '../dist/src-main/executor/containers.js';
import { ArtifactStore } from '../dist/src-main/storage/artifact-store.js';
import { CacheStore } from '../dist/src-main/storage/cache-store.js';
import { openDatabase } from '../dist/src-main/storage/db.js';
import { createStorageHooks } from '../dist/src-main/engine/job-storage-hooks.js';
import { tarStream } from '../dist/src-main/storage/tar-streams.js';

const FILES = Number(process.env.CACHE_BENCH_FILES ?? 30_000);
const FILE_BYTES = Number(process.env.CACHE_BENCH_FILE_BYTES ?? 10_000);
const ROUNDS = 3;
const docker = new Docker();
const TEST_IMAGE = 'kiln-test/busybox:1';

/** The same FROM-scratch busybox image the tests build (test/helpers/test-image.ts); no registry needed. */
function ensureTestImage() {
  try {
    execFileSync('docker', ['image', 'inspect', TEST_IMAGE], { stdio: 'ignore' });
    return;
  } catch {
    // build it below
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-image-'));
  try {
    copyFileSync('/bin/busybox', join(dir, 'busybox'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /etc /workspace /root && chmod 1777 /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
`);
    execFileSync('docker', ['build', '-q', '-t', TEST_IMAGE, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const LABEL = { 'kiln.bench': 'cache' };

async function startBox() {
  const c = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sleep', '3600'], WorkingDir: '/workspace', Labels: LABEL, HostConfig: { Init: true } });
  await c.start();
  return { c, job: new DockerJobContainer(c), remove: () => c.remove({ force: true }).catch(() => undefined) };
}

/** `docker exec -i <c> tar -x -C /workspace < file`, through the API, as a plain extraction would. */
async function plainTarExtract(container, file) {
  const exec = await container.exec({ Cmd: ['tar', '-x', '-C', '/workspace'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: true });
  const ended = new Promise((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  stream.resume();
  const source = createReadStream(file);
  source.on('data', (chunk) => {
    if (!stream.write(chunk)) {
      source.pause();
      stream.once('drain', () => source.resume());
    }
  });
  await new Promise((resolve, reject) => {
    source.on('end', resolve);
    source.on('error', reject);
  });
  stream.end();
  await ended;
  const info = await exec.inspect();
  if (info.ExitCode !== 0) throw new Error(`tar -x exited with ${info.ExitCode}`);
}

async function countFiles(job) {
  let out = '';
  await job.exec(['sh', '-c', 'find /workspace/node_modules -type f | wc -l'], { onOutput: (_s, b) => (out += b.toString()) });
  return Number(out.trim());
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function restoreBench(dataDir, db) {
  // A node_modules-like tree: FILES files in nested package directories.
  const sources = [];
  for (let i = 0; i < FILES; i++) {
    const content = Buffer.alloc(FILE_BYTES, i % 251);
    sources.push({ path: `node_modules/pkg-${Math.floor(i / 100)}/lib/sub-${i % 7}/file-${i}.js`, size: FILE_BYTES, open: async () => Readable.from([content]) });
  }
  const seed = await startBox();
  const caches = new CacheStore(db, dataDir);
  try {
    await seed.job.putArchive('/workspace', tarStream(sources));
    const entry = await caches.save(seed.job, { repo: 'bench/repo', scope: 'main', key: 'nm', paths: ['node_modules'], log: () => {} });
    if (!entry) throw new Error('cache was not saved');
    const archive = join(dataDir, entry.file, '0.tar');
    const restoreMs = [];
    const plainMs = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the order so page-cache warmth does not favour one side.
      for (const which of r % 2 === 0 ? ['restore', 'plain'] : ['plain', 'restore']) {
        const box = await startBox();
        try {
          const t0 = performance.now();
          if (which === 'restore') await caches.restore(box.job, entry);
          else await plainTarExtract(box.c, archive);
          const ms = performance.now() - t0;
          const n = await countFiles(box.job);
          if (n !== FILES) throw new Error(`${which}: expected ${FILES} files, found ${n}`);
          (which === 'restore' ? restoreMs : plainMs).push(ms);
        } finally {
          await box.remove();
        }
      }
    }
    return { sizeMB: entry.size / 1e6, restore: median(restoreMs), plain: median(plainMs) };
  } finally {
    await seed.remove();
  }
}

const EXPENSIVE_STEP = `
if [ -f deps/.done ]; then echo "deps restored from cache"; exit 0; fi
mkdir -p deps
for i in $(seq 1 600); do head -c 500000 /dev/urandom | sha256sum > deps/f$i; done
touch deps/.done
`;

async function pipelineBench(dataDir, db) {
  const caches = new CacheStore(db, dataDir);
  const artifacts = new ArtifactStore(db, dataDir);
  const job = {
    id: 'build', key: 'build', name: 'build', matrix: {}, image: TEST_IMAGE, needs: [], skipped: false, env: {}, secrets: [], timeoutMs: 600_000,
    services: [], steps: [], cache: { key: "deps-${{ hashFiles('deps.lock') }}", restoreKeys: ['deps-'], paths: ['deps'] },
  };
  const event = { kind: 'push', repo: 'bench/repo', branch: 'main', sha: 'a'.repeat(40) };
  async function runOnce(n) {
    const t0 = performance.now();
    const box = await startBox();
    const log = [];
    try {
      await box.job.exec(['sh', '-c', 'echo "lock v1" > deps.lock']);
      const hooks = createStorageHooks({ artifacts, caches, runId: `run-${n}`, jobId: `job-${n}`, job, event, repo: 'bench/repo', defaultBranch: 'main', upstreamJobIds: [] });
      await hooks.beforeSteps(box.job, (t) => log.push(t));
      const { exitCode } = await box.job.exec(['sh', '-ec', EXPENSIVE_STEP]);
      if (exitCode !== 0) throw new Error(`step failed with ${exitCode}`);
      await hooks.afterSteps(box.job, 'passed', (t) => log.push(t));
    } finally {
      await box.remove();
    }
    return { ms: performance.now() - t0, log };
  }
  const first = await runOnce(1);
  const second = await runOnce(2);
  if (!second.log.some((l) => l.startsWith('cache hit:'))) throw new Error(`second run did not hit the cache: ${second.log.join(' | ')}`);
  return { first: first.ms, second: second.ms };
}

async function main() {
  ensureTestImage();
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-cache-bench-'));
  const db = openDatabase(join(dataDir, 'kiln.db'));
  try {
    const r = await restoreBench(dataDir, db);
    const p = await pipelineBench(dataDir, db);
    console.table([
      {
        benchmark: `cache restore, ${FILES} files, ${r.sizeMB.toFixed(0)} MB`,
        measured: `${(r.restore / 1000).toFixed(2)} s`,
        baseline: `${(r.plain / 1000).toFixed(2)} s (docker exec tar -x)`,
        ratio: +(r.restore / r.plain).toFixed(2),
        target: '<= 1.5',
        ok: r.restore / r.plain <= 1.5,
      },
      {
        benchmark: 'pipeline with an expensive cached directory',
        measured: `${(p.second / 1000).toFixed(2)} s (2nd run, cache hit)`,
        baseline: `${(p.first / 1000).toFixed(2)} s (1st run, miss + save)`,
        ratio: +(p.first / p.second).toFixed(2),
        target: '>= 3 (speed-up)',
        ok: p.first / p.second >= 3,
      },
    ]);
  } finally {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
    const left = await docker.listContainers({ all: true, filters: { label: ['kiln.bench=cache'] } });
    for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
