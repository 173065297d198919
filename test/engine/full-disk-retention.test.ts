/**
 * Low space frees space by itself: retention runs at once — expired artifacts and caches first,
 * then the least recently used caches, only as many as the shortfall needs — and the jobs that
 * waited start without anyone doing anything. A data directory of 32 MB holds an expired artifact,
 * an expired cache and two fresh ones (4 MB each, random so nothing compresses); Kiln stops with a
 * run queued, the disk is filled to 1 MB free while it is stopped, and Kiln starts again needing 11 MB.
 *
 * Why this proves the order: after the expired artifact and cache go (8 MB), 2 MB are still
 * missing; one fresh cache covers it, and the most recently used one stays. Evicting caches
 * without expiring the artifact first would have to take both fresh caches.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { pipeline, startOnSmallDisk, waitFor, type SmallDiskEngine } from './full-disk-fixture.js';

const MB = 1024 * 1024;
const DAY = 86_400_000;
let k: SmallDiskEngine | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await k?.close();
  k = undefined;
});

const cached = (key: string, extra = ''): string => pipeline(`  make:
    image: ${TEST_IMAGE}
    cache: { key: ${key}, paths: [deps] }
${extra}    steps:
      - name: Make
        run: mkdir -p deps && head -c 4194304 /dev/urandom > deps/blob && head -c 4194304 /dev/urandom > out.bin
`);

function tableKeys(dir: string): { caches: string[]; artifacts: number } {
  const db = new Database(join(dir, 'kiln.db'), { readonly: true });
  try {
    return {
      caches: (db.prepare('SELECT key FROM caches ORDER BY key').all() as { key: string }[]).map((r) => r.key),
      artifacts: (db.prepare('SELECT COUNT(*) AS n FROM artifacts').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

describe('when Kiln finds too little free space', () => {
  it('expires artifacts and caches first, then evicts the least recently used caches only as far as needed, and the waiting run starts by itself', async () => {
    // The engine's clock is moved two days on between the old cache and the fresh ones.
    let offset = 0;
    k = await startOnSmallDisk({
      size: '32m',
      disk: { minFreeBytes: MB, reserveBytes: 0, checkIntervalMs: 200 },
      retention: { cachesMs: DAY },
      options: { clock: () => Date.now() + offset },
    });
    const passed = async (yaml: string): Promise<void> => {
      const run = await k!.finished(await k!.push(yaml));
      expect(run.status, run.jobs[0]?.error).toBe('passed');
    };
    await passed(cached('old', '    artifacts: { paths: [out.bin], expire-in: 1s }\n'));
    offset = 2 * DAY;
    await passed(cached('lru-a'));
    await passed(cached('lru-b'));
    expect(tableKeys(k.disk.dir)).toEqual({ caches: ['lru-a', 'lru-b', 'old'], artifacts: 1 });

    // A run that was going when Kiln stopped is queued again.
    const waiting = await k.push(pipeline(`  later:
    image: ${TEST_IMAGE}
    steps:
      - name: Later
        run: echo ran after the space came back; sleep 2
`));
    await waitFor(async () => (await k!.engine.getRun(waiting)).status === 'running', 'the run to start');
    await k.stop();
    k.disk.fill('someone-else', MB);

    const said: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void said.push(String(line)));
    const e = await k.restart({ minFreeBytes: 11 * MB, reserveBytes: 0, checkIntervalMs: 200 });
    const run = await k.finished(waiting);
    expect(run.status).toBe('passed');
    expect(said.find((l) => l.startsWith('kiln: low disk space:'))).toMatch(/^kiln: low disk space: \d+(\.\d)? (KB|MB) free, Kiln needs 11\.0 MB; no new job starts until there is room/);
    expect(said.indexOf('kiln: disk space is back; queued jobs start again')).toBeGreaterThan(said.findIndex((l) => l.startsWith('kiln: low disk space:')));
    // The expired artifact and cache, and the least recently used fresh cache; the newest stays.
    expect(tableKeys(k.disk.dir)).toEqual({ caches: ['lru-b'], artifacts: 0 });
    const health = await e.health();
    expect(health.disk?.ok).toBe(true);
    expect(health.disk?.freeBytes).toBeGreaterThanOrEqual(11 * MB);
    await k.healthy();
  });
});
