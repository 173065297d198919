/**
 * Caches and artifacts through the real Engine, DockerExecutor and HTTP server: a pipeline in a
 * local git repository, run twice. The second run restores the cache and its step skips the work;
 * artifacts are collected, downloaded over HTTP, and passed to the downstream job.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { git, startStorageEngine, type StorageEngine } from './storage-engine.js';

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
    artifacts: { paths: ['dist/**', 'evil'], when: always }
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
  let kiln: StorageEngine;
  let server: RunningServer;

  beforeEach(async () => {
    kiln = await startStorageEngine({ '.kiln.yml': PIPELINE, 'deps.lock': 'lock v1\n' });
    server = await startServer({ engine: kiln.engine, port: 0, artifacts: kiln.artifacts });
  });

  afterEach(async () => {
    await server?.close();
    await kiln?.close();
  });

  it('restores the cache on the second run, and collects, serves and passes the artifacts downstream', async () => {
    const first = await kiln.run();
    const firstBuild = first.logs.build;
    expect(firstBuild).toContain('deps: built');
    expect(firstBuild.some((l) => /^cache miss: deps-[0-9a-f]{64}$/.test(l))).toBe(true);
    expect(firstBuild.some((l) => l.startsWith('cache saved: deps-'))).toBe(true);
    // The symlink is skipped, said in the log; the job still passes.
    expect(firstBuild.some((l) => l.includes('evil skipped: it is a symlink to /etc/passwd'))).toBe(true);
    expect(first.run.status).toBe('passed');

    // Nothing changed: the second run of the same commit restores the cache.
    const second = await kiln.run();
    expect(second.run.status).toBe('passed');
    const build = second.logs.build;
    expect(build.some((l) => l.startsWith('deps: reused '))).toBe(true);
    expect(build.some((l) => /^cache hit: deps-[0-9a-f]{64} \(\d+(\.\d)? (B|KB)\)/.test(l))).toBe(true);
    expect(second.logs.use).toContain(`app of ${second.run.sha}`);
    expect(second.logs.use.some((l) => /artifacts from upstream jobs: 1 file/.test(l))).toBe(true);

    const listed = await kiln.engine.listArtifacts(second.run.id);
    expect(listed.map((a) => a.path)).toEqual(['dist/app.txt']);
    const res = await fetch(`${server.url}/api/artifacts/${listed[0].id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(listed[0].size));
    expect(await res.text()).toBe(`app of ${second.run.sha}\n`);

    const m = await kiln.services.metrics();
    expect(m).toMatchObject({ cacheEntries: 1, cacheHits: 1, cacheMisses: 1, cacheHitRate: 0.5 });
    expect(m.artifactCount).toBeGreaterThanOrEqual(1);

    // A pattern that leaves the workspace is refused when the pipeline is planned, naming the field: no job runs.
    const repoDir = kiln.repoDir;
    writeFileSync(join(repoDir, '.kiln.yml'), PIPELINE.replace("['dist/**', 'evil']", "['dist/**', 'evil', '../outside']"));
    git(repoDir, 'commit', '-q', '-am', 'an artifact path outside the workspace');
    const refused = await kiln.run();
    expect(refused.run.status).toBe('failed');
    expect(refused.run.error).toMatch(/artifacts\.paths: artifact pattern '\.\.\/outside' contains '\.\.': artifact patterns cannot leave the workspace/);
  });
});
