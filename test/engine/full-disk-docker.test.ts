/**
 * The Docker engine's own storage full, for real: Kiln runs its jobs on a second dockerd whose data
 * root is a tmpfs of 160 MB (test/helpers/small-docker-engine.ts). A step that writes past it, or a
 * container create that finds no room, is the infrastructure's failure naming Docker's storage; the
 * guard holds new jobs while that storage is full — past the cool-down — and lets them start once
 * it has room. Kiln's own data directory has room throughout.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { startSmallDockerEngine, type SmallDockerEngine } from '../helpers/small-docker-engine.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, repoConfig, TERMINAL, type TestRepo } from './engine-fixture.js';

let small: SmallDockerEngine;
let root: string;
let repo: TestRepo;
let engine: Engine | undefined;

beforeAll(async () => {
  small = await startSmallDockerEngine('160m');
});
afterAll(async () => {
  await small?.close();
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-dockerfull-'));
  repo = createRepo(root, 'acme/web');
});
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  rmSync(root, { recursive: true, force: true });
});

async function start(): Promise<Engine> {
  const config: KilnConfig = {
    ...defaultConfig(),
    server: { host: '127.0.0.1', port: 0 },
    concurrency: { jobs: 1, perRepository: 1 },
    disk: { minFreeBytes: 1024 * 1024, minFreePercent: 0, reserveBytes: 0, checkIntervalMs: 200 },
    engines: [{ name: 'small', address: small.address, limit: 1, labels: [] }],
    repositories: [repoConfig(repo)],
  };
  // A cool-down of one second: a hold that outlasts it is the measurement's doing.
  engine = await Engine.start({ config, dataDir: join(root, 'data'), disk: { dockerCooldownMs: 1_000 } });
  return engine;
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(e: Engine, steps: string): Promise<string> {
  const sha = repo.commit(`name: t
on: { push: { branches: [main] } }
jobs:
  fill:
    image: ${TEST_IMAGE}
    steps:
${steps}`);
  const outcome = await e.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
  expect(outcome.runIds, outcome.reason).toHaveLength(1);
  return outcome.runIds[0];
}

const finished = (e: Engine, id: string): Promise<RunDetail> => waitFor(async () => {
  const r = await e.getRun(id);
  return TERMINAL.includes(r.status) ? r : undefined;
}, `run ${id} to finish`);

const GREET = '      - name: Greet\n        run: echo hello\n';

/** The engine answers, the database is intact, and the small engine has no container left. */
async function assertHealthy(e: Engine): Promise<void> {
  expect((await e.health()).docker.ok).toBe(true);
  const check = new Database(join(root, 'data', 'kiln.db'), { readonly: true });
  try {
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
  } finally {
    check.close();
  }
  await waitFor(async () => (await small.docker.listContainers({ all: true })).length === 0, 'the job containers to be removed', 20_000);
}

describe("when a step writes past the Docker engine's storage", () => {
  it("fails the job as the infrastructure's, naming Docker's storage and its free space, and the next job runs once the room is back", async () => {
    const e = await start();
    const id = await run(e, '      - name: Fill\n        run: dd if=/dev/zero of=/fill bs=1M count=400\n');
    const failed = await finished(e, id);
    expect(failed.status).toBe('failed');
    expect(failed.jobs[0].error).toMatch(/^the Docker engine's storage is full: step 'Fill' failed with exit code 1 \(No space left on device in the container; \d+(\.\d)? (B|KB) of 1\d\d\.\d MB free\)$/);
    // Docker's storage is the small engine's data root, measured here.
    expect((await e.health()).disk?.dockerStorage?.path).toBe(small.dataRoot);
    // The container that filled it is gone: the room is back, and the guard lets the next job start.
    const next = await run(e, GREET);
    expect((await finished(e, next)).status).toBe('passed');
    expect((await e.health()).disk?.ok).toBe(true);
    await assertHealthy(e);
  });
});

describe("when the Docker engine's storage is full before the job starts", () => {
  it('fails the container create as the infrastructure\'s, holds queued jobs past the cool-down while the storage stays full, and runs them once it has room', async () => {
    const e = await start();
    const filler = join(small.dataRoot, 'someone-else');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=400'], { stdio: 'ignore' });
    } catch {
      // ENOSPC: the engine's storage is full, as meant
    }
    expect(small.free()).toBeLessThan(1024 * 1024);
    const first = await run(e, GREET);
    const failed = await finished(e, first);
    expect(failed.status).toBe('failed');
    expect(failed.jobs[0].error).toMatch(/^the Docker engine's storage is full while creating the job container: .*no space left on device/i);
    expect((await e.health()).disk).toMatchObject({ ok: false, docker: failed.jobs[0].error });

    const queued = await run(e, GREET);
    // Three cool-downs later the storage is still full: the run still waits, saying why.
    await new Promise((r) => setTimeout(r, 3_000));
    const waiting = (await e.listRuns({ limit: 5 })).items.find((r) => r.id === queued);
    expect(waiting).toMatchObject({ status: 'queued', waiting: expect.stringMatching(/^waiting: the Docker engine's storage is full while creating the job container/) });

    rmSync(filler);
    expect((await finished(e, queued)).status).toBe('passed');
    expect((await e.health()).disk?.ok).toBe(true);
    await assertHealthy(e);
  });
});
