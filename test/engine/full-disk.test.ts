/**
 * A full disk never takes Kiln down: a real engine whose data directory is a tmpfs of a few
 * megabytes, real jobs in Docker that fill it — through a log, an artifact, a cache and a mirror
 * fetch. After each: the engine answers, PRAGMA integrity_check is ok, no container is left, and
 * what was stored before is still readable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src-main/http/app.js';
import { removeFill } from '../helpers/small-disk.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { git } from './engine-fixture.js';
import { pipeline, startOnSmallDisk, waitFor, type SmallDiskEngine } from './full-disk-fixture.js';

let k: SmallDiskEngine | undefined;
const DOCKER_ROOT = execFileSync('docker', ['info', '--format', '{{.DockerRootDir}}'], { encoding: 'utf8' }).trim();

afterEach(async () => {
  await k?.close();
  k = undefined;
});

/** A 12 MB data directory (the fixture's 512 KiB reserve gives SQLite room once a write found the disk full). */
async function start(minFreeMiB = 1): Promise<SmallDiskEngine> {
  k = await startOnSmallDisk({
    size: '12m',
    disk: { minFreeBytes: minFreeMiB * 1024 * 1024 },
    options: { disk: { dockerCooldownMs: 2_000 } },
  });
  return k;
}

/** The fixture's checks (the engine answers, integrity_check ok, no container left), and Docker's own disk reported beside Kiln's. */
async function assertHealthy(s: SmallDiskEngine): Promise<void> {
  const health = await s.engine.health();
  expect(health.disk?.dockerStorage).toMatchObject({ path: DOCKER_ROOT, freeBytes: expect.any(Number) });
  expect(health.disk?.dockerStorage?.freeBytes).toBeGreaterThan(0);
  await s.healthy();
}

const SMALL = pipeline(`  hello:
    image: ${TEST_IMAGE}
    steps:
      - name: Greet
        run: echo hello from a roomy disk
`);

describe('when a job prints until the disk is full', () => {
  it("fails it with 'disk full: the log of step … was cut at …', holds the next run with a reason, and starts it once logs are deleted through the API", async () => {
    const s = await start(3);
    const e = s.engine;
    const earlier = await s.push(SMALL);
    expect((await s.finished(earlier)).status).toBe('passed');

    const spam = await s.push(pipeline(`  spam:
    image: ${TEST_IMAGE}
    steps:
      - name: Build
        run: yes 'a line of build output that goes on and on until the disk is full' | head -n 400000
`));
    const run = await s.finished(spam);
    expect(run.status).toBe('failed');
    expect(run.jobs[0].error).toMatch(/^disk full: the log of step 'Build' was cut at \d+\.\d (KB|MB)$/);
    const health = await e.health();
    expect(health.ok).toBe(true);
    expect(health.disk).toMatchObject({ ok: false, message: expect.stringMatching(/^waiting: .* free, Kiln needs 3\.0 MB$/) });

    // Queued while low: it waits, visibly.
    const next = await s.push(SMALL);
    await new Promise((r) => setTimeout(r, 1500));
    const waiting = (await e.listRuns({ limit: 5 })).items.find((r) => r.id === next);
    expect(waiting).toMatchObject({ status: 'queued', waiting: expect.stringMatching(/^waiting: .* free, Kiln needs 3\.0 MB$/) });

    // Everything stored before is readable: runs, and the log up to its cut.
    expect((await e.getRun(earlier)).status).toBe('passed');
    const earlierJob = (await e.getRun(earlier)).jobs[0].id;
    expect((await e.getLog(earlierJob, 0, 100)).lines.map((l) => l.text)).toContain('hello from a roomy disk');
    const cutLog = await e.getLog(run.jobs[0].id, 0, 50);
    expect(cutLog.lines.map((l) => l.text)).toContain('a line of build output that goes on and on until the disk is full');
    await assertHealthy(s);

    const freed = await e.freeSpace({ logsOlderThanDays: 0 });
    expect(freed.logsDeleted).toBe(2);
    expect(freed.bytesFreed).toBeGreaterThan(5 * 1024 * 1024);
    // A deleted log reads as empty and complete; its run stays.
    expect(await e.getLog(run.jobs[0].id, 0, 10)).toMatchObject({ lines: [], total: 0, complete: true });
    expect((await s.finished(next)).status).toBe('passed');
    expect((await e.health()).disk?.ok).toBe(true);
    expect((await e.getRun(spam)).jobs[0].error).toMatch(/^disk full/);
    await assertHealthy(s);
  });
});

describe('when an artifact, a cache or a mirror fetch does not fit', () => {
  it("fails the job whose artifact does not fit with 'disk full: the artifacts were not saved' and leaves no partial blob", async () => {
    const s = await start();
    const id = await s.push(pipeline(`  upload:
    image: ${TEST_IMAGE}
    artifacts: { paths: [big.bin] }
    steps:
      - name: Make
        run: dd if=/dev/urandom of=big.bin bs=1M count=16
`));
    const run = await s.finished(id);
    expect(run.status).toBe('failed');
    expect(run.jobs[0].error).toMatch(/disk full: the artifacts were not saved/);
    expect(readdirSync(join(s.disk.dir, 'blobs', 'tmp'))).toEqual([]);
    const after = await s.push(SMALL);
    expect((await s.finished(after)).status).toBe('passed');
    await assertHealthy(s);
  });

  it("passes the job whose cache does not fit, with the warning 'disk full: the cache was not saved'", async () => {
    const s = await start();
    const e = s.engine;
    const id = await s.push(pipeline(`  cached:
    image: ${TEST_IMAGE}
    cache: { key: big-cache, paths: [deps] }
    steps:
      - name: Install
        run: mkdir -p deps && dd if=/dev/urandom of=deps/blob bs=1M count=16
`));
    const run = await s.finished(id);
    expect(run.status).toBe('passed');
    const log = await e.getLog(run.jobs[0].id, 0, 200);
    expect(log.lines.map((l) => l.text).join('\n')).toMatch(/warning: disk full: the cache was not saved/);
    expect(readdirSync(join(s.disk.dir, 'caches', 'tmp'))).toEqual([]);
    await assertHealthy(s);
  });

  it("fails the run whose mirror fetch does not fit with 'disk full: the mirror fetch … failed' and removes the half-received pack", async () => {
    const s = await start();
    const e = s.engine;
    const earlier = await s.push(SMALL);
    expect((await s.finished(earlier)).status).toBe('passed');
    // 16 MB that git cannot compress, in a 12 MB filesystem.
    writeFileSync(join(s.repo.dir, 'noise.bin'), randomBytes(16 * 1024 * 1024));
    git(s.repo.dir, 'add', 'noise.bin');
    const sha = s.repo.commit(SMALL, 'add noise');
    const outcome = await e.handleEvent({ kind: 'push', repo: s.repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    const run = outcome.runIds.length ? await s.finished(outcome.runIds[0]) : undefined;
    const reason = run ? run.error : outcome.reason;
    expect(reason, JSON.stringify({ outcome, run })).toMatch(/disk full: the mirror fetch of .* failed/);
    const mirrors = join(s.disk.dir, 'mirrors');
    // A `<mirror>.lock` directory beside a mirror is another fetch in progress (a catch-up poll):
    // the half-received pack is judged once no fetch holds the mirror.
    await waitFor(() => !readdirSync(mirrors).some((m) => m.endsWith('.lock')), 'no fetch to hold the mirror', 60_000);
    const packs = readdirSync(mirrors).filter((m) => m.endsWith('.git')).flatMap((m) => readdirSync(join(mirrors, m, 'objects', 'pack')));
    expect(packs.filter((p) => p.startsWith('tmp_'))).toEqual([]);
    expect((await e.getRun(earlier)).status).toBe('passed');
    await assertHealthy(s);
  });
});

describe("when a step fills a disk of its own in its container", () => {
  it("fails the step as its own failure, with a hint that Docker's storage has room, and holds no job back", async () => {
    const s = await start();
    const e = s.engine;
    // /dev/shm is the container's own 64 MB tmpfs: a real ENOSPC inside the container, on a disk
    // that is not Docker's storage (which has room).
    const id = await s.push(pipeline(`  fill:
    image: ${TEST_IMAGE}
    steps:
      - name: Fill
        run: dd if=/dev/zero of=/dev/shm/fill bs=1M count=100
`));
    const run = await s.finished(id);
    expect(run.status).toBe('failed');
    expect(run.jobs[0].error).toMatch(/^step 'Fill' failed with exit code 1 \(No space left on device inside the container; Docker's storage has \d+(\.\d)? (MB|GB|TB) free\)$/);
    const log = (await e.getLog(run.jobs[0].id, 0, 200)).lines.map((l) => l.text);
    expect(log).toContainEqual(expect.stringMatching(/^No space left on device inside the container, but Docker's storage has .* free: the step filled a disk of its own/));
    expect((await e.health()).disk).toMatchObject({ ok: true });
    expect((await e.health()).disk?.docker).toBeUndefined();
    const next = await s.push(SMALL);
    expect((await e.listRuns({ limit: 5 })).items.find((r) => r.id === next)?.waiting).toBeUndefined();
    expect((await s.finished(next)).status).toBe('passed');
    await assertHealthy(s);
  });
});

describe('when a settings save finds the disk full', () => {
  it('answers 503 with a disk-full reason over HTTP, leaves no partial file, and saves once there is room', async () => {
    const s = await start();
    const e = s.engine;
    const server = await startServer({ engine: e, port: 0, artifacts: e.artifacts });
    try {
      const save = (): Promise<Response> => fetch(`${server.url}/api/settings/server`, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: { jobs: 2 } }),
      });
      // The reserve is written in the background at start; a fill racing it would see the room of
      // its half-written file come back later. Wait until it is whole.
      await waitFor(() => existsSync(join(s.disk.dir, 'disk-reserve')) && !existsSync(join(s.disk.dir, 'disk-reserve.tmp')), 'the reserve to be written', 10_000);
      // Full to the last byte. The reserve stays: only a write that found the disk full gives it up.
      const filler = s.disk.fill('someone-else');
      await waitFor(() => e.health().then((h) => h.disk?.ok === false), 'the guard to see the disk low', 5_000);
      await e.disk.settled();
      const more = s.disk.fill('someone-else-too');
      const refused = await save();
      expect(refused.status).toBe(503);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^disk full: the change was not saved \(ENOSPC.*\); free space \(Storage page\) and try again$/) });
      expect(readdirSync(s.disk.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      expect((await e.getSettings()).concurrency.jobs).toBe(1);
      removeFill(filler);
      removeFill(more);
      expect((await save()).status).toBe(200);
      expect((await e.getSettings()).concurrency.jobs).toBe(2);
      await assertHealthy(s);
    } finally {
      await server.close();
    }
  });
});
