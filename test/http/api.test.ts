/**
 * The HTTP API against the real Engine (SQLite, git; a scripted executor for Docker) and the real listening server. The runs
 * the read-only tests look at are made once (helpers/api-world.ts); tests that change state make their
 * own runs in acme/ops, which the read-only tests never look at.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArtifactInfo, DeliveryRecord, LogLine, Page, RunDetail, RunSummary, StorageMetrics } from '../../shared/model/run.js';
import type { EngineEvent, Health, LogChunk } from '../../shared/api/engine-api.js';
import type { RepositorySettings } from '../../shared/api/settings-types.js';
import { KILN_VERSION } from '../helpers/fake-engine.js';
import { startServer, UI_CSP } from '../../src-main/http/app.js';
import { jobNamed, startBareEngine } from './helpers/api-engine.js';
import { readSse } from './helpers/sse-client.js';
import { openTerminal } from '../debug/terminal-client.js';
import { API, ARTIFACT_HTML, ARTIFACT_TEXT, OPS, pingWeb, SECRET_VALUE, startApiWorld, WEB, WEBHOOK_SECRET, type ApiWorld } from './helpers/api-world.js';

interface ErrorBody { ok: false; error: { name: string; code: string; message: string } }

describe('the HTTP API over the real engine', () => {
  let w: ApiWorld;

  beforeAll(async () => { w = await startApiWorld(); });
  afterAll(async () => { await w?.close(); });

  const get = (path: string, init?: RequestInit): Promise<Response> => fetch(`${w.server.url}${path}`, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> =>
    fetch(`${w.server.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const ping = (secret?: string): ReturnType<typeof pingWeb> => pingWeb(w.server.url, secret);

  describe('runs', () => {
    it('pages through runs newest first with a cursor, within a repository and across all', async () => {
      const [a1, a2, a3] = w.apiRuns.map((r) => r.id);
      const first = await w.getJson<Page<RunSummary>>(`/api/runs?repo=${API}&limit=2`);
      expect(first.items.map((r) => r.id)).toEqual([a3, a2]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await w.getJson<Page<RunSummary>>(`/api/runs?repo=${API}&limit=2&cursor=${first.nextCursor}`);
      expect(second.items.map((r) => r.id)).toEqual([a1]);
      expect(second.nextCursor).toBeUndefined();

      const seen: RunSummary[] = [];
      let cursor: string | undefined;
      do {
        const page = await w.getJson<Page<RunSummary>>(`/api/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        if (page.nextCursor) expect(page.items).toHaveLength(2);
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
      expect(seen.map((r) => r.createdAt)).toEqual([...seen.map((r) => r.createdAt)].sort((x, y) => y - x));
      const mine = [a3, a2, a1, w.webDev.id, w.webMain.id];
      expect(seen.map((r) => r.id).filter((id) => mine.includes(id))).toEqual(mine);
      expect(seen).toHaveLength((await w.engine.listRuns({ limit: 200 })).items.length);
    });

    it('filters runs by repository, branch and status', async () => {
      const ids = async (query: string): Promise<string[]> => (await w.getJson<Page<RunSummary>>(`/api/runs?${query}`)).items.map((r) => r.id);
      expect(await ids(`repo=${WEB}`)).toEqual([w.webDev.id, w.webMain.id]);
      expect(await ids(`repo=${WEB}&branch=dev`)).toEqual([w.webDev.id]);
      expect(await ids(`repo=${WEB}&status=failed`)).toEqual([w.webDev.id]);
      expect(await ids(`repo=${WEB}&branch=main&status=passed`)).toEqual([w.webMain.id]);
      expect(await ids(`repo=${API}&status=failed`)).toEqual([]);
    });

    it.each([
      ['/api/runs?limit=0', /limit must be between 1 and 200/],
      ['/api/runs?limit=abc', /limit must be a whole number/],
      ['/api/runs?status=green', /status must be one of/],
      ['/api/runs?repo=a&repo=b', /repo must be given once/],
      ['/api/runs?cursor=garbage', /invalid cursor 'garbage'/],
    ])('answers %s with a 400 envelope', async (path, message) => {
      const res = await get(path);
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.ok).toBe(false);
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.message).toMatch(message);
    });

    it('shows a run with its jobs, their steps and the edges between them', async () => {
      const run = await w.getJson<RunDetail>(`/api/runs/${w.webMain.id}`);
      expect(run).toMatchObject({ id: w.webMain.id, repo: WEB, branch: 'main', sha: w.headOf(WEB, 'main'), event: 'manual', status: 'passed', pipeline: 'ci' });
      const build = jobNamed(run, 'build');
      const test = jobNamed(run, 'test');
      expect(build.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([['compile', 'passed', 0], ['package', 'passed', 0]]);
      expect(test).toMatchObject({ needs: ['build'], status: 'passed' });
      expect(run.edges).toEqual([{ from: build.id, to: test.id }]);

      const failed = await w.getJson<RunDetail>(`/api/runs/${w.webDev.id}`);
      expect(failed.status).toBe('failed');
      const lint = jobNamed(failed, 'lint');
      expect(lint.error).toMatch(/step 'lint' failed with exit code 3/);
      expect(lint.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([['lint', 'failed', 3], ['after', 'skipped', undefined]]);
    });

    it('answers an unknown run with a 404 envelope from the engine\'s ApiError', async () => {
      const res = await get('/api/runs/nope');
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ ok: false, error: { name: 'ApiError', code: 'NOT_FOUND', message: "run 'nope' does not exist" } });
    });

    it('triggers a manual run of a branch or of a commit with 201 and its ids, and the runs pass', async () => {
      const sha = w.headOf(OPS, 'main');
      const page = await (await get('/runs')).text();
      const session = /<meta name="kiln-session" content="([0-9a-f]+)">/.exec(page)?.[1];
      expect(session).toBeDefined();
      const byBranch = await post('/api/runs', { repo: OPS, branch: 'main' });
      const bySha = await post('/api/runs', { repo: OPS, sha }, { 'content-type': 'application/json', 'x-kiln-session': session! });
      expect([byBranch.status, bySha.status]).toEqual([201, 201]);
      const answers = [(await byBranch.json()) as { runIds: string[] }, (await bySha.json()) as { runIds: string[] }];
      expect(answers).toEqual([{ runIds: [expect.any(String)] }, { runIds: [expect.any(String)] }]);
      const [branchRun, shaRun] = await Promise.all(answers.map((a) => w.getJson<RunDetail>(`/api/runs/${a.runIds[0]}`)));
      // A script's request is recorded as by `api`; the dashboard's own page (its session secret) as by `ui`.
      expect(branchRun).toMatchObject({ repo: OPS, branch: 'main', sha, event: 'manual', triggeredBy: 'api' });
      expect(shaRun).toMatchObject({ repo: OPS, sha, event: 'manual', triggeredBy: 'ui' });
      expect(shaRun.id).not.toBe(branchRun.id);
      expect(shaRun.branch).toBeUndefined();
      expect((await Promise.all([branchRun, shaRun].map((r) => w.waitForRun(r.id)))).map((r) => r.status)).toEqual(['passed', 'passed']);
    });

    it('runs a pipeline by hand whose on: lists only pushes, and refuses one that opts out with manual: false', async () => {
      const allowed = await post('/api/runs', { repo: OPS, branch: 'push-only' });
      expect(allowed.status).toBe(201);
      const { runIds } = (await allowed.json()) as { runIds: string[] };
      expect(runIds).toHaveLength(1);
      expect(await w.waitForRun(runIds[0])).toMatchObject({ branch: 'push-only', event: 'manual', status: 'passed' });
      const refused = await post('/api/runs', { repo: OPS, branch: 'no-manual' });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/opts out of manual runs \(on: \{ manual: false \}/) } });
    });

    it.each([
      ['malformed JSON', '{"repo": "acme/ops",', 400, /malformed JSON/],
      ['a JSON array', '[1,2]', 400, /must be an object/],
      ['no repo', '{"branch":"main"}', 400, /body.repo/],
      ['a non-hex sha', '{"repo":"acme/ops","sha":"$(rm -rf)"}', 400, /hexadecimal/],
      ['an unknown repository', '{"repo":"x/y"}', 404, /repository 'x\/y' is not configured/],
      ['a branch the repository does not have', '{"repo":"acme/ops","branch":"nope"}', 400, /cannot resolve branch 'nope' of acme\/ops/],
    ])('answers a trigger with %s with an error envelope, not a crash', async (_name, body, status, message) => {
      const res = await post('/api/runs', body);
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ ok: false, error: { name: 'ApiError', message: expect.stringMatching(message) } });
    });

    it('refuses a JSON body over 1 MB with 413', async () => {
      const res = await post('/api/runs', JSON.stringify({ repo: OPS, pad: 'x'.repeat(1_100_000) }));
      expect([res.status, ((await res.json()) as ErrorBody).error.code]).toEqual([413, 'BAD_REQUEST']);
    });

    it('requires a JSON content type for bodies', async () => {
      const res = await post('/api/runs', `repo=${OPS}`, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.message).toMatch(/JSON body/);
    });

    it('cancels a running run, and re-runs only what has finished', async () => {
      const res = await post('/api/runs', { repo: OPS, branch: 'slow' });
      const runId = ((await res.json()) as { runIds: string[] }).runIds[0];
      const jobId = (await w.engine.getRun(runId)).jobs[0].id;
      // The second step (sleep 120) runs once the first has printed.
      await w.fixture.waitFor(async () => (await w.engine.getLog(jobId, 0, 100)).lines.some((l) => l.text === 'started') || undefined, 60_000, 'the slow job to start');
      const early = await post(`/api/runs/${runId}/rerun`, { failedOnly: false });
      expect([early.status, ((await early.json()) as ErrorBody).error.code]).toEqual([409, 'CONFLICT']);

      const cancel = await post(`/api/runs/${runId}/cancel`, {});
      expect([cancel.status, await cancel.json()]).toEqual([200, { ok: true }]);
      const run = await w.waitForRun(runId);
      expect([run.status, run.jobs[0].status]).toEqual(['cancelled', 'cancelled']);
      expect([(await post(`/api/runs/${runId}/rerun`, { failedOnly: 'yes' })).status, (await post('/api/runs/nope/cancel', {})).status]).toEqual([400, 404]);
    });

    it('re-runs only the failed jobs with failedOnly, and every job without it', async () => {
      const original = await w.waitForRun(await w.trigger(OPS, 'mixed'));
      expect(original.status).toBe('failed');
      const failedOnly = await post(`/api/runs/${original.id}/rerun`, { failedOnly: true });
      const all = await post(`/api/runs/${original.id}/rerun`, {});
      expect([failedOnly.status, all.status]).toEqual([201, 201]);
      const [partial, full] = await Promise.all([failedOnly, all].map(async (r) => w.waitForRun(((await r.json()) as { runId: string }).runId)));

      const logOf = async (run: RunDetail, job: string): Promise<string[]> =>
        (await w.getJson<LogChunk>(`/api/jobs/${jobNamed(run, job).id}/log`)).lines.map((l) => l.text);
      expect(partial.status).toBe('failed');
      expect(jobNamed(partial, 'ok')).toMatchObject({ status: 'passed', error: 'passed in the earlier run; not run again' });
      expect(await logOf(partial, 'ok')).not.toContain('fine');
      expect(await logOf(partial, 'bad')).toContain('broken');
      expect(full.status).toBe('failed');
      expect(await logOf(full, 'ok')).toContain('fine');
      expect(await logOf(full, 'bad')).toContain('broken');
    });
  });

  describe('logs', () => {
    const buildJob = (): string => jobNamed(w.webMain, 'build').id;
    const fullLog = async (): Promise<LogLine[]> => (await w.getJson<LogChunk>(`/api/jobs/${buildJob()}/log?limit=10000`)).lines;

    it('returns lines from an offset, and says when the whole log of a finished job was read', async () => {
      const lines = await fullLog();
      const at = lines.findIndex((l) => l.text === 'error: boom');
      expect(lines.slice(at - 1, at + 2).map((l) => l.text)).toEqual(['compiling', 'error: boom', 'done']);
      const chunk = await w.getJson<LogChunk>(`/api/jobs/${buildJob()}/log?offset=${at}&limit=1`);
      expect(chunk.lines).toEqual([expect.objectContaining({ seq: at, step: 0, stream: 'stdout', text: 'error: boom' })]);
      expect(chunk).toMatchObject({ nextOffset: at + 1, complete: false, total: lines.length });
      const end = await w.getJson<LogChunk>(`/api/jobs/${buildJob()}/log?offset=${lines.length - 2}`);
      expect(end).toMatchObject({ nextOffset: lines.length, complete: true });
      expect(end.lines).toHaveLength(2);
      expect((await get(`/api/jobs/${buildJob()}/log?offset=-1`)).status).toBe(400);
    });

    it('searches a log and insists on a query', async () => {
      const at = (await fullLog()).findIndex((l) => l.text === 'error: boom');
      expect(await w.getJson(`/api/jobs/${buildJob()}/log/search?q=boom`)).toEqual([{ seq: at, step: 0, text: 'error: boom' }]);
      expect(await w.getJson(`/api/jobs/${buildJob()}/log/search?q=nowhere-in-the-log`)).toEqual([]);
      expect((await get(`/api/jobs/${buildJob()}/log/search`)).status).toBe(400);
    });

    it('downloads the raw log as text', async () => {
      const res = await get(`/api/jobs/${buildJob()}/log/raw`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(res.headers.get('content-disposition')).toContain(`attachment; filename="${buildJob()}.log"`);
      const text = await res.text();
      expect(text).toBe((await fullLog()).map((l) => `${l.text}\n`).join(''));
      expect(text).toContain('compiling\nerror: boom\ndone\n');
    });

    it('answers an unknown job with 404, also for the live stream', async () => {
      expect((await get('/api/jobs/nope/log')).status).toBe(404);
      expect((await get('/api/jobs/nope/log/search?q=x')).status).toBe(404);
      const res = await get('/api/jobs/nope/log/stream');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/json/);
    });
  });

  describe('artifacts', () => {
    const listed = async (): Promise<ArtifactInfo[]> => w.getJson<ArtifactInfo[]>(`/api/runs/${w.webMain.id}/artifacts`);
    const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

    it('lists the artifacts a run stored, and none for a run that stored none', async () => {
      const build = jobNamed(w.webMain, 'build').id;
      expect(await listed()).toEqual([
        expect.objectContaining({ runId: w.webMain.id, jobId: build, path: 'dist/app résumé.txt', size: Buffer.byteLength(ARTIFACT_TEXT), sha256: sha256(ARTIFACT_TEXT) }),
        expect.objectContaining({ runId: w.webMain.id, jobId: build, path: 'dist/page.html', size: Buffer.byteLength(ARTIFACT_HTML), sha256: sha256(ARTIFACT_HTML) }),
      ]);
      expect(await w.getJson(`/api/runs/${w.webDev.id}/artifacts`)).toEqual([]);
      expect((await get('/api/runs/nope/artifacts')).status).toBe(404);
    });

    it('streams an artifact as a sandboxed download named after its file, typed by its extension', async () => {
      const text = (await listed()).find((a) => a.path.endsWith('.txt'));
      const res = await get(`/api/artifacts/${text?.id}/download`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(ARTIFACT_TEXT)));
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="app r_sum_.txt"; filename*=UTF-8''app%20r%C3%A9sum%C3%A9.txt`);
      expect(await res.text()).toBe(ARTIFACT_TEXT);
    });

    it('serves an HTML artifact as an attachment under a sandboxing CSP, so it cannot script the dashboard', async () => {
      const html = (await listed()).find((a) => a.path.endsWith('.html'));
      const res = await get(`/api/artifacts/${html?.id}/download`);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="page.html"/);
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(ARTIFACT_HTML);
    });

    it('answers an unknown artifact with 404', async () => {
      expect((await get('/api/artifacts/zzz/download')).status).toBe(404);
    });
  });

  describe('server state', () => {
    it('reports health: Docker reachable, no tunnel, the queue and the effective limits', async () => {
      const health = await w.getJson<Health>('/api/health');
      expect(health).toMatchObject({ ok: true, version: KILN_VERSION, docker: { ok: true }, tunnel: { state: 'disabled' }, settings: { concurrency: { jobs: 4, perRepository: 2 } } });
      expect(health.queue.queued).toBeGreaterThanOrEqual(0);
      expect(health.queue.running).toBeGreaterThanOrEqual(0);
    });

    it('reports storage metrics that count the stored artifacts and logs', async () => {
      const m = await w.getJson<StorageMetrics>('/api/metrics/storage');
      expect(m).toMatchObject({ artifactCount: 2, artifactBytes: Buffer.byteLength(ARTIFACT_TEXT) + Buffer.byteLength(ARTIFACT_HTML), cacheEntries: 0 });
      expect(m.logBytes).toBeGreaterThan(0);
      expect(m.diskTotalBytes).toBeGreaterThan(0);
      expect(m.diskFreeBytes).toBeLessThanOrEqual(m.diskTotalBytes);
    });

    it('lists the repositories with the names of their secrets but never a secret value', async () => {
      const res = await get('/api/repositories');
      const text = await res.text();
      expect(text).not.toContain(SECRET_VALUE);
      expect(text).not.toContain(WEBHOOK_SECRET);
      const dir = (name: string): string => w.fixture.repos.find((r) => r.name === name)?.dir ?? '';
      expect(JSON.parse(text) as RepositorySettings[]).toEqual([
        { name: WEB, url: dir(WEB), defaultBranch: 'main', secretNames: ['DEPLOY_TOKEN', 'NPM_TOKEN'], webhookSecretCount: 1 },
        { name: API, url: dir(API), defaultBranch: 'main', secretNames: [], webhookSecretCount: 0 },
        { name: OPS, url: dir(OPS), defaultBranch: 'main', secretNames: [], webhookSecretCount: 0 },
      ]);
    });

    it('lists webhook deliveries newest first, accepted and rejected alike', async () => {
      const good = await ping();
      expect(good.status).toBe(200);
      await new Promise((r) => setTimeout(r, 5));
      const bad = await ping('not-the-secret');
      expect(bad.status).toBe(401);
      const [last, before] = await w.getJson<DeliveryRecord[]>('/api/deliveries?limit=2');
      expect(last).toMatchObject({ deliveryId: bad.json.deliveryId, event: 'ping', repo: WEB, outcome: 'rejected', httpStatus: 401, runIds: [] });
      expect(last.reason).toMatch(/signature does not match/);
      expect(before).toMatchObject({ deliveryId: good.json.deliveryId, event: 'ping', repo: WEB, outcome: 'accepted', httpStatus: 200, runIds: [] });
      expect((await get('/api/deliveries?limit=0')).status).toBe(400);
    });

    it('answers an unknown API route with a 404 envelope', async () => {
      const res = await get('/api/nothing');
      expect([res.status, ((await res.json()) as ErrorBody).error.code]).toEqual([404, 'NOT_FOUND']);
    });

    it('streams run, job, tunnel and delivery events but not log lines on /api/events', async () => {
      const sse = await readSse(`${w.server.url}/api/events`);
      const published: EngineEvent[] = [];
      const unsubscribe = w.engine.subscribe((e) => published.push(e));
      try {
        expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
        w.engine.setTunnelState({ state: 'connecting', url: 'https://smee.io/x' });
        expect((await ping()).status).toBe(200);
        const res = await post('/api/runs', { repo: OPS, branch: 'main' });
        const runId = ((await res.json()) as { runIds: string[] }).runIds[0];
        const parsed = (): EngineEvent[] => sse.events.map((e) => JSON.parse(e.data) as EngineEvent);
        await sse.waitFor(() => parsed().some((e) => e.type === 'run' && e.run.id === runId && e.run.status === 'passed'), 'the run to pass', 60_000);
        const types = new Set(parsed().map((e) => e.type));
        expect([...types].sort()).toEqual(['delivery', 'job', 'run', 'tunnel']);
        // The engine did publish the job's log lines; the stream left them out.
        expect(published.some((e) => e.type === 'log')).toBe(true);
        expect(parsed().filter((e) => e.type === 'job' && e.runId === runId).map((e) => e.type === 'job' && e.status)).toContain('passed');
      } finally {
        unsubscribe();
        sse.close();
        w.engine.setTunnelState({ state: 'disabled' });
      }
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
      const res = await get(`/runs/${w.webMain.id}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
      expect(res.headers.get('content-security-policy')).toBe(UI_CSP);
    });

    it('keeps a missing asset a 404', async () => {
      expect((await get('/assets/missing.js')).status).toBe(404);
    });
  });

  describe('a server bound beyond loopback', () => {
    it('refuses to start without an API token', async () => {
      await expect(startServer({ engine: w.engine, host: '0.0.0.0', port: 0 })).rejects.toThrow(/set server\.api-token in the configuration/);
    });

    it('requires the bearer token for /api but keeps webhooks and badges public', async () => {
      const { server, close } = await startBareEngine(WEB, { server: { host: '0.0.0.0', port: 0, apiToken: 'tok-123' } }, '0.0.0.0');
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
        expect(((await hook.json()) as { reason: string }).reason).toMatch(/missing signature/);
      } finally {
        await close();
      }
    });

    it('mints one-time tickets only with the token, for streams, downloads and terminals, each opening its own path once', async () => {
      const { server, close } = await startBareEngine(WEB, { server: { host: '0.0.0.0', port: 0, apiToken: 'tok-123' } }, '0.0.0.0');
      const base = `http://127.0.0.1:${server.port}`;
      const mint = async (path: string, headers: Record<string, string> = { authorization: 'Bearer tok-123' }, query = ''): Promise<Response> =>
        fetch(`${base}/api/auth/tickets${query}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ path }) });
      const ticketFor = async (path: string): Promise<string> => ((await (await mint(path)).json()) as { ticket: string }).ticket;
      try {
        expect((await mint('/api/jobs/j1/log/raw', {})).status).toBe(401);
        const refused = await mint('/api/settings');
        expect(refused.status).toBe(400);
        expect(((await refused.json()) as ErrorBody).error.message).toMatch(/body\.path must be the path of an event stream/);
        const minted = await mint('/api/jobs/j1/log/raw');
        expect(minted.status).toBe(201);
        const { ticket, expiresAt } = (await minted.json()) as { ticket: string; expiresAt: number };
        expect(expiresAt).toBeGreaterThan(Date.now());
        // Past the token check (the job does not exist), then used up.
        expect((await fetch(`${base}/api/jobs/j1/log/raw?auth_ticket=${ticket}`)).status).toBe(404);
        expect((await fetch(`${base}/api/jobs/j1/log/raw?auth_ticket=${ticket}`)).status).toBe(401);
        // Not for another job, not for another route, and never for minting more.
        expect((await fetch(`${base}/api/jobs/j2/log/raw?auth_ticket=${await ticketFor('/api/jobs/j1/log/raw')}`)).status).toBe(401);
        expect((await fetch(`${base}/api/settings?auth_ticket=${await ticketFor('/api/events')}`)).status).toBe(401);
        expect((await mint('/api/events', {}, `?auth_ticket=${await ticketFor('/api/events')}`)).status).toBe(401);
        // The terminal handshake: refused without the token, past it (409: the job is not kept) with a ticket.
        const terminal = '/api/jobs/j1/terminal';
        await expect(openTerminal(`ws://127.0.0.1:${server.port}${terminal}`)).rejects.toMatchObject({ status: 401 });
        await expect(openTerminal(`ws://127.0.0.1:${server.port}${terminal}?auth_ticket=${await ticketFor('/api/jobs/j2/terminal')}`)).rejects.toMatchObject({ status: 401 });
        await expect(openTerminal(`ws://127.0.0.1:${server.port}${terminal}?auth_ticket=${await ticketFor(terminal)}`)).rejects.toMatchObject({ status: 409 });
      } finally {
        await close();
      }
    });
  });
});

describe('the HTTP API of an engine that has stopped', () => {
  it('answers 503 for new work and a 500 envelope without a stack trace when the engine fails inside, and logs one line', async () => {
    const { engine, server, close } = await startBareEngine(WEB);
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // The server outlives the engine for a moment during shutdown; its database is closed by then.
      await engine.stop();
      const trigger = await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: WEB }) });
      expect(trigger.status).toBe(503);
      expect(await trigger.json()).toEqual({ ok: false, error: { name: 'ApiError', code: 'UNAVAILABLE', message: 'the engine is stopping' } });
      const list = await fetch(`${server.url}/api/runs`);
      expect(list.status).toBe(500);
      const text = await list.text();
      expect(JSON.parse(text)).toEqual({ ok: false, error: { name: 'ApiError', code: 'INTERNAL', message: expect.stringMatching(/database connection is not open/) } });
      expect(text).not.toMatch(/\bat \S+ \(|\.ts:\d+/);
      // The server's own log gets one line naming the request (the stack only under KILN_DEBUG=1).
      const log = logged.mock.calls.map(([chunk]) => String(chunk)).join('');
      expect(log).toContain('kiln http: GET /api/runs failed: The database connection is not open\n');
      expect(log).not.toMatch(/\n\s+at /);
    } finally {
      logged.mockRestore();
      await close();
    }
  });
});
