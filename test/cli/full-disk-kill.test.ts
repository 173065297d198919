/**
 * `kiln serve` (the built CLI, a real child process) killed with SIGKILL right after it handled the
 * first write that found its disk full — the moment its health names the job log that was cut —
 * while the job that filled the disk is being stopped. Started again on that disk: the database is intact, the job is not lost (failed with its reason, or retried and
 * failed with it), no container is left, and what was stored before is readable.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Health, LogChunk } from '../../shared/api/engine-api.js';
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
  root = mkdtempSync(join(tmpdir(), 'kiln-fullkill-'));
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
  const s = await startServe({ args: ['--config', config, '--data', disk.dir, '--port', '0'], timeoutMs: 30_000 });
  served.push(s);
  expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return s;
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

async function api<T>(s: ListeningServe, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

async function trigger(s: ListeningServe): Promise<string> {
  const r = await api<{ runIds: string[] }>(s, '/api/runs', { repo: 'acme/web', branch: 'main' });
  expect(r.status).toBe(201);
  return r.body.runIds[0];
}

const run = async (s: ListeningServe, id: string): Promise<RunDetail> => (await api<RunDetail>(s, `/api/runs/${id}`)).body;
const logOf = async (s: ListeningServe, jobId: string): Promise<string[]> =>
  (await api<LogChunk>(s, `/api/jobs/${jobId}/log?offset=0&limit=100`)).body.lines.map((l) => l.text);

const pipeline = (step: string, extra = ''): string => `name: fill
on: { push: { branches: [main] } }
jobs:
  build:
    image: ${TEST_IMAGE}${extra}
    steps:
      - name: Build
        run: ${step}
`;

describe('when kiln serve is killed right after its first write found the disk full', () => {
  it('starts again with the database intact, the job failed or retried with its reason, no container left, and earlier runs readable', async () => {
    const first = await serve();
    // 4 MB of artifacts: what the person deletes to make room afterwards.
    repo.commit(pipeline('echo hello from a roomy disk && dd if=/dev/urandom of=a.bin bs=1M count=4', '\n    artifacts: { paths: [a.bin] }'));
    const earlier = await trigger(first);
    await waitFor(async () => (await run(first, earlier)).status === 'passed', 'the first run to pass');

    repo.commit(pipeline("yes 'a line of build output that goes on and on until the disk is full' | head -n 400000"));
    const spam = await trigger(first);
    // The ENOSPC was handled (the log cut, the guard told: health names the write). Kill at once.
    await waitFor(async () => (await api<Health>(first, '/api/health')).body.disk?.lastFull?.what.startsWith('the log of job '), 'kiln serve to handle the first ENOSPC', 90_000, 5);
    first.kill();
    await first.exited;
    expect(existsSync(join(disk.dir, 'disk-reserve'))).toBe(false);
    expect(first.err()).not.toMatch(/\n\s+at |Uncaught/);

    const second = await serve();
    const instanceId = readFileSync(join(disk.dir, 'instance-id'), 'utf8').trim();
    const db = (): Database.Database => new Database(join(disk.dir, 'kiln.db'), { readonly: true });
    const check = db();
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    // Nothing of the killed process is left running.
    await waitFor(async () => dockerLeftovers(instanceId).length === 0, "the killed job's container to be reaped", 30_000);
    // Stored before: readable, the filling job's log up to where it stopped too.
    expect((await run(second, earlier)).status).toBe('passed');
    expect(await logOf(second, (await run(second, earlier)).jobs[0].id)).toContain('hello from a roomy disk');
    const spamJob = (await run(second, spam)).jobs[0];
    expect(await logOf(second, spamJob.id)).toContain('a line of build output that goes on and on until the disk is full');
    // The disk is still low: the guard says so, and the job, unless its failure was recorded before the kill, waits.
    const health = (await api<Health>(second, '/api/health')).body;
    expect(health.disk).toMatchObject({ ok: false, message: expect.stringMatching(/^waiting: /) });
    expect(['failed', 'queued']).toContain(spamJob.status);

    // Room again (the artifacts go): the job ends with its reason — recorded before the kill, or on
    // its retry — never lost and never left running.
    const freed = await api<{ artifactsDeleted: number }>(second, '/api/storage/free', { artifacts: true });
    expect(freed.body.artifactsDeleted).toBe(1);
    const ended = await waitFor(async () => {
      const r = await run(second, spam);
      return r.status === 'failed' ? r : undefined;
    }, 'the filling run to end', 120_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; the run: ${JSON.stringify(await run(second, spam))}; health: ${JSON.stringify((await api<Health>(second, '/api/health')).body.disk)}; kiln serve said: ${second.err()}`);
    });
    expect(ended.jobs[0].error).toMatch(/^disk full: the log of step 'Build' was cut at /);
    expect(ended.jobs[0].attempt).toBe(spamJob.status === 'failed' ? 1 : 2);
    expect((await run(second, earlier)).status).toBe('passed');

    expect(await second.stop()).toBe(0);
    expect(second.err()).not.toMatch(/\n\s+at |Uncaught/);
    const after = db();
    try {
      expect(after.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      after.close();
    }
    expect(dockerLeftovers(instanceId)).toEqual([]);
  }, 300_000);
});
