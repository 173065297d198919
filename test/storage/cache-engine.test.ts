/**
 * Cache scopes and concurrent writers through the real Engine and DockerExecutor.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startStorageEngine, type StorageEngine } from './storage-engine.js';

const PIPELINE = `name: cache-e2e
on:
  push: { branches: ['**'] }
  pull_request: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    env: { KILN_SLOW: "2" }
    matrix: { copy: [a, b] }
    cache: { key: shared-v1, paths: [deps] }
    steps:
      - name: deps
        run: |
          if [ -f deps/who ]; then echo "restored $(cat deps/who)"; exit 0; fi
          mkdir -p deps
          for i in $(seq 1 300); do echo "$KILN_EVENT $i" > deps/f$i; done
          echo "$KILN_EVENT" > deps/who
          sleep "\${KILN_SLOW:-0}"
          echo built
`;

describe('caches through the real engine', () => {
  let kiln: StorageEngine;

  beforeEach(async () => {
    kiln = await startStorageEngine({ '.kiln.yml': PIPELINE }, { concurrency: { jobs: 2, perRepository: 2 } });
  });
  afterEach(async () => kiln?.close());

  const outputs = (logs: Record<string, string[]>): string[] =>
    Object.values(logs).map((lines) => lines.find((l) => l === 'built' || l.startsWith('restored ')) ?? '(none)').sort();

  it('two concurrent jobs writing one key leave one valid entry that later jobs restore', async () => {
    const first = await kiln.run();
    expect(first.run.status).toBe('passed');
    expect(first.run.jobs).toHaveLength(2);
    // Both instances missed and built (the step is slow enough for them to overlap), and both
    // tried to save the key; exactly one save won.
    expect(outputs(first.logs)).toEqual(['built', 'built']);
    const saveLines = Object.values(first.logs).flat().filter((l) => l.startsWith('cache saved:') || l.includes('saved by another job first') || l.includes('already exists in scope'));
    expect(saveLines.filter((l) => l.startsWith('cache saved:'))).toHaveLength(1);
    expect(saveLines).toHaveLength(2);
    const entries = kiln.caches.list();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ scope: 'main', key: 'shared-v1' });
    const cacheDir = join(kiln.engine.dataDir, 'caches');
    expect(readdirSync(cacheDir).sort()).toEqual([entries[0].file.split('/')[1], 'tmp'].sort());
    expect(readdirSync(join(cacheDir, 'tmp'))).toEqual([]);

    const second = await kiln.run();
    expect(second.run.status).toBe('passed');
    expect(outputs(second.logs)).toEqual(['restored manual', 'restored manual']);
  });

  it('a pull request cannot poison the default branch cache, even with a head branch called main', async () => {
    const pr = await kiln.run({ kind: 'pull_request', branch: 'main', baseBranch: 'main', prNumber: 5, ref: 'refs/pull/5/head' });
    expect(pr.run.status).toBe('passed');
    expect(kiln.caches.list().map((e) => e.scope)).toEqual(['pr/5']);

    const push = await kiln.run({ kind: 'push', branch: 'main', ref: 'refs/heads/main' });
    expect(push.run.status).toBe('passed');
    expect(outputs(push.logs)).not.toContain('restored pull_request');
    expect(Object.values(push.logs).every((lines) => lines.includes('cache miss: shared-v1'))).toBe(true);
    expect(kiln.caches.list().map((e) => e.scope).sort()).toEqual(['main', 'pr/5']);

    // Another pull request reads the default branch's entry, not PR 5's.
    const other = await kiln.run({ kind: 'pull_request', branch: 'feature', baseBranch: 'main', prNumber: 6, ref: 'refs/pull/6/head' });
    expect(outputs(other.logs)).toEqual(['restored push', 'restored push']);
  });
});
