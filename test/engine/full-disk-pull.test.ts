/**
 * An image pull that finds no room, for real: Kiln runs its jobs on a second dockerd whose data root
 * is a tmpfs of 160 MB (test/helpers/small-docker-engine.ts), and the job's image is only in a
 * registry (Debian's docker-registry, in that engine's network namespace), with a layer of its own.
 * With the engine's storage full, the pull fails: the job fails as the infrastructure's, in one
 * line naming the image and Docker's storage; the guard holds the next job, saying why, and runs it
 * (pulling the image) once the storage has room. Nothing is lost: the failed job's log keeps the
 * pull's lines, the database is intact, no container is left.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { startSmallDockerEngine, type SmallDockerEngine } from '../helpers/small-docker-engine.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, repoConfig, TERMINAL, type TestRepo } from './engine-fixture.js';

const PORT = 5111;
const IMAGE = `127.0.0.1:${PORT}/kiln-test/payload:1`;

let small: SmallDockerEngine;
let registry: ChildProcess | undefined;
let root: string;
let repo: TestRepo;
let engine: Engine | undefined;

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The docker command line against the small engine. */
const smallDocker = (...args: string[]): string => execFileSync('docker', ['-H', small.address, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  small = await startSmallDockerEngine('160m');
  root = mkdtempSync(join(tmpdir(), 'kiln-pullfull-'));
  // The registry listens on the small engine's loopback: the engine pulls from inside its namespace.
  writeFileSync(join(root, 'registry.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(root, 'registry')}\nhttp:\n  addr: 127.0.0.1:${PORT}\n`);
  execFileSync('ip', ['netns', 'exec', small.netns, 'ip', 'link', 'set', 'lo', 'up']);
  registry = spawn('nsenter', [`--net=/var/run/netns/${small.netns}`, '/usr/bin/docker-registry', 'serve', join(root, 'registry.yml')], { stdio: 'ignore' });
  await waitFor(async () => {
    try {
      execFileSync('nsenter', [`--net=/var/run/netns/${small.netns}`, 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${PORT}/v2/`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }, 'the registry', 15_000);
  // An image with a layer of its own (8 MB of random bytes), only in the registry: pulling it needs room.
  smallDocker('run', '--name', 'payload', '--network', 'none', TEST_IMAGE, 'sh', '-c', 'head -c 8000000 /dev/urandom > /payload');
  smallDocker('commit', 'payload', IMAGE);
  smallDocker('rm', 'payload');
  smallDocker('push', '-q', IMAGE);
  smallDocker('rmi', IMAGE);
}, 180_000);

afterAll(async () => {
  await engine?.stop();
  registry?.kill();
  await small?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function start(): Promise<Engine> {
  repo = createRepo(root, 'acme/web');
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

async function run(e: Engine): Promise<string> {
  const sha = repo.commit(`name: t
on: { push: { branches: [main] } }
jobs:
  build:
    image: ${IMAGE}
    steps:
      - name: Payload
        run: wc -c /payload
`);
  const outcome = await e.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
  expect(outcome.runIds, outcome.reason).toHaveLength(1);
  return outcome.runIds[0];
}

const finished = (e: Engine, id: string): Promise<RunDetail> => waitFor(async () => {
  const r = await e.getRun(id);
  return TERMINAL.includes(r.status) ? r : undefined;
}, `run ${id} to finish`);

describe("when a job's image must be pulled and the Docker engine's storage has no room", () => {
  it("fails the job in one line naming the image and Docker's storage, holds the next job saying why, and runs it once there is room", async () => {
    const e = await start();
    const filler = join(small.dataRoot, 'someone-else');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=400'], { stdio: 'ignore' });
    } catch {
      // ENOSPC: the engine's storage is full, as meant
    }
    expect(small.free()).toBeLessThan(1024 * 1024);

    const first = await run(e);
    const failed = await finished(e, first);
    expect(failed.status).toBe('failed');
    const error = failed.jobs[0].error ?? '';
    expect(error).toMatch(new RegExp(`^the Docker engine's storage is full while pulling image ${IMAGE.replace(/[.]/g, '\\.')}: .*no space left on device`, 'i'));
    expect(error).not.toContain('\n');
    expect((await e.health()).disk).toMatchObject({ ok: false, docker: error });
    // The failed job's log keeps what happened: the pull started, and why it failed.
    const log = (await e.getLog(failed.jobs[0].id, 0, 1000)).lines.map((l) => l.text);
    expect(log).toContain(`pulling image ${IMAGE} from 127.0.0.1:${PORT}`);
    expect(log.some((t) => t.includes(error))).toBe(true);

    const queued = await run(e);
    // Three cool-downs later the storage is still full: the run still waits, saying why.
    await new Promise((r) => setTimeout(r, 3_000));
    const waiting = (await e.listRuns({ limit: 5 })).items.find((r) => r.id === queued);
    expect(waiting).toMatchObject({ status: 'queued', waiting: expect.stringMatching(/^waiting: the Docker engine's storage is full while pulling image /) });

    rmSync(filler);
    const passed = await finished(e, queued);
    expect(passed.status).toBe('passed');
    expect((await e.getLog(passed.jobs[0].id, 0, 1000)).lines.map((l) => l.text)).toContain('8000000 /payload');
    expect((await e.health()).disk?.ok).toBe(true);

    // Nothing lost: both runs are stored, the database is intact, no container is left.
    expect((await e.listRuns({ limit: 5 })).items.map((r) => r.status).sort()).toEqual(['failed', 'passed']);
    const check = new Database(join(root, 'data', 'kiln.db'), { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    await waitFor(async () => (await small.docker.listContainers({ all: true })).length === 0, 'the job containers to be removed', 20_000);
  }, 240_000);
});
