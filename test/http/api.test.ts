import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArtifactInfo, LogLine, Page, RunSummary } from '../../shared/model/run.js';
import { startServer, UI_CSP } from '../../src-main/http/app.js';
import type { RunningServer } from '../../src-main/http/app.js';
import type { ArtifactSource } from '../../src-main/http/api-routes.js';
import { StubEngine, testConfig } from './helpers/stub-engine.js';
import { readSse } from './helpers/sse-client.js';

interface ErrorBody { ok: false; error: { name: string; code: string; message: string } }

describe('the HTTP API', () => {
  let engine: StubEngine;
  let server: RunningServer;
  let staticDir: string;
  const artifactBytes = Buffer.from('hello artifact\n');
  const artifactInfo: ArtifactInfo = { id: 'a1', runId: 'r1', jobId: 'j1', path: 'dist/app résumé.txt', size: artifactBytes.length, sha256: 'x', createdAt: 1 };
  const artifacts: ArtifactSource = {
    async open(id) {
      return id === 'a1' ? { info: artifactInfo, stream: Readable.from([artifactBytes]) } : undefined;
    },
  };

  beforeEach(async () => {
    staticDir = mkdtempSync(join(tmpdir(), 'kiln-static-'));
    mkdirSync(join(staticDir, 'assets'));
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Kiln</title><div id="root"></div>');
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
    engine = new StubEngine(testConfig([{ name: 'acme/web', webhookSecrets: ['s'] }]));
    server = await startServer({ engine, port: 0, staticDir, artifacts });
  });

  afterEach(async () => {
    await server.close();
    await engine.stop();
    rmSync(staticDir, { recursive: true, force: true });
  });

  const get = (path: string, init?: RequestInit): Promise<Response> => fetch(`${server.url}${path}`, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> =>
    fetch(`${server.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  describe('runs', () => {
    it('pages through runs with a cursor and filters by branch and status', async () => {
      for (let i = 0; i < 5; i++) engine.addRun({ repo: 'acme/web', branch: i % 2 ? 'dev' : 'main' }, i === 4 ? 'failed' : 'passed');
      const first = (await (await get('/api/runs?limit=2')).json()) as Page<RunSummary>;
      expect(first.items.map((r) => r.id)).toEqual(['r5', 'r4']);
      const second = (await (await get(`/api/runs?limit=2&cursor=${first.nextCursor}`)).json()) as Page<RunSummary>;
      expect(second.items.map((r) => r.id)).toEqual(['r3', 'r2']);
      const main = (await (await get('/api/runs?branch=main&status=passed')).json()) as Page<RunSummary>;
      expect(main.items.map((r) => r.id)).toEqual(['r3', 'r1']);
    });

    it.each([
      ['/api/runs?limit=0', /limit must be between 1 and 200/],
      ['/api/runs?limit=abc', /limit must be a whole number/],
      ['/api/runs?status=green', /status must be one of/],
      ['/api/runs?repo=a&repo=b', /repo must be given once/],
    ])('answers %s with a 400 envelope', async (path, message) => {
      const res = await get(path);
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.ok).toBe(false);
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.message).toMatch(message);
    });

    it('answers an unknown run with a 404 envelope from the engine\'s ApiError', async () => {
      const res = await get('/api/runs/nope');
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ ok: false, error: { name: 'ApiError', code: 'NOT_FOUND', message: 'run nope does not exist' } });
    });

    it('triggers a manual run with 201 and its ids', async () => {
      const res = await post('/api/runs', { repo: 'acme/web', branch: 'main' });
      expect(res.status).toBe(201);
      const { runIds } = (await res.json()) as { runIds: string[] };
      expect(runIds).toHaveLength(1);
      expect((await engine.getRun(runIds[0])).branch).toBe('main');
    });

    it.each([
      ['malformed JSON', '{"repo": "acme/web",', 400, /malformed JSON/],
      ['a JSON array', '[1,2]', 400, /must be an object/],
      ['no repo', '{"branch":"main"}', 400, /body.repo/],
      ['a non-hex sha', '{"repo":"acme/web","sha":"$(rm -rf)"}', 400, /hexadecimal/],
      ['an unknown repository', '{"repo":"x/y"}', 404, /unknown repository/],
    ])('answers a trigger with %s with an error envelope, not a crash', async (_name, body, status, message) => {
      const res = await post('/api/runs', body);
      expect(res.status).toBe(status);
      expect(((await res.json()) as ErrorBody).error.message).toMatch(message);
    });

    it('refuses a JSON body over 1 MB with 413', async () => {
      const res = await post('/api/runs', JSON.stringify({ repo: 'acme/web', pad: 'x'.repeat(1_100_000) }));
      expect(res.status).toBe(413);
      expect(((await res.json()) as ErrorBody).error.code).toBe('BAD_REQUEST');
    });

    it('requires a JSON content type for bodies', async () => {
      const res = await post('/api/runs', 'repo=acme/web', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status).toBe(400);
    });

    it('cancels a run and re-runs only its failed jobs', async () => {
      const run = engine.addRun({ repo: 'acme/web' }, 'running');
      expect((await post(`/api/runs/${run.id}/cancel`, {})).status).toBe(200);
      expect(run.status).toBe('cancelled');
      const res = await post(`/api/runs/${run.id}/rerun`, { failedOnly: true });
      expect(res.status).toBe(201);
      const { runId } = (await res.json()) as { runId: string };
      expect((await engine.getRun(runId)).error).toBe('failed-only');
      expect((await post(`/api/runs/${run.id}/rerun`, { failedOnly: 'yes' })).status).toBe(400);
    });
  });

  describe('logs', () => {
    beforeEach(() => {
      engine.appendLog('j1', ['compiling', 'error: boom', 'done']);
    });

    it('returns lines from an offset', async () => {
      const chunk = (await (await get('/api/jobs/j1/log?offset=1&limit=1')).json()) as { lines: LogLine[]; nextOffset: number };
      expect(chunk.lines.map((l) => l.text)).toEqual(['error: boom']);
      expect(chunk.nextOffset).toBe(2);
    });

    it('searches a log and insists on a query', async () => {
      expect(await (await get('/api/jobs/j1/log/search?q=boom')).json()).toEqual([{ seq: 1, step: 0, text: 'error: boom' }]);
      expect((await get('/api/jobs/j1/log/search')).status).toBe(400);
    });

    it('downloads the raw log as text', async () => {
      const res = await get('/api/jobs/j1/log/raw');
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(res.headers.get('content-disposition')).toMatch(/attachment/);
      expect(await res.text()).toBe('compiling\nerror: boom\ndone\n');
    });

    it('answers an unknown job with 404, also for the live stream', async () => {
      expect((await get('/api/jobs/nope/log')).status).toBe(404);
      const res = await get('/api/jobs/nope/log/stream');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/json/);
    });
  });

  describe('artifacts', () => {
    it('streams an artifact as a sandboxed download named after its file, typed by its extension', async () => {
      const res = await get('/api/artifacts/a1/download');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      expect(res.headers.get('content-length')).toBe(String(artifactBytes.length));
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="app r_sum_.txt"; filename*=UTF-8''app%20r%C3%A9sum%C3%A9.txt`);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(artifactBytes);
    });

    it('answers an unknown artifact with 404', async () => {
      expect((await get('/api/artifacts/zzz/download')).status).toBe(404);
    });
  });

  describe('server state', () => {
    it('serves health, storage metrics, repositories and deliveries', async () => {
      expect(await (await get('/api/health')).json()).toMatchObject({ ok: true, tunnel: { state: 'disabled' } });
      expect(await (await get('/api/metrics/storage')).json()).toMatchObject({ diskTotalBytes: 2 });
      expect(await (await get('/api/repositories')).json()).toEqual([{ name: 'acme/web', url: '/nonexistent', defaultBranch: 'main', secretNames: [], webhookSecretCount: 1 }]);
      expect(await (await get('/api/deliveries')).json()).toEqual([]);
    });

    it('answers an unknown API route with a 404 envelope', async () => {
      const res = await get('/api/nothing');
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('NOT_FOUND');
    });

    it('streams run, job, tunnel and delivery events but not log lines on /api/events', async () => {
      const sse = await readSse(`${server.url}/api/events`);
      expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await new Promise((r) => setTimeout(r, 50));
      engine.appendLog('j9', ['not for this stream']);
      engine.setTunnelState({ state: 'connecting', url: 'https://smee.io/x' });
      engine.publish({ type: 'job', runId: 'r1', jobId: 'j1', status: 'running' });
      const events = await sse.waitFor((e) => e.length >= 2, 'two events');
      sse.close();
      expect(events.map((e) => (JSON.parse(e.data) as { type: string }).type)).toEqual(['tunnel', 'job']);
    });
  });

  describe('the dashboard', () => {
    it('serves the UI with a strict Content-Security-Policy', async () => {
      const res = await get('/assets/app.js');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(UI_CSP);
      expect(UI_CSP).toContain("script-src 'self'");
      expect(UI_CSP).not.toContain('unsafe-eval');
    });

    it('falls back to index.html for page routes of the single-page app', async () => {
      const res = await get('/runs/r1');
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
      expect(res.headers.get('content-security-policy')).toBe(UI_CSP);
    });

    it('keeps a missing asset a 404', async () => {
      expect((await get('/assets/missing.js')).status).toBe(404);
    });
  });
});

describe('a server bound beyond loopback', () => {
  it('refuses to start without an API token', async () => {
    const engine = new StubEngine(testConfig([]));
    try {
      await expect(startServer({ engine, host: '0.0.0.0', port: 0 })).rejects.toThrow(/apiToken/);
    } finally {
      await engine.stop();
    }
  });

  it('requires the bearer token for /api but keeps webhooks and badges public', async () => {
    const engine = new StubEngine(testConfig([{ name: 'acme/web' }], { server: { host: '0.0.0.0', port: 0, apiToken: 'tok-123' } }));
    const server = await startServer({ engine, host: '0.0.0.0', port: 0 });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const denied = await fetch(`${base}/api/health`);
      expect(denied.status).toBe(401);
      expect(((await denied.json()) as ErrorBody).error.code).toBe('UNAUTHORIZED');
      expect((await fetch(`${base}/api/health`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${base}/api/health`, { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
      expect((await fetch(`${base}/api/health?access_token=tok-123`)).status).toBe(200);
      expect((await fetch(`${base}/badges/acme/web.svg`)).status).toBe(200);
      // Unsigned, so refused, but by the webhook receiver (401 for the signature), not by the API token.
      const hook = await fetch(`${base}/webhooks/github`, { method: 'POST', headers: { 'x-github-event': 'ping', 'x-github-delivery': 'd1', 'content-type': 'application/json' }, body: '{"zen":"z","repository":{"full_name":"acme/web"}}' });
      expect(hook.status).toBe(401);
      expect(((await hook.json()) as { reason: string }).reason).toMatch(/no webhook secret|signature/);
    } finally {
      await server.close();
      await engine.stop();
    }
  });
});
