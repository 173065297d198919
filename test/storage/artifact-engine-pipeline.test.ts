/**
 * Caches and artifacts through the real Engine, DockerExecutor and HTTP server: a pipeline in a
 * local git repository, run twice. The second run restores the cache and its step skips the work;
 * artifacts are collected, downloaded over HTTP, and passed to the downstream job.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import { Engine } from '../../src-main/engine.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { CacheStore } from '../../src-main/storage/cache-store.js';
import { storageHooksFor } from '../../src-main/storage/job-storage-hooks.js';
import { storageMetrics } from '../../src-main/storage/storage-metrics.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { testConfig } from '../http/helpers/stub-engine.js';

const REPO = 'acme/storage-e2e';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd, encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

const PIPELINE = `name: storage
on:
  push: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    cache:
      key: "deps-\${{ hashFiles('deps.lock') }}"
      restore-keys: [deps-]
      paths: [deps]
    artifacts: { paths: ['dist/**', 'evil', '../outside'], when: always }
    steps:
      - name: deps
        run: |
          if [ -f deps/.marker ]; then echo "deps: reused $(cat deps/.marker)"; else echo "deps: built"; mkdir -p deps; echo "$KILN_RUN_ID" > deps/.marker; fi
      - name: build
        run: |
          mkdir -p dist && echo "app of $KILN_SHA" > dist/app.txt && ln -s /etc/passwd evil
  use:
    image: ${TEST_IMAGE}
    needs: [build]
    steps:
      - name: use
        run: cat dist/app.txt
`;

describe('caches and artifacts in a real pipeline run', () => {
  let dir: string;
  let engine: Engine;
  let server: RunningServer;
  let artifacts: ArtifactStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-storage-e2e-'));
    const repoDir = join(dir, 'repo');
    execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
    writeFileSync(join(repoDir, '.kiln.yml'), PIPELINE);
    writeFileSync(join(repoDir, 'deps.lock'), 'lock v1\n');
    git(repoDir, 'add', '.');
    git(repoDir, 'commit', '-q', '-m', 'pipeline');
    // The stores need the engine's database, which exists only once the engine has started.
    const wiring: { hooks?: ReturnType<typeof storageHooksFor> } = {};
    engine = await Engine.start({
      config: testConfig([{ name: REPO, url: repoDir, defaultBranch: 'main' }]),
      dataDir: join(dir, 'data'),
      hooksFor: (run, job) => wiring.hooks?.(run, job),
    });
    artifacts = new ArtifactStore(engine.db, engine.dataDir);
    wiring.hooks = storageHooksFor({ db: engine.db, artifacts, caches: new CacheStore(engine.db, engine.dataDir) });
    server = await startServer({ engine, port: 0, artifacts });
  });

  afterEach(async () => {
    await server?.close();
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runToEnd(): Promise<{ run: RunDetail; logs: Record<string, string[]> }> {
    const { runIds } = await engine.triggerRun({ repo: REPO, branch: 'main' });
    let run = await engine.getRun(runIds[0]);
    for (let i = 0; i < 900 && !['passed', 'failed', 'cancelled', 'timed_out'].includes(run.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      run = await engine.getRun(runIds[0]);
    }
    const logs: Record<string, string[]> = {};
    for (const job of run.jobs) logs[job.name] = (await engine.getLog(job.id, 0, 5000)).lines.map((l) => l.text);
    return { run, logs };
  }

  it('restores the cache on the second run, and collects, serves and passes the artifacts downstream', async () => {
    const first = await runToEnd();
    const firstBuild = first.logs.build;
    expect(firstBuild).toContain('deps: built');
    expect(firstBuild.some((l) => /^cache miss: deps-[0-9a-f]{64}$/.test(l))).toBe(true);
    expect(firstBuild.some((l) => l.startsWith('cache saved: deps-'))).toBe(true);
    // The symlink and the ../ pattern are refused, and that fails the build job clearly.
    expect(firstBuild.some((l) => l.includes('evil skipped: it is a symlink to /etc/passwd'))).toBe(true);
    expect(firstBuild.some((l) => l.includes("artifact pattern '../outside' refused"))).toBe(true);
    expect(first.run.jobs.find((j) => j.name === 'build')?.status).toBe('failed');

    // Fix the pipeline: only valid patterns from now on.
    const repoDir = join(dir, 'repo');
    writeFileSync(join(repoDir, '.kiln.yml'), PIPELINE.replace("['dist/**', 'evil', '../outside']", "['dist/**', 'evil']"));
    git(repoDir, 'commit', '-q', '-am', 'fix artifacts');

    const second = await runToEnd();
    expect(second.run.status).toBe('passed');
    const build = second.logs.build;
    expect(build.some((l) => l.startsWith('deps: reused '))).toBe(true);
    expect(build.some((l) => /^cache hit: deps-[0-9a-f]{64} \(\d+(\.\d)? (B|KB)\)/.test(l))).toBe(true);
    expect(second.logs.use).toContain(`app of ${second.run.sha}`);
    expect(second.logs.use.some((l) => /artifacts from upstream jobs: 1 file/.test(l))).toBe(true);

    const listed = await engine.listArtifacts(second.run.id);
    expect(listed.map((a) => a.path)).toEqual(['dist/app.txt']);
    const res = await fetch(`${server.url}/api/artifacts/${listed[0].id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(listed[0].size));
    expect(await res.text()).toBe(`app of ${second.run.sha}\n`);

    const m = await storageMetrics({ db: engine.db, dataDir: engine.dataDir });
    expect(m).toMatchObject({ cacheEntries: 1, cacheHits: 1, cacheMisses: 1, cacheHitRate: 0.5 });
    expect(m.artifactCount).toBeGreaterThanOrEqual(1);
  });
});
