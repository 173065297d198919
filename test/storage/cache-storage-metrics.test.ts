import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobContainer } from '../../src-main/core/job-contract.js';
import { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { CacheStore } from '../../src-main/storage/cache-store.js';
import { storageMetrics } from '../../src-main/storage/storage-metrics.js';
import { tarStream } from '../../src-main/storage/tar-streams.js';
import { tempDataDir } from './storage-container.js';

describe('storage metrics', () => {
  let data: ReturnType<typeof tempDataDir>;
  beforeEach(() => {
    data = tempDataDir();
  });
  afterEach(() => data.cleanup());

  it('starts at zero with a zero hit rate and the real disk size', async () => {
    const m = await storageMetrics({ db: data.db, dataDir: data.dataDir });
    expect(m).toMatchObject({ artifactBytes: 0, artifactCount: 0, cacheBytes: 0, cacheEntries: 0, cacheHits: 0, cacheMisses: 0, cacheHitRate: 0, workspaceBytes: 0, logBytes: 0 });
    expect(m.diskTotalBytes).toBeGreaterThan(0);
    expect(m.diskFreeBytes).toBeGreaterThan(0);
    expect(m.diskFreeBytes).toBeLessThanOrEqual(m.diskTotalBytes);
  });

  it('reports artifact and cache totals, the hit rate, and workspace and log bytes on disk', async () => {
    const artifacts = new ArtifactStore(data.db, data.dataDir);
    await artifacts.store({ runId: 'r', jobId: 'j', path: 'a', source: Readable.from([Buffer.alloc(300)]) });
    await artifacts.store({ runId: 'r', jobId: 'j', path: 'b', source: Readable.from([Buffer.alloc(700)]) });
    const caches = new CacheStore(data.db, data.dataDir);
    const box: JobContainer = {
      workspace: '/workspace', exec: async () => ({ exitCode: 0 }), putArchive: async () => {},
      getArchive: async () => tarStream([{ path: 'x/f', size: 10, open: async () => Readable.from([Buffer.alloc(10)]) }]),
    };
    const saved = await caches.save(box, { repo: 'acme/web', scope: 'main', key: 'k', paths: ['x'], log: () => {} });
    caches.recordOutcome('hit');
    caches.recordOutcome('partial');
    caches.recordOutcome('miss');
    caches.recordOutcome('hit');
    mkdirSync(join(data.dataDir, 'workspaces', 'job-1', 'deep'), { recursive: true });
    writeFileSync(join(data.dataDir, 'workspaces', 'job-1', 'deep', 'f'), Buffer.alloc(1234));
    symlinkSync('/etc/passwd', join(data.dataDir, 'workspaces', 'job-1', 'link'));
    mkdirSync(join(data.dataDir, 'logs'), { recursive: true });
    writeFileSync(join(data.dataDir, 'logs', 'job-1.log'), Buffer.alloc(321));

    const m = await storageMetrics({ db: data.db, dataDir: data.dataDir });
    expect(m).toMatchObject({
      artifactBytes: 1000, artifactCount: 2, cacheBytes: saved?.size, cacheEntries: 1, cacheHits: 3, cacheMisses: 1, cacheHitRate: 0.75,
      workspaceBytes: 1234, logBytes: 321,
    });
    expect(saved?.size).toBeGreaterThan(10);
  });
});
