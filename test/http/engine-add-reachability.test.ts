/**
 * A new user's first engine, through the HTTP API against the real Engine, server and Docker: adding
 * an engine that does not answer says so in the answer (and that it replaced the default local
 * engine), runs queued meanwhile say which engine they wait for, and the health answer names it.
 * Also the engine routes' codes: 201 on add, 409 on a taken name, null going back to a default,
 * and a 404 for an unknown engine that points at how to add one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Health } from '../../shared/api/engine-api.js';
import type { EngineSettings } from '../../shared/api/settings-types.js';
import type { RunDetail } from '../../shared/model/run.js';
import { Engine } from '../../src-main/engine/engine.js';
import { discoverLocalEngine } from '../../src-main/executor/engines/engine-address.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { createRepo, repoConfig, type TestRepo } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

const FAR = 'tcp://no-such-host.invalid:2376';

async function send(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as unknown, text };
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('adding the first engine, one that does not answer', () => {
  let root: string;
  let repo: TestRepo;
  let engine: Engine;
  let server: RunningServer;
  let added: { status: number; json: unknown; text: string };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-engine-add-'));
    repo = createRepo(root, 'acme/web');
    repo.commit(`name: ci\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    steps: [{ name: work, run: 'echo hi' }]\n`);
    engine = await Engine.start({
      config: { ...defaultConfig(), repositories: [repoConfig(repo)] }, dataDir: join(root, 'data'), configFile: join(root, 'kiln.config.yml'),
      onError: () => undefined, engineHealth: { pingIntervalMs: 300, pingTimeoutMs: 5000 },
    });
    server = await startServer({ engine, port: 0 });
    added = await send(server.url, 'POST', '/api/engines', { name: 'far', address: FAR });
  });
  afterAll(async () => {
    await server?.close();
    await engine?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('answers 201 with the engine, a warning that it is not reachable and why, and that it replaced the default local engine', () => {
    expect(added.status, added.text).toBe(201);
    const saved = added.json as EngineSettings;
    expect(saved).toMatchObject({ name: 'far', address: FAR, limit: 2, reachable: false });
    expect(saved.warning).toMatch(/^far is not reachable: getaddrinfo ENOTFOUND no-such-host\.invalid — jobs wait until it is$/);
    expect(saved.replaces).toMatch(/^the default engine \S+ \(unix:\/\/.*\): jobs now run only on the engines under engines: in kiln\.config\.yml; add \S+ there too to keep using it$/);
  });

  it('gives a run queued meanwhile a waiting reason naming the unreachable engine', async () => {
    const started = await send(server.url, 'POST', '/api/runs', { repo: repo.name });
    expect(started.status, started.text).toBe(201);
    const [runId] = (started.json as { runIds: string[] }).runIds;
    const run = await waitFor(async () => {
      const r = (await send(server.url, 'GET', `/api/runs/${runId}`)).json as RunDetail;
      return r.waiting?.includes('is not reachable') ? r : undefined;
    }, 'the run to say why it waits');
    expect(run.status).toBe('queued');
    expect(run.waiting).toMatch(/^waiting for an engine: far \(tcp:\/\/no-such-host\.invalid:2376\) is not reachable: getaddrinfo ENOTFOUND no-such-host\.invalid$/);
    const listed = (await send(server.url, 'GET', '/api/runs')).json as { items: RunDetail[] };
    expect(listed.items.find((r) => r.id === runId)?.waiting).toBe(run.waiting);
  });

  it('reports the engine down by name in the health answer, with the queue counting the job as queued', async () => {
    const health = (await send(server.url, 'GET', '/api/health')).json as Health;
    expect(health.docker.ok).toBe(false);
    expect(health.engines?.map((e) => [e.name, e.address, e.state])).toEqual([['far', FAR, 'down']]);
    expect(health.queue).toEqual({ queued: 1, running: 0 });
  });

  it('refuses a second engine of the same name with 409, naming the field', async () => {
    const again = await send(server.url, 'POST', '/api/engines', { name: 'far', address: FAR });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringMatching(/^engines\[0\]\.name: an engine named 'far' is already configured/) } });
  });

  it('takes null for limit and labels as back to the defaults', async () => {
    const set = await send(server.url, 'PUT', '/api/engines/far', { limit: 5, labels: ['gpu'] });
    expect(set.status, set.text).toBe(200);
    expect(set.json).toMatchObject({ limit: 5, labels: ['gpu'] });
    const cleared = await send(server.url, 'PUT', '/api/engines/far', { limit: null, labels: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.json).toMatchObject({ limit: 2, labels: [] });
  });

  it('answers 404 for an unknown engine, pointing at how to add one rather than at an undocumented field', async () => {
    const res = await send(server.url, 'PUT', '/api/engines/nosuch', { limit: 3 });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ ok: false, error: { name: 'ApiError', code: 'NOT_FOUND', message: "engine 'nosuch' is not configured (add it with POST /api/engines, or the Add engine form in Settings)" } });
  });

  it('answers an engine that does answer as reachable, with no warning and nothing replaced', async () => {
    const here = await send(server.url, 'POST', '/api/engines', { name: 'here', address: discoverLocalEngine().endpoint.address });
    expect(here.status, here.text).toBe(201);
    expect(here.json).toMatchObject({ name: 'here', reachable: true });
    expect((here.json as EngineSettings).warning).toBeUndefined();
    expect((here.json as EngineSettings).replaces).toBeUndefined();
  });
});
