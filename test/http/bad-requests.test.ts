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
    ];
    const query = (): string => {
      const n = Math.floor(rand() * 4);
      if (n === 0) return '';
      const pairs = Array.from({ length: n }, () => `${pick(['limit', 'cursor', 'offset', 'q', 'repo', 'status', 'branch', 'label', 'failedOnly', '%ff', '', 'x[y]'])}=${pick(['1', '0', '-5', '201', 'abc', '%ff', '%', '', 'passed', REPO, 'main', 'x'.repeat(500), '%E2%82%AC'])}`);
      return `?${pairs.join('&')}`;
    };
    const json = (): string => JSON.stringify(Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [
      pick(['repo', 'branch', 'sha', 'failedOnly', 'concurrency', 'retention', 'defaultBranch', 'secrets', 'addWebhookSecrets', 'removeWebhookSecrets', 'x']),
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
