import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheStore } from '../../src-main/storage/cache-store.js';
import { startContainer, tempDataDir, type TestContainer } from './storage-container.js';

describe('two jobs writing one cache key at the same time', () => {
  let data: ReturnType<typeof tempDataDir>;
  let boxes: TestContainer[] = [];

  beforeEach(() => {
    data = tempDataDir();
  });
  afterEach(async () => {
    await Promise.all(boxes.map((b) => b.remove()));
    boxes = [];
    data.cleanup();
  });

  it('leaves exactly one complete entry, from one writer, and no stray files', async () => {
    boxes = await Promise.all([startContainer(), startContainer(), startContainer()]);
    const [a, b, reader] = boxes;
    // Different content per writer, big enough that the writes overlap.
    await a.sh('mkdir -p out && for i in $(seq 1 200); do head -c 4096 /dev/zero | tr "\\0" a > out/f$i; done && echo A > out/who');
    await b.sh('mkdir -p out && for i in $(seq 1 200); do head -c 4096 /dev/zero | tr "\\0" b > out/f$i; done && echo B > out/who');
    // Two stores on one database and data directory, as two workers of one engine would share.
    const storeA = new CacheStore(data.db, data.dataDir);
    const storeB = new CacheStore(data.db, data.dataDir);
    const logs: string[] = [];
    const results = await Promise.all([
      storeA.save(a, { repo: 'acme/web', scope: 'main', key: 'k', paths: ['out'], log: (t) => logs.push(`A ${t}`) }),
      storeB.save(b, { repo: 'acme/web', scope: 'main', key: 'k', paths: ['out'], log: (t) => logs.push(`B ${t}`) }),
    ]);
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const entries = storeA.list();
    expect(entries).toHaveLength(1);
    expect(readdirSync(join(data.dataDir, 'caches')).sort()).toEqual([entries[0].file.split('/')[1], 'tmp'].sort());
    expect(readdirSync(join(data.dataDir, 'caches', 'tmp'))).toEqual([]);

    const found = storeA.find('acme/web', ['main'], 'k', []);
    expect(found.kind).toBe('hit');
    if (found.kind !== 'hit') return;
    await storeA.restore(reader, found.entry);
    const who = (await reader.sh('cat out/who')).stdout.trim();
    expect(['A', 'B']).toContain(who);
    // Every file comes from the same writer: the entry is not a mix of both.
    const letters = (await reader.sh('cat out/f* | tr -d "\\n" | fold -w 1 | sort -u | tr -d "\\n"')).stdout;
    expect(letters).toBe(who.toLowerCase());
    expect((await reader.sh('ls out | wc -l')).stdout.trim()).toBe('201');
  });
});
