/**
 * Removing and renaming Docker engines through the HTTP API while jobs run on them, against the real
 * Engine and server and real Docker: two engines of the pool, `alpha` and `beta`, are the local
 * Docker engine under two names (each with its own label, so a job chooses one).
 *
 * A removed engine stays in GET /api/health's `engines` as retiring, with the jobs still finishing on
 * it (their runs and names), and leaves the list when the last of them ends. A rename (PUT with a new
 * name) keeps the connection and the running job, which ends on its first attempt; every job row
 * of the engine, finished or running, says the new name; the old name is free again; a taken name is
 * a 409 naming the field, and changes nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Health } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import { Engine } from '../../src-main/engine/engine.js';
import { discoverLocalEngine } from '../../src-main/executor/engines/engine-address.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { createRepo, repoConfig, TERMINAL, type TestRepo } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

/** `jobs` jobs on the engine labelled `label`, each sleeping `seconds`. */
const pipeline = (label: string, seconds: number, jobs = 1): string => `name: on-${label}
on: { push: { branches: [main] } }
jobs:
${Array.from({ length: jobs }, (_, i) => `  work${i + 1}:
    image: ${TEST_IMAGE}
    runs-on: [${label}]
    steps: [{ name: work, run: 'sleep ${seconds}; echo done' }]
`).join('')}`;

async function send(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as unknown, text };
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('engines removed or renamed while their jobs run', () => {
  let root: string;
  let configFile: string;
  let repo: TestRepo;
  let engine: Engine;
  let server: RunningServer;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-engine-rename-'));
    configFile = join(root, 'kiln.config.yml');
    repo = createRepo(root, 'acme/web');
    const address = discoverLocalEngine().endpoint.address;
    const config = {
      ...defaultConfig(), repositories: [repoConfig(repo)],
      engines: [{ name: 'alpha', address, limit: 2, labels: ['a'] }, { name: 'beta', address, limit: 2, labels: ['b'] }],
    };
    engine = await Engine.start({ config, dataDir: join(root, 'data'), configFile, onError: () => undefined, engineHealth: { pingIntervalMs: 300, pingTimeoutMs: 5000 } });
    server = await startServer({ engine, port: 0 });
    await waitFor(async () => (await engines()).every((e) => e.state === 'up'), 'both engines to be up');
  });
  afterEach(async () => {
    await server?.close();
    await engine?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const engines = async (): Promise<NonNullable<Health['engines']>> => ((await send(server.url, 'GET', '/api/health')).json as Health).engines ?? [];
  async function push(label: string, seconds: number, jobs = 1): Promise<string> {
    const sha = repo.commit(pipeline(label, seconds, jobs));
    const outcome = await engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    expect(outcome.runIds, outcome.reason).toHaveLength(1);
    return outcome.runIds[0];
  }
  const getRun = async (runId: string): Promise<RunDetail> => (await send(server.url, 'GET', `/api/runs/${runId}`)).json as RunDetail;
  const waitForRun = (runId: string): Promise<RunDetail> => waitFor(async () => {
    const run = await getRun(runId);
    return TERMINAL.includes(run.status) ? run : undefined;
  }, 'the run to end', 90_000);
  const allRunning = (runId: string, n: number): Promise<RunDetail> => waitFor(async () => {
    const run = await getRun(runId);
    return run.jobs.length === n && run.jobs.every((j) => j.status === 'running') ? run : undefined;
  }, `${n} jobs to run`);

  it('lists a removed engine as retiring with the jobs finishing on it, then drops it when the last ends', async () => {
    const runId = await push('a', 3, 2);
    const running = await allRunning(runId, 2);
    expect((await send(server.url, 'DELETE', '/api/engines/alpha')).status).toBe(200);

    const listed = await engines();
    expect(listed.map((e) => [e.name, e.retiring])).toEqual([['beta', undefined], ['alpha', 'removed']]);
    const alpha = listed[1];
    expect(alpha.running.sort()).toEqual(running.jobs.map((j) => j.id).sort());
    expect(alpha.jobs?.map((j) => [j.runId, j.name]).sort()).toEqual([[runId, 'work1'], [runId, 'work2']]);

    const run = await waitForRun(runId);
    expect(run.status).toBe('passed');
    expect(run.jobs.map((j) => [j.engine, j.attempt])).toEqual([['alpha', 1], ['alpha', 1]]);
    await waitFor(async () => (await engines()).length === 1, 'alpha to leave the list');
    expect((await engines()).map((e) => e.name)).toEqual(['beta']);
  });

  it('renames an engine with a job running on it: the job finishes there on its first attempt, and every job row says the new name', async () => {
    const earlier = await waitForRun(await push('a', 0));
    expect(earlier.jobs[0].engine).toBe('alpha');
    const runId = await push('a', 3);
    await allRunning(runId, 1);

    const renamed = await send(server.url, 'PUT', '/api/engines/alpha', { name: 'fast' });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'fast', labels: ['a'], limit: 2 });
    expect(readFileSync(configFile, 'utf8')).toMatch(/- name: fast\n/);
    // The same connection under the new name: up at once, with its running job, and nothing retiring.
    const listed = await engines();
    expect(listed.map((e) => [e.name, e.state, e.running.length, e.retiring])).toEqual([['fast', 'up', 1, undefined], ['beta', 'up', 0, undefined]]);
    expect((await getRun(runId)).jobs[0].engine).toBe('fast');
    expect((await getRun(earlier.id)).jobs[0].engine).toBe('fast');

    const run = await waitForRun(runId);
    expect(run.status).toBe('passed');
    expect(run.jobs.map((j) => [j.engine, j.attempt])).toEqual([['fast', 1]]);
    expect((await waitForRun(await push('a', 0))).jobs[0].engine).toBe('fast');

    // The old name is free for another engine, which starts with no history.
    const added = await send(server.url, 'POST', '/api/engines', { name: 'alpha', address: discoverLocalEngine().endpoint.address, labels: ['other'] });
    expect(added.status, added.text).toBe(201);
    expect((await getRun(earlier.id)).jobs[0].engine).toBe('fast');
  });

  it('refuses a rename to a name another engine has with a 409 naming the field, and changes nothing', async () => {
    const before = existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined;
    const clash = await send(server.url, 'PUT', '/api/engines/alpha', { name: 'beta' });
    expect(clash.status).toBe(409);
    expect((clash.json as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'CONFLICT', message: expect.stringMatching(/^engines\[0\]\.name: an engine named 'beta' is already configured/) as unknown,
    });
    const bad = await send(server.url, 'PUT', '/api/engines/alpha', { name: 'no spaces' });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { message: string } }).error.message).toMatch(/^engines\[0\]\.name: must start with a letter or digit/);
    expect(existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined).toBe(before);
    expect((await engines()).map((e) => e.name)).toEqual(['alpha', 'beta']);
  });
});
