/**
 * Requests no client should send, against a real listening server over the fake engine: paths with
 * malformed percent-encoding get a 400 with a one-line JSON reason (express raises URIError while
 * decoding route parameters), and a seeded fuzz of random methods, paths, query strings and bodies
 * gets no 5xx, writes no stack trace to the server's log, and leaves the server serving.
 * A failing fuzz case prints its seed and request; KILN_FUZZ_SEED=<seed> replays that sequence.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import { prints } from '../helpers/fake-executor.js';
import { startApiEngine, type ApiEngine } from './helpers/api-engine.js';
import { seededRandom } from '../helpers/seeded-random.js';

const REPO = 'acme/fuzz';
const PIPELINE = 'name: ci\njobs:\n  quick:\n    image: busybox\n    steps:\n      - name: say\n        run: say\n';

interface Answer { status: number; body: string; contentType: string }

/** One raw request: the path goes on the wire as given (fetch would normalise it), Host is the server's own. */
function send(url: string, method: string, path: string, body?: { type: string; data: string }): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: body ? { 'content-type': body.type, 'content-length': Buffer.byteLength(body.data) } : {} }, (res) => {
      const contentType = String(res.headers['content-type'] ?? '');
      // Live streams (SSE) never end by themselves: their status and headers are all a case needs.
      if (contentType.startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, body: '', contentType });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body?.data);
  });
}


/** A WebSocket handshake (what a browser sends to open the terminal); answers with the refusal. */
function sendUpgrade(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: hostname, port, method: 'GET', path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
      res.on('error', reject);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '', contentType: '' });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`upgrade ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A 4xx with a one-line JSON reason: what every refusal of a bad request must look like. */
function expectClearRefusal(res: Answer, what: string): void {
  expect(res.status, `${what} → ${res.status} ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `${what} → ${res.status} ${res.body.slice(0, 300)}`).toBeLessThan(500);
  expect(res.contentType, what).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { ok: boolean; error: { code: string; message: string } };
  expect(body.ok, what).toBe(false);
  expect(body.error.message.length, what).toBeGreaterThan(10);
  expect(body.error.message, what).not.toMatch(/\n|\bat .*\.(ts|js):\d+/);
}

let kiln: ApiEngine;
let run: RunDetail;
let stderrLines: string[];

beforeAll(async () => {
  kiln = await startApiEngine({ repos: { [REPO]: { main: PIPELINE } }, programs: { say: prints('hello') } });
  run = await kiln.waitForRun(await kiln.trigger(REPO, 'main'));
  stderrLines = [];
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    stderrLines.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await kiln?.close();
});

describe('a path with malformed percent-encoding', () => {
  it.each([
    ['GET', '/api/runs/%ff%fe/artifacts', '%ff%fe'],
    ['GET', '/api/runs/%E0%A4%A', '%E0%A4%A'],
    ['POST', '/api/runs/%/cancel', '%'],
    ['GET', '/api/jobs/%c3%28/log', '%c3%28'],
    ['GET', '/badges/%ff/x.svg', '%ff'],
    ['GET', '/badges/acme/%ff.svg', '%ff.svg'],
    ['GET', '/runs/%ff', '%ff'],
  ])('answers %s %s with 400 and a one-line JSON reason naming the bad part, and logs no stack', async (method, path, part) => {
    const before = stderrLines.length;
    const res = await send(kiln.server.url, method, path);
    expect(res.status).toBe(400);
    expect(res.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(res.body) as { ok: boolean; error: { code: string; message: string } };
    expect(body).toEqual({ ok: false, error: { name: 'ApiError', code: 'BAD_REQUEST', message: `malformed percent-encoding in the request path at '${part}': each % must start a %XX escape of a complete UTF-8 sequence` } });
    expect(body.error.message).not.toContain('\n');
    expect(stderrLines.slice(before).join('')).not.toMatch(/URIError|\n\s+at /);
  });

  it('still decodes well-formed escapes: a real run id, percent-encoded, is found', async () => {
    const res = await send(kiln.server.url, 'GET', `/api/runs/${encodeURIComponent(run.id).replace(/-/g, '%2D')}/artifacts`);
    expect(res.status).toBe(200);
  });
});

describe('the routes for test reports, timing, job records, log groups, approvals, debugging, schedules and storage', () => {
  const json = (data: string) => ({ type: 'application/json', data });
  const cases: Array<{ method: string; path: () => string; body?: { type: string; data: string }; why: string }> = [
    { method: 'GET', path: () => '/api/runs/no-such-run/tests', why: 'an unknown run' },
    { method: 'GET', path: () => `/api/runs/${run.id}/tests?q=a&q=b`, why: 'a repeated q' },
    { method: 'GET', path: () => '/api/runs/no-such-run/timing', why: 'an unknown run' },
    { method: 'GET', path: () => '/api/runs/%ff/records', why: 'a malformed id' },
    { method: 'GET', path: () => '/api/runs/no-such-run/records', why: 'an unknown run' },
    { method: 'GET', path: () => '/api/jobs/no-such-job/log/groups', why: 'an unknown job' },
    { method: 'GET', path: () => '/api/jobs/%c3%28/log/groups', why: 'a malformed id' },
    { method: 'POST', path: () => '/api/jobs/no-such-job/approve', body: json('{}'), why: 'an unknown job' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/approve`, body: json('{}'), why: 'a job that waits for no approval' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/reject`, body: json('{"by": 42}'), why: 'a by that is not a name' },
    { method: 'POST', path: () => '/api/jobs/no-such-job/reject', body: json('[1,2]'), why: 'a body that is not an object' },
    { method: 'POST', path: () => '/api/jobs/no-such-job/debug/extend', body: json('{"minutes": 30}'), why: 'a job not kept' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/debug/extend`, body: json('{"minutes": "lots"}'), why: 'minutes not a number' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/debug/extend`, body: json('{"minutes": -5}'), why: 'negative minutes' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/debug/extend`, body: json('{"minutes":'), why: 'broken JSON' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/debug/end`, body: json('{}'), why: 'a finished job, not kept' },
    { method: 'POST', path: () => '/api/jobs/%/debug/end', why: 'a malformed id' },
    { method: 'POST', path: () => `/api/jobs/${run.jobs[0].id}/debug/rerun-step`, body: json('{}'), why: 'a job not kept' },
    { method: 'POST', path: () => '/api/debug/jobs', body: json('{}'), why: 'a method the list does not take' },
    { method: 'DELETE', path: () => '/api/schedules', why: 'a method the list does not take' },
    { method: 'POST', path: () => '/api/storage/free', body: json('{"artifacts": "yes"}'), why: 'artifacts not a boolean' },
    { method: 'POST', path: () => '/api/storage/free', body: json('{"logsOlderThanDays": -1}'), why: 'negative days' },
    { method: 'POST', path: () => '/api/storage/free', body: json('"everything"'), why: 'a body that is not an object' },
    { method: 'POST', path: () => '/api/storage/free', body: { type: 'text/plain', data: 'artifacts=true' }, why: 'a body that is not JSON' },
  ];
  for (const c of cases) {
    it(`refuses ${c.method} ${c.path.toString().replace(/^\(\) => /, '')} (${c.why}) with a 4xx and a one-line JSON reason`, async () => {
      const before = stderrLines.length;
      const res = await send(kiln.server.url, c.method, c.path(), c.body);
      expectClearRefusal(res, `${c.method} ${c.path()}`);
      expect(stderrLines.slice(before).join('')).not.toMatch(/kiln http:|\n\s+at /);
    });
  }

  const upgrades: Array<{ path: () => string; headers?: Record<string, string>; status: number; why: string }> = [
    { path: () => '/api/jobs/no-such-job/terminal', status: 409, why: 'a job not kept' },
    { path: () => `/api/jobs/${run.jobs[0].id}/terminal?cols=abc&rows=-1`, status: 409, why: 'a finished job, with bad sizes' },
    { path: () => '/api/jobs/%ff%fe/terminal', status: 400, why: 'a malformed id' },
    { path: () => '/api/jobs/x/terminal?ticket=forged', status: 403, why: 'a forged ticket' },
    { path: () => '/api/jobs/x/terminal', headers: { origin: 'https://evil.example' }, status: 403, why: 'another origin' },
    { path: () => '/api/jobs/x/terminal', headers: { host: 'rebind.example' }, status: 421, why: 'a host the server is not known by' },
  ];
  for (const u of upgrades) {
    it(`refuses the terminal's WebSocket handshake for ${u.why} with ${u.status} and a one-line JSON reason`, async () => {
      const res = await sendUpgrade(kiln.server.url, u.path(), u.headers);
      expectClearRefusal(res, u.path());
      expect(res.status).toBe(u.status);
    });
  }
});

describe('a seeded fuzz of random requests', () => {
  const seed = Number(process.env.KILN_FUZZ_SEED ?? 20261206);
  const COUNT = 400;

  it(`answers ${COUNT} random requests without a 5xx or a stack trace, and keeps serving (seed ${seed})`, async () => {
    const rand = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
    const segment = (): string => pick([
      run.id, run.jobs[0].id, 'acme', 'fuzz', 'nope', '', '..', '%2e%2e', '%2F', '%ff', '%', '%zz', '%e2%82', '%E2%82%AC', '%00', '~', '-1', '0',
      '99999999999999999999', 'x'.repeat(300), "a'b", 'é', '%C3%A9', '.svg', 'x.svg', 'index.html', '%5C', '*',
    ]);
    // Shapes of the real routes (the forge connect route is left out: it would reach the network).
    const SHAPES: Array<() => string> = [
      () => '/api/runs', () => `/api/runs/${segment()}`, () => `/api/runs/${segment()}/${pick(['artifacts', 'cancel', 'rerun', 'reporting', segment()])}`,
      () => `/api/jobs/${segment()}/log`, () => `/api/jobs/${segment()}/log/${pick(['search', 'raw', 'stream', segment()])}`,
      () => `/api/artifacts/${segment()}/download`, () => `/api/${pick(['health', 'deliveries', 'repositories', 'settings', 'metrics/storage', segment()])}`,
      () => `/api/settings/${segment()}`, () => `/api/repositories/${segment()}/${segment()}`, () => `/badges/${segment()}/${segment()}`,
      () => `/badges/${segment()}/${segment()}.svg`, () => '/webhooks/github', () => `/${segment()}`, () => `/${segment()}/${segment()}/${segment()}`,
      () => `/assets/${segment()}`, () => '/index.html',
      () => `/api/runs/${segment()}/${pick(['tests', 'timing', 'records'])}`, () => `/api/jobs/${segment()}/log/groups`,
      () => `/api/jobs/${segment()}/${pick(['approve', 'reject'])}`, () => `/api/jobs/${segment()}/debug/${pick(['extend', 'end', 'rerun-step', segment()])}`,
      () => `/api/${pick(['debug/jobs', 'schedules', 'storage/free', 'debug', 'storage'])}`,
    ];
    const query = (): string => {
      const n = Math.floor(rand() * 4);
      if (n === 0) return '';
      const pairs = Array.from({ length: n }, () => `${pick(['limit', 'cursor', 'offset', 'q', 'repo', 'status', 'branch', 'label', 'failedOnly', '%ff', '', 'x[y]'])}=${pick(['1', '0', '-5', '201', 'abc', '%ff', '%', '', 'passed', REPO, 'main', 'x'.repeat(500), '%E2%82%AC'])}`);
      return `?${pairs.join('&')}`;
    };
    const json = (): string => JSON.stringify(Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [
      pick(['repo', 'branch', 'sha', 'failedOnly', 'concurrency', 'retention', 'defaultBranch', 'secrets', 'addWebhookSecrets', 'removeWebhookSecrets', 'x',
        'debug', 'minutes', 'by', 'artifacts', 'caches', 'logsOlderThanDays']),
      pick<unknown>([REPO, 'main', 'nope', 'deadbeef', 42, -1, true, null, [], {}, ['a', 1], { jobs: 'many' }, { DEPLOY: 'v' }, 'x'.repeat(2000)]),
    ])));
    const body = (): { type: string; data: string } | undefined => pick([
      undefined, undefined,
      { type: 'application/json', data: json() },
      { type: 'application/json', data: pick(['{', '[1,2]', 'null', '"s"', '{"repo":', '\u0000', '']) },
      { type: 'text/plain', data: 'hello' },
      { type: 'application/x-www-form-urlencoded', data: `repo=${REPO}` },
      { type: 'application/json; charset=latin-7', data: '{}' },
    ]);

    const before = stderrLines.length;
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < COUNT; i++) {
      const method = pick(METHODS);
      const path = pick(SHAPES)() + query();
      const b = method === 'GET' || method === 'HEAD' ? undefined : body();
      const res = await send(kiln.server.url, method, path, b);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`#${i} ${method} ${path} ${b ? `(${b.type}) ${b.data.slice(0, 80)}` : ''} → ${res.status} ${res.body.slice(0, 200)}`);
    }
    // The terminal's WebSocket handshake, with random ids, sizes and headers.
    for (let i = 0; i < 60; i++) {
      const path = `/api/jobs/${segment()}/terminal${pick(['', '?cols=80&rows=24', '?cols=%ff', '?ticket=', '?ticket=x', '?flow=ack&cols=-1', query()])}`;
      const headers = pick<Record<string, string>>([{}, { origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-websocket-version': '8' }, { 'sec-websocket-key': '' }]);
      const res = await sendUpgrade(kiln.server.url, path, headers);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500 || res.status < 400) failures.push(`upgrade #${i} ${path} ${JSON.stringify(headers)} → ${res.status} ${res.body.slice(0, 200)}`);
    }
    expect(failures, `seed ${seed}; replay with KILN_FUZZ_SEED=${seed}`).toEqual([]);
    // The fuzz reaches the routes, not only the 404 handler: successes and several kinds of refusal.
    const seen = [...statuses.keys()];
    expect(seen.filter((s) => s < 300).length, JSON.stringify(Object.fromEntries(statuses))).toBeGreaterThan(0);
    expect(seen.filter((s) => s >= 400 && s < 500).length, JSON.stringify(Object.fromEntries(statuses))).toBeGreaterThanOrEqual(3);
    expect(stderrLines.slice(before).join(''), `seed ${seed}`).not.toMatch(/kiln http:|\n\s+at /);
    // Still serving: health answers, and the run from before is still there.
    const health = await send(kiln.server.url, 'GET', '/api/health');
    expect(health.status).toBe(200);
    expect((await send(kiln.server.url, 'GET', `/api/runs/${run.id}`)).status).toBe(200);
  });
});
