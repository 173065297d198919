import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobContainer } from '../../src-main/executor/job-contract.js';
import { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { CacheStore } from '../../src-main/storage/cache-store.js';
import { RetentionService } from '../../src-main/storage/retention.js';
import { tarStream } from '../../src-main/storage/tar-streams.js';
import { tempDataDir } from './storage-container.js';

const DAY = 24 * 3600 * 1000;
const retention = { artifactsMs: 30 * DAY, cachesMs: 30 * DAY, cacheSizeBytes: 1024 ** 3, workspacesMs: DAY };

/** A container stand-in whose archive of any path is one file of `size` bytes; puts can be held. */
function memoryContainer(size: number, hold?: Promise<void>): JobContainer {
  return {
    workspace: '/workspace',
    exec: async () => ({ exitCode: 0 }),
    getArchive: async (path) => tarStream([{ path: `${path.split('/').pop()}/f`, size, open: async () => Readable.from([Buffer.alloc(size, 1)]) }]),
    putArchive: async (_dir, tar) => {
      await hold;
      tar.resume();
      await new Promise((r) => tar.on('end', r));
    },
  };
}

describe('retention with an injected clock', () => {
  let data: ReturnType<typeof tempDataDir>;
  let clock: number;
  const base = Date.UTC(2030, 0, 1);
  let artifacts: ArtifactStore;
  let caches: CacheStore;

  beforeEach(() => {
    data = tempDataDir();
    clock = base;
    artifacts = new ArtifactStore(data.db, data.dataDir, { now: () => clock, defaultExpireMs: 60 * DAY });
    caches = new CacheStore(data.db, data.dataDir, { now: () => clock });
  });
  afterEach(() => data.cleanup());

  const service = (overrides: Partial<ConstructorParameters<typeof RetentionService>[0]> = {}): RetentionService =>
    new RetentionService({ db: data.db, dataDir: data.dataDir, artifacts, caches, retention, now: () => clock, ...overrides });
  const put = (path: string, content: string, expireInMs?: number) =>
    artifacts.store({ runId: 'r', jobId: 'j', path, source: Readable.from([Buffer.from(content)]), expireInMs });
  const blobCount = (): number => readdirSync(join(data.dataDir, 'blobs')).filter((d) => d !== 'tmp').flatMap((d) => readdirSync(join(data.dataDir, 'blobs', d))).length;

  it('removes exactly the expired artifacts, the caches unused for too long, and blobs nobody references', async () => {
    const a1 = await put('shared-1', 'shared', DAY);
    const a2 = await put('shared-2', 'shared');
    const a3 = await put('alone', 'alone', DAY);
    const a4 = await put('keep', 'keep');
    // A row without expiry falls back to retention.artifactsMs after creation.
    data.db.prepare("INSERT INTO artifacts (id, run_id, job_id, path, size, sha256, created_at, expires_at) VALUES ('a5', 'r', 'j', 'keep-too', 4, ?, ?, NULL)").run(a4.sha256, base);
    await caches.save(memoryContainer(100), { repo: 'acme/web', scope: 'main', key: 'old', paths: ['x'], log: () => {} });
    clock = base + 20 * DAY;
    await caches.save(memoryContainer(100), { repo: 'acme/web', scope: 'main', key: 'recent', paths: ['x'], log: () => {} });
    expect(blobCount()).toBe(3);

    clock = base + 2 * DAY;
    const first = await service().runOnce();
    expect(first).toMatchObject({ artifactsDeleted: 2, blobsDeleted: 1, blobBytesFreed: 5, cachesExpired: 0, cachesEvicted: 0, errors: [] });
    expect(artifacts.list('r').map((a) => a.id).sort()).toEqual([a2.id, a4.id, 'a5'].sort());
    expect(await artifacts.open(a1.id)).toBeUndefined();
    expect(await artifacts.open(a3.id)).toBeUndefined();
    expect(blobCount()).toBe(2);

    clock = base + 31 * DAY;
    const second = await service().runOnce();
    expect(second).toMatchObject({ artifactsDeleted: 1, blobsDeleted: 0, cachesExpired: 1, cachesEvicted: 0, errors: [] });
    expect(artifacts.list('r').map((a) => a.id).sort()).toEqual([a2.id, a4.id].sort());
    expect(caches.list().map((c) => c.key)).toEqual(['recent']);
    expect(readdirSync(join(data.dataDir, 'caches')).sort()).toEqual([caches.list()[0].file.split('/')[1], 'tmp'].sort());

    clock = base + 61 * DAY;
    const third = await service().runOnce();
    expect(third).toMatchObject({ artifactsDeleted: 2, blobsDeleted: 2, cachesExpired: 1 });
    expect(blobCount()).toBe(0);
    expect(caches.list()).toEqual([]);
  });

  it('keeps the total cache size under the cap by evicting the least recently used first', async () => {
    for (const key of ['a', 'b', 'c']) {
      clock += 1000;
      await caches.save(memoryContainer(3000), { repo: 'acme/web', scope: 'main', key, paths: ['x'], log: () => {} });
    }
    const size = caches.list()[0].size;
    clock += 1000;
    const a = caches.find('acme/web', ['main'], 'a', []);
    if (a.kind !== 'hit') throw new Error('expected a hit');
    await caches.restore(memoryContainer(0), a.entry); // 'a' becomes the most recently used
    const report = await service({ retention: { ...retention, cacheSizeBytes: size * 2 } }).runOnce();
    expect(report.cachesEvicted).toBe(1);
    expect(caches.list().map((e) => e.key).sort()).toEqual(['a', 'c']);
  });

  it('never removes a cache entry while it is being restored, nor a blob a writer holds', async () => {
    await caches.save(memoryContainer(3000), { repo: 'acme/web', scope: 'main', key: 'busy', paths: ['x'], log: () => {} });
    let release = (): void => {};
    const hold = new Promise<void>((r) => (release = r));
    const found = caches.find('acme/web', ['main'], 'busy', []);
    if (found.kind !== 'hit') throw new Error('expected a hit');
    const restoring = caches.restore(memoryContainer(0, hold), found.entry);
    const blob = await artifacts.blobs.write(Readable.from([Buffer.from('in flight')])); // pinned, no row yet

    const during = await service({ retention: { ...retention, cacheSizeBytes: 0 } }).runOnce();
    expect(during).toMatchObject({ cachesEvicted: 0, blobsDeleted: 0 });
    expect(existsSync(artifacts.blobs.path(blob.sha256))).toBe(true);
    release();
    await restoring;
    artifacts.blobs.unpin(blob.sha256);

    const after = await service({ retention: { ...retention, cacheSizeBytes: 0 } }).runOnce();
    expect(after).toMatchObject({ cachesEvicted: 1, blobsDeleted: 1 });
    expect(existsSync(artifacts.blobs.path(blob.sha256))).toBe(false);
  });

  it('collects workspace directories that earlier versions left, once older than the limit', async () => {
    const root = join(data.dataDir, 'workspaces');
    for (const name of ['old', 'fresh']) mkdirSync(join(root, name, 'sub'), { recursive: true });
    const at = (t: number) => new Date(t);
    utimesSync(join(root, 'old'), at(base), at(base));
    utimesSync(join(root, 'fresh'), at(base + 1.5 * DAY), at(base + 1.5 * DAY));
    clock = base + 2 * DAY;
    const report = await service().runOnce();
    expect(report.workspacesRemoved).toBe(1);
    expect(readdirSync(root)).toEqual(['fresh']);
  });

  it('collects git mirrors of repositories no longer configured once unused for the limit, never a configured one', async () => {
    const mirrors = join(data.dataDir, 'mirrors');
    const at = (t: number) => new Date(t);
    const mirror = (name: string, usedAt: number) => {
      const dir = join(mirrors, name);
      execFileSync('git', ['init', '--bare', '--quiet', dir]);
      writeFileSync(join(dir, 'FETCH_HEAD'), '');
      utimesSync(join(dir, 'FETCH_HEAD'), at(usedAt), at(usedAt));
      utimesSync(dir, at(usedAt), at(usedAt));
      return dir;
    };
    const configured = mirror('configured.git', base);
    mirror('removed-long-ago.git', base);
    mirror('removed-recently.git', base + 1.5 * DAY);
    clock = base + 2 * DAY;
    const report = await service({ mirrorsInUse: () => [configured] }).runOnce();
    expect(report.mirrorsRemoved).toBe(1);
    expect(readdirSync(mirrors).sort()).toEqual(['configured.git', 'removed-recently.git']);
  });

  it('runs at start and on its interval until stopped, never two passes at once', async () => {
    const reports: number[] = [];
    const svc = service({ onReport: (r) => reports.push(r.startedAt) });
    const [p1, p2] = [svc.runOnce(), svc.runOnce()];
    expect(p1).toBe(p2);
    await p1;
    svc.start(50);
    await new Promise((r) => setTimeout(r, 180));
    svc.stop();
    const seen = reports.length;
    expect(seen).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 120));
    expect(reports.length).toBe(seen);
  });
});
