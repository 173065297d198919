/**
 * `kiln serve` on a data directory that fills up: a real child process, killed with SIGKILL at the
 * moment a job's log runs the disk out of space, then started again on the full disk. It must start
 * (the dashboard and API answer, health says why nothing runs), let the person free space through
 * the API, and then start the run that waited. Afterwards: integrity_check ok, no container left.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Health } from '../../shared/api/engine-api.js';
import type { LogChunk } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ListeningServe } from '../helpers/serve-child.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, dockerLeftovers, type TestRepo } from '../engine/engine-fixture.js';

let root: string;
let disk: SmallDisk;
let repo: TestRepo;
let config: string;
const served: ListeningServe[] = [];

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-fullserve-'));
  disk = mountSmallDisk(join(root, 'data'), '12m');
  repo = createRepo(root, 'acme/web');
  config = join(root, 'kiln.config.yml');
  writeFileSync(config, [
    'server: { host: 127.0.0.1, port: 7070 }',
    'concurrency: { jobs: 1, per-repository: 1 }',
    'disk: { min-free: 3MiB, min-free-percent: 0, reserve: 512KiB, check-interval: 200 }',
    'repositories:',
    `  - { name: acme/web, url: ${JSON.stringify(repo.dir)} }`,
    '',
  ].join('\n'));
});
afterEach(() => {
  for (const s of served.splice(0)) s.kill();
  disk.unmount();
  rmSync(root, { recursive: true, force: true });
});

async function serve(): Promise<ListeningServe> {
  // Waiting for the line, not for a time: the deadline only bounds a start that never comes. On a
  // loaded 2-core machine the start on the full disk took 23 s (and once more than 30 s).
  const s = await startServe({ args: ['--config', config, '--data', disk.dir, '--port', '0'], timeoutMs: 90_000 });
  served.push(s);
  expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return s;
}

async function api<T>(s: ListeningServe, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function trigger(s: ListeningServe): Promise<string> {
  const r = await api<{ runIds: string[] }>(s, '/api/runs', { repo: 'acme/web', branch: 'main' });
  expect(r.status).toBe(201);
  return r.body.runIds[0];
}

const run = async (s: ListeningServe, id: string): Promise<RunDetail> => (await api<RunDetail>(s, `/api/runs/${id}`)).body;

/**
 * The test's own budget: the sum of the bounds of its waits (two starts, the first run, the fill,
 * the reaping, the retried run, the run that waited), so that a wait that runs out reports what it
 * waited for, with its diagnostics, instead of the runner's bare timeout. Loaded, the steps before
 * the retried run alone took 90 s, more than the integration project's 120 s default.
 */
const BUDGET_MS = 2 * 90_000 + 60_000 + 120_000 + 30_000 + 120_000 + 60_000;

const pipeline = (step: string, extra = ''): string => `name: fill
on: { push: { branches: [main] } }
jobs:
  build:
    image: ${TEST_IMAGE}${extra}
    steps:
      - name: Build
        run: ${step}
`;

describe('when kiln serve is killed at the moment its disk fills, and started again on the full disk', () => {
  it('starts, reports the low disk, frees space through the API, and then starts the run that waited', async () => {
    const first = await serve();
    // 4 MB of artifacts: what the person will delete to make room.
    repo.commit(pipeline('echo hello from a roomy disk && dd if=/dev/urandom of=a.bin bs=1M count=4', '\n    artifacts: { paths: [a.bin] }'));
    const earlier = await trigger(first);
    await waitFor(async () => (await run(first, earlier)).status === 'passed', 'the first run to pass');

    // Fast at first, then in small bursts: the last megabytes fill over many seconds, so the kill
    // below lands while the job runs whatever the machine's load (at full speed the log met the
    // disk's end, and the job was over, before a loaded test saw the disk nearly full).
    const line = "yes 'a line of build output that goes on and on until the disk is full'";
    repo.commit(pipeline(`${line} | head -n 40000; while true; do ${line} | head -n 500; sleep 0.5; done`));
    const spam = await trigger(first);
    repo.commit(pipeline('echo the run that waited'));
    const waited = await trigger(first);

    // SIGKILL as the disk runs out (the last 1.5 MB: once the log meets the disk's end, the job is
    // cut and over within a few ms, and this test wants it killed while it runs): no clean shutdown,
    // the job's container left running.
    await waitFor(async () => disk.free() < 1536 * 1024, 'the disk to fill', 120_000, 10);
    first.kill();
    await first.exited;
    expect(first.err()).not.toMatch(/\n\s+at |Uncaught|ENOSPC/);
    // Whatever room was left goes to another program: the disk is full when Kiln starts again.
    disk.fill('someone-else');
    expect(disk.free()).toBeLessThan(8192);

    const second = await serve();
    const health = (await api<Health>(second, '/api/health')).body;
    expect(health.disk).toMatchObject({ ok: false, message: expect.stringMatching(/^waiting: .* free, Kiln needs 3\.0 MB$/) });
    expect(second.err()).toMatch(/kiln: low disk space: .* free, Kiln needs 3\.0 MB; no new job starts until there is room/);
    // Everything stored before is readable.
    expect((await run(second, earlier)).status).toBe('passed');
    const earlierJob = (await run(second, earlier)).jobs[0].id;
    const log = (await api<LogChunk>(second, `/api/jobs/${earlierJob}/log?offset=0&limit=100`)).body;
    expect(log.lines.map((l) => l.text)).toContain('hello from a roomy disk');
    const spamJob = (await run(second, spam)).jobs[0].id;
    expect((await api<LogChunk>(second, `/api/jobs/${spamJob}/log?offset=0&limit=100`)).body.lines.map((l) => l.text)).toContain('a line of build output that goes on and on until the disk is full');
    // The killed job went back to the queue; nothing starts while the disk is low.
    const instanceId = readFileSync(join(disk.dir, 'instance-id'), 'utf8').trim();
    await waitFor(async () => dockerLeftovers(instanceId).length === 0, "the killed job's container to be reaped", 30_000);
    const queued = (await api<{ items: { id: string; status: string; waiting?: string }[] }>(second, '/api/runs?limit=10')).body.items;
    expect(queued.find((r) => r.id === waited)).toMatchObject({ status: 'queued', waiting: expect.stringMatching(/^waiting: /) });

    // The person deletes the artifacts (the database has no room: their files go first). The killed
    // job is retried — not lost — and, printing without end again, is cut at the disk's end this time.
    const freed = await api<{ artifactsDeleted: number; bytesFreed: number }>(second, '/api/storage/free', { artifacts: true });
    expect(freed.status).toBe(200);
    expect(freed.body).toMatchObject({ artifactsDeleted: 1, bytesFreed: expect.any(Number) });
    expect(freed.body.bytesFreed).toBeGreaterThan(3.5 * 1024 * 1024);
    const spamRun = await waitFor(async () => {
      const r = await run(second, spam);
      return r.status === 'failed' ? r : undefined;
    }, 'the retried filling run to fail', 120_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; the run: ${JSON.stringify(await run(second, spam))}; health: ${JSON.stringify((await api<Health>(second, '/api/health')).body.disk)}; kiln serve said: ${second.err()}`);
    });
    expect(spamRun.jobs[0]).toMatchObject({ attempt: 2, error: expect.stringMatching(/^disk full: the log of step 'Build' was cut at /) });
    // Then the logs of finished runs: room for the run that waited.
    if ((await run(second, waited)).status === 'queued') {
      const logs = await api<{ logsDeleted: number }>(second, '/api/storage/free', { logsOlderThanDays: 0 });
      expect(logs.body.logsDeleted).toBeGreaterThanOrEqual(1);
    }
    const passed = await waitFor(async () => {
      const r = await run(second, waited);
      return r.status === 'passed' || r.status === 'failed' ? r : undefined;
    }, 'the run that waited to run');
    expect(passed.status).toBe('passed');
    expect((await run(second, earlier)).status).toBe('passed');

    expect(await second.stop()).toBe(0);
    expect(second.err()).not.toMatch(/\n\s+at |Uncaught/);
    const db = new Database(join(disk.dir, 'kiln.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    expect(dockerLeftovers(instanceId)).toEqual([]);
  }, BUDGET_MS);
});
