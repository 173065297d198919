/**
 * Kill -9 in the middle of a build, then start again on the same data directory: the desktop
 * app's normal life. The first engine runs in a child process (compiled JavaScript) so that it
 * can really be SIGKILLed; the second runs here.
 */
import Database from 'better-sqlite3';
import Dockerode from 'dockerode';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compiledEngine, type CompiledEngine } from '../helpers/compiled-engine.js';
import { releaseJobs, untilReleased } from '../helpers/release-jobs.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, dockerLeftovers, repoConfig, TERMINAL } from './engine-fixture.js';
import { Engine } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import type { RunDetail } from '../../shared/model/run.js';

let compiled: CompiledEngine | undefined;
beforeAll(() => {
  compiled = compiledEngine('engine-crash');
}, 120_000);
afterAll(() => compiled?.dispose());

let root: string;
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  rmSync(root, { recursive: true, force: true });
});

const PIPELINE = `name: slow
on: { push: { branches: [main] } }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - run: 'echo started; ${untilReleased()}; echo finished'
`;

/** Starts the child engine, waits until the job's step runs, then SIGKILLs it. */
async function killMidBuild(config: KilnConfig, dataDir: string, event: object, maxAttempts: number): Promise<{ instanceId: string; runId: string; jobId: string }> {
  const configFile = join(root, 'config.json');
  const eventFile = join(root, 'event.json');
  writeFileSync(configFile, JSON.stringify(config));
  writeFileSync(eventFile, JSON.stringify(event));
  const child = spawn(process.execPath, [resolve('test/engine/crash-child.mjs'), compiled!.dir, configFile, dataDir, eventFile, String(maxAttempts)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const seen: { instanceId?: string; runId?: string; jobId?: string } = {};
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  try {
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never reached the step; stderr: ${stderr}`)), 90_000);
      child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as { instanceId?: string; runIds?: string[]; ready?: string };
        if (msg.instanceId) seen.instanceId = msg.instanceId;
        if (msg.runIds) seen.runId = msg.runIds[0];
        if (msg.ready) seen.jobId = msg.ready;
        if (seen.instanceId && seen.runId && seen.jobId) {
          clearTimeout(timer);
          resolveReady();
        }
      });
    });
    expect(dockerLeftovers(seen.instanceId!).some((r) => r.startsWith('container '))).toBe(true);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  return seen as { instanceId: string; runId: string; jobId: string };
}

function setup(): { config: KilnConfig; dataDir: string; event: object } {
  root = mkdtempSync(join(tmpdir(), 'kiln-crash-'));
  const repo = createRepo(root, 'acme/crash');
  const sha = repo.commit(PIPELINE);
  const config: KilnConfig = { ...defaultConfig(), server: { host: '127.0.0.1', port: 0 }, repositories: [repoConfig(repo)] };
  return { config, dataDir: join(root, 'data'), event: { kind: 'push', repo: repo.name, branch: 'main', sha } };
}

async function waitFor(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitTerminal(e: Engine, runId: string): Promise<RunDetail> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const run = await e.getRun(runId);
    if (TERMINAL.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run stayed ${run.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('when Kiln is killed with SIGKILL mid-build and started again', () => {
  it('reaps the dead process\'s containers, re-queues the job and finishes the run on an intact database', async () => {
    const { config, dataDir, event } = setup();
    const dead = await killMidBuild(config, dataDir, event, 3);
    expect(readFileSync(join(dataDir, 'instance-id'), 'utf8').trim()).toBe(dead.instanceId);

    engine = await Engine.start({ config, dataDir });
    // Checked before this engine's pool has had a turn of the event loop: only the dead process's leftovers could be here.
    expect(dockerLeftovers(dead.instanceId)).toEqual([]);
    expect(integrityCheck(dataDir)).toBe('ok');
    // The step runs until released: the second attempt is let go once it runs.
    const e = engine;
    await waitFor(async () => (await e.getRun(dead.runId)).jobs[0].attempt === 2 && await releaseJobs(new Dockerode(), e.instanceId) > 0, 'the second attempt to run');
    const run = await waitTerminal(engine, dead.runId);
    expect(run.status).toBe('passed');
    expect(run.jobs[0]).toMatchObject({ id: dead.jobId, status: 'passed', attempt: 2 });
    const log = (await engine.getLog(dead.jobId, 0, 10_000)).lines.map((l) => l.text);
    expect(log.filter((t) => t === 'started')).toHaveLength(2);
    expect(log).toContain('[kiln] attempt 1: the Kiln process running it stopped; the job is queued again (attempt 2 of 3).');
    expect(log).toContain('finished');
    expect((await engine.getLog(dead.jobId, 0, 10_000)).lines.map((l) => l.seq)).toEqual(log.map((_, i) => i));
  });

  it('fails the job with a clear reason once it has lost its worker as often as allowed', async () => {
    const { config, dataDir, event } = setup();
    const dead = await killMidBuild(config, dataDir, event, 1);
    engine = await Engine.start({ config, dataDir });
    expect(dockerLeftovers(dead.instanceId)).toEqual([]);
    const run = await engine.getRun(dead.runId);
    expect(run.status).toBe('failed');
    expect(run.jobs[0]).toMatchObject({ status: 'failed', error: 'lost its worker 1 time; giving up' });
    expect(integrityCheck(dataDir)).toBe('ok');
    expect((await engine.health()).queue).toEqual({ queued: 0, running: 0 });
  });
});

/** PRAGMA integrity_check over a connection of its own, beside the engine's (WAL allows readers). */
function integrityCheck(dataDir: string): unknown {
  const db = new Database(join(dataDir, 'kiln.db'), { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}
