/**
 * What a new user met in the HTTP API, against the real Engine (scripted executor) behind a real
 * listening server: the debug routes tell an unknown job (404) from one not kept (409), take 1–1440
 * minutes and say when the one-day cap cut an extension short; connecting an unknown repository
 * is a 404; a JSON body that is not an object, a bad log-stream offset and a plain GET of the
 * terminal get one-line reasons; a manual run's re-run is recorded as by whoever re-ran it; and
 * the health answer counts jobs waiting on their needs apart from queued ones.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Health, KeptJobInfo } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { exits, held, prints } from '../helpers/fake-executor.js';
import { pipelineOf, startFakeEngine, type FakeEngine } from '../helpers/fake-engine.js';

const CHAIN = `name: chain
on: { manual: true }
jobs:
  first:
    image: fake
    steps: [{ run: hold }]
  second:
    image: fake
    needs: [first]
    steps: [{ run: ok }]
  third:
    image: fake
    needs: [second]
    steps: [{ run: ok }]
`;
const REPOS = {
  'acme/web': { main: pipelineOf({ build: ['ok', 'fail'] }), green: pipelineOf({ build: ['ok'] }), chain: CHAIN },
};

let kiln: FakeEngine;
let server: RunningServer;
let session: string;

async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: { ok?: boolean; error?: { code: string; message: string } } & Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, body });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {}, headers: res.headers };
}

beforeAll(async () => {
  kiln = await startFakeEngine({
    repos: REPOS, programs: { ok: prints('fine'), fail: exits(2, 'broken on purpose'), hold: held(['holding']) },
    configure: () => ({ debugFailures: true }),
  });
  // The dashboard's page, for its session secret (what the dashboard's client sends as x-kiln-session).
  const staticDir = join(kiln.root, 'static');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Kiln</title><div id="root"></div>');
  server = await startServer({ engine: kiln.engine, port: 0, staticDir });
  const page = await (await fetch(`${server.url}/`)).text();
  session = /<meta name="kiln-session" content="([0-9a-f]+)">/.exec(page)?.[1] ?? '';
  expect(session).not.toBe('');
});
afterAll(async () => {
  await server?.close();
  await kiln?.close();
});

describe('the debug routes', () => {
  let kept: KeptJobInfo;
  let passedJob: string;

  beforeAll(async () => {
    const runId = await kiln.trigger('acme/web', 'main');
    kept = await kiln.waitFor(async () => (await kiln.engine.listKeptJobs()).find((j) => j.runId === runId), 20_000, 'the failed job to be kept');
    passedJob = (await kiln.waitForRun(await kiln.trigger('acme/web', 'green'))).jobs[0].id;
  });

  it.each([
    ['POST', '/api/jobs/nosuch/debug/end'],
    ['POST', '/api/jobs/nosuch/debug/extend'],
    ['POST', '/api/jobs/nosuch/debug/rerun-step'],
  ])('answers %s %s for an unknown job with 404 like other job routes', async (method, path) => {
    const res = await send(method, path);
    expect(res.status).toBe(404);
    expect(res.json.error).toEqual({ name: 'ApiError', code: 'NOT_FOUND', message: "job 'nosuch' does not exist" });
  });

  it('answers 409 for a job that exists but is not kept', async () => {
    const res = await send('POST', `/api/jobs/${passedJob}/debug/end`);
    expect(res.status).toBe(409);
    expect(res.json.error?.message).toMatch(/is not kept for debugging/);
  });

  it.each([[0], [-5], [1441], ['ten']])('refuses minutes %j with a message that states the rule, 1 to 1440', async (minutes) => {
    const res = await send('POST', `/api/jobs/${kept.jobId}/debug/extend`, JSON.stringify({ minutes }));
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toBe(`body.minutes must be a number of minutes from 1 to 1440; got ${JSON.stringify(minutes)}`);
  });

  it('says when the one-day cap cut an extension short, and not when it did not', async () => {
    const first = await send('POST', `/api/jobs/${kept.jobId}/debug/extend`, JSON.stringify({ minutes: 1 }));
    expect(first.status).toBe(200);
    expect(first.json.capped).toBeUndefined();
    const full = await send('POST', `/api/jobs/${kept.jobId}/debug/extend`, JSON.stringify({ minutes: 1440 }));
    expect(full.status).toBe(200);
    expect(full.json.capped).toBe(true);
    const again = await send('POST', `/api/jobs/${kept.jobId}/debug/extend`, JSON.stringify({ minutes: 60 }));
    expect(again.json).toMatchObject({ capped: true, message: expect.stringMatching(/^a kept job stays at most one day ahead: the deadline is now \S+ \(0 min later, not the 60 min asked for\)$/) });
    expect(again.json.deadline as number).toBeLessThanOrEqual(Date.now() + 24 * 60 * 60_000);
    expect((await send('POST', `/api/jobs/${kept.jobId}/debug/end`)).status).toBe(200);
  });
});

describe('requests a script gets wrong', () => {
  it('answers a connect of an unknown repository without a URL with 404 and a one-line reason', async () => {
    const res = await send('POST', '/api/repositories/acme/nosuch/connect', '{}');
    expect(res.status).toBe(404);
    expect(res.json.error).toEqual({ name: 'ApiError', code: 'NOT_FOUND', message: "repository 'acme/nosuch' is not configured: give its clone URL (url), or add it in Settings first" });
  });

  it.each([['null'], ['3'], ['"x"']])('answers the JSON body %s with "must be a JSON object"', async (body) => {
    const res = await send('PUT', '/api/settings/server', body);
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toBe(`the JSON body must be a JSON object; got ${body}`);
  });

  it('still calls broken JSON malformed', async () => {
    const res = await send('PUT', '/api/settings/server', '{"a":');
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toMatch(/^malformed JSON body: /);
  });

  it('answers a plain GET of the terminal with 426 Upgrade Required and a one-line reason', async () => {
    const res = await send('GET', '/api/jobs/anything/terminal');
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(res.json.error?.message).toBe('the terminal is a WebSocket: connect with an Upgrade: websocket request (see docs/debug.md)');
  });

  it.each([['abc'], ['-5'], ['1.5']])('refuses ?offset=%s on the log stream with 400, as /log does', async (offset) => {
    const run = await kiln.waitForRun(await kiln.trigger('acme/web', 'green'));
    const stream = await send('GET', `/api/jobs/${run.jobs[0].id}/log/stream?offset=${offset}`);
    const plain = await send('GET', `/api/jobs/${run.jobs[0].id}/log?offset=${offset}`);
    expect([stream.status, plain.status]).toEqual([400, 400]);
    expect(stream.json.error?.message).toBe(`query parameter offset must be a whole number; got '${offset}'`);
    expect(stream.json.error).toEqual(plain.json.error);
  });
});

describe('a re-run of a manual run', () => {
  it('is recorded as by ui from the dashboard and by api from a script, whoever started the first run', async () => {
    const started = await send('POST', '/api/runs', JSON.stringify({ repo: 'acme/web', branch: 'green' }));
    const [runId] = started.json.runIds as string[];
    expect((await kiln.waitForRun(runId)).triggeredBy).toBe('api');
    const fromDashboard = await send('POST', `/api/runs/${runId}/rerun`, JSON.stringify({ failedOnly: true }), { 'x-kiln-session': session });
    expect(fromDashboard.status).toBe(201);
    expect((await kiln.waitForRun(fromDashboard.json.runId as string)).triggeredBy).toBe('ui');
    const fromScript = await send('POST', `/api/runs/${fromDashboard.json.runId as string}/rerun`, '{}');
    expect((await kiln.waitForRun(fromScript.json.runId as string)).triggeredBy).toBe('api');
  });
});

describe('the health answer while a chain of jobs runs', () => {
  it('counts jobs waiting on their needs apart from queued ones', async () => {
    const runId = await kiln.trigger('acme/web', 'chain');
    await kiln.waitFor(async () => ((await kiln.engine.getRun(runId)).jobs.find((j) => j.name === 'first')?.status === 'running' ? true : undefined), 20_000, 'the first job to run');
    const health = (await send('GET', '/api/health')).json as unknown as Health;
    expect(health.queue).toMatchObject({ queued: 0, waitingOnNeeds: 2, running: 1 });
    kiln.executor.release(runId);
    const run: RunDetail = await kiln.waitForRun(runId);
    expect(run.status).toBe('passed');
  });
});
