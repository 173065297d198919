/**
 * The local guard against real `kiln serve`: requests shaped like a DNS-rebinding page's or another
 * origin's are refused on every API route, SSE stream and WebSocket handshake, while the same requests
 * with the server's real name pass. Raw node:http, because fetch may not set Host.
 */
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ListeningServe } from '../helpers/serve-child.js';
import { ensureRendererBuilt } from '../e2e/helpers/kiln-stack.js';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

const ROUTES: Array<[method: string, path: string]> = [
  ['GET', '/api/runs'], ['POST', '/api/runs'], ['GET', '/api/runs/r1'], ['POST', '/api/runs/r1/cancel'],
  ['POST', '/api/runs/r1/rerun'], ['GET', '/api/runs/r1/artifacts'], ['GET', '/api/artifacts/a1/download'],
  ['GET', '/api/jobs/j1/log'], ['GET', '/api/jobs/j1/log/stream'], ['GET', '/api/jobs/j1/log/search?q=x'],
  ['GET', '/api/jobs/j1/log/raw'], ['GET', '/api/metrics/storage'], ['GET', '/api/health'], ['GET', '/api/deliveries'],
  ['GET', '/api/repositories'], ['GET', '/api/events'], ['GET', '/api/settings'], ['PUT', '/api/settings/server'],
  ['PUT', '/api/repositories/evil/x'], ['DELETE', '/api/repositories/acme/web'], ['OPTIONS', '/api/settings'],
];
const BODIES: Record<string, string> = {
  'POST /api/runs': '{"repo":"acme/web"}',
  'PUT /api/settings/server': '{"concurrency":{"jobs":1}}',
  'PUT /api/repositories/evil/x': '{"url":"https://evil.example/x.git","addWebhookSecrets":["s"]}',
};

describe('kiln serve, called by web pages that are not its dashboard', () => {
  let dir: string;
  let served: ListeningServe | undefined;
  let port: number;
  let secret: string;
  const real = (): string => `127.0.0.1:${port}`;

  /** One request; an event stream answers with its status and headers, then is cut. */
  function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
        let text = '';
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
          res.destroy();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  function routeRequest(method: string, path: string, headers: Record<string, string>): Promise<Answer> {
    const body = BODIES[`${method} ${path}`];
    return send(method, path, body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body);
  }

  /** A raw WebSocket handshake; the server answers it with a plain HTTP status. */
  function handshake(headers: Record<string, string>): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port, path: '/api/terminal', setHost: false,
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
      });
      req.on('upgrade', () => reject(new Error('the server accepted a WebSocket upgrade')));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    ensureBuilt();
    ensureRendererBuilt();
    dir = mkdtempSync(join(tmpdir(), 'kiln-guard-'));
    writeFileSync(join(dir, 'kiln.config.yml'), 'server:\n  public-url: https://kiln.team.example\nrepositories:\n  - name: acme/web\n    url: /srv/git/web.git\n    webhook-secrets: [s3cret]\n');
    served = await startServe({ args: ['--config', join(dir, 'kiln.config.yml'), '--data', join(dir, 'data'), '--port', '0'] });
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    port = served.port;
    const page = await send('GET', '/', { host: real() });
    secret = /<meta name="kiln-session" content="([0-9a-f]{64})">/.exec(page.body)?.[1] ?? '';
  });

  afterAll(async () => {
    await served?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers to the host of server.public-url, the name commit statuses link to, and to no look-alike', async () => {
    // Known by that name (no 421), but a request by it comes from beyond this machine: no api-token is set, so 401.
    const byPublicName = await send('GET', '/api/health', { host: 'kiln.team.example' });
    expect([byPublicName.status, JSON.parse(byPublicName.body).error.message]).toEqual([401, expect.stringContaining('server.api-token is not set')]);
    expect((await send('GET', '/', { host: 'kiln.team.example' })).status).toBe(200);
    expect((await send('GET', '/api/health', { host: 'kiln.team.example.evil.example' })).status).toBe(421);
    expect((await send('GET', '/api/health', { host: 'evil-kiln.team.example' })).status).toBe(421);
  });

  it('embeds the per-install session secret in the dashboard page, never cached and never logged', async () => {
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(dir, 'data', 'session-secret'), 'utf8').trim()).toBe(secret);
    const page = await send('GET', '/index.html', { host: real() });
    expect(page.body).toContain(`content="${secret}"`);
    expect(page.headers['cache-control']).toBe('no-store');
    const deep = await send('GET', '/runs/r1', { host: real() });
    expect([deep.status, deep.body.includes(secret)]).toEqual([200, true]);
    expect(served?.output()).not.toContain(secret);
  });

  const hostShapes: Array<[string, (p: number) => Record<string, string>]> = [
    ['a DNS-rebinding page (its own name, no Origin)', (p) => ({ host: `evil.example:${p}` })],
    ['a DNS-rebinding page (its own name and origin)', (p) => ({ host: `evil.example:${p}`, origin: `http://evil.example:${p}` })],
    ['a rebinding name in mixed case', (p) => ({ host: `Evil.EXAMPLE:${p}`, origin: `http://evil.example:${p}` })],
    ['a rebinding name that starts with localhost', (p) => ({ host: `localhost.evil.example:${p}` })],
    ['an IPv4-mapped IPv6 Host', (p) => ({ host: `[::ffff:127.0.0.1]:${p}` })],
    ['a long-form IPv6 loopback Host', (p) => ({ host: `[0:0:0:0:0:0:0:1]:${p}` })],
    ['a Host with another port', (p) => ({ host: `127.0.0.1:${p + 1}` })],
  ];
  it.each(hostShapes)('refuses %s with 421 on every API route and the dashboard', async (_what, shape) => {
    // Every request is sent before anything is asserted, so that the check of the state afterwards sees them all.
    const routes = [...ROUTES, ['GET', '/'], ['GET', '/index.html']] as const;
    const answers = [];
    for (const [method, path] of routes) answers.push(await routeRequest(method, path, shape(port)));
    expect(answers.map((a, i) => `${routes[i].join(' ')} ${a.status}`)).toEqual(routes.map((r) => `${r.join(' ')} 421`));
    for (const a of answers) {
      expect(JSON.parse(a.body).error.message).toMatch(/^Host '.*' is not a name of this server/);
      expect(a.body).not.toContain(secret);
    }
  });

  const originShapes: Array<[string, (p: number) => Record<string, string>]> = [
    ['another origin on loopback (another port)', (p) => ({ origin: `http://127.0.0.1:${p + 1}` })],
    ['a rebinding origin with the real Host', (p) => ({ origin: `http://evil.example:${p}` })],
    ['the null origin (sandboxed frames, file: pages)', () => ({ origin: 'null' })],
    ['our own origin in mixed case', (p) => ({ origin: `HTTP://127.0.0.1:${p}` })],
    ['localhost as origin for a 127.0.0.1 Host', (p) => ({ origin: `http://localhost:${p}` })],
    ['a cross-site request that names no Origin', () => ({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' })],
  ];
  it.each(originShapes)('refuses %s with 403 on every API route, even with the session secret', async (_what, shape) => {
    const answers = [];
    for (const [method, path] of ROUTES) answers.push(await routeRequest(method, path, { host: real(), ...shape(port), 'x-kiln-session': secret }));
    expect(answers.map((a, i) => `${ROUTES[i].join(' ')} ${a.status}`)).toEqual(ROUTES.map((r) => `${r.join(' ')} 403`));
    for (const a of answers) expect(Object.keys(a.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('holds /API in other case to the API\'s rule: a cross-site read is refused, as Express serves it from the API', async () => {
    const h = { host: real(), 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' };
    const answers = [];
    for (const path of ['/API/runs', '/Api/health', '/aPi/settings']) answers.push(`${path} ${(await routeRequest('GET', path, h)).status}`);
    expect(answers).toEqual(['/API/runs 403', '/Api/health 403', '/aPi/settings 403']);
  });

  it.each([
    ['a text/plain body from another origin', { origin: 'http://127.0.0.1:1', 'content-type': 'text/plain;charset=UTF-8' }, 403],
    ['a form-encoded body from another origin', { origin: 'http://127.0.0.1:1', 'content-type': 'application/x-www-form-urlencoded' }, 403],
    ['a form post that names no Origin (older browsers)', { 'content-type': 'application/x-www-form-urlencoded' }, 400],
    ['a text/plain post that names no Origin', { 'content-type': 'text/plain' }, 400],
    ['a same-origin-looking JSON post without the session secret', { origin: 'http://127.0.0.1:PORT', 'content-type': 'application/json' }, 403],
  ])('refuses cross-site request forgery shaped as %s', async (_what, headers, status) => {
    const h = { host: real(), ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', String(port))])) };
    const forged = [['POST', '/api/runs', '{"repo":"acme/web"}'], ['POST', '/api/runs/r1/rerun', ''], ['PUT', '/api/repositories/evil/x', '{"url":"https://evil.example/x.git"}']] as const;
    const answers = [];
    for (const [method, path, body] of forged) answers.push(await send(method, path, h, body));
    expect(answers.map((a, i) => `${forged[i][1]} ${a.status}`)).toEqual(forged.map((f) => `${f[1]} ${status}`));
  });

  it('refuses WebSocket handshakes from other names and origins, and lets the real one reach the (absent) endpoint', async () => {
    expect((await handshake({ host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).status).toBe(421);
    expect((await handshake({ host: `127.0.0.1:${port + 1}` })).status).toBe(421);
    expect((await handshake({ host: real(), origin: `http://127.0.0.1:${port + 1}` })).status).toBe(403);
    expect((await handshake({ host: real(), origin: 'null' })).status).toBe(403);
    const own = await handshake({ host: real(), origin: `http://${real()}` });
    expect([own.status, JSON.parse(own.body).error.message]).toEqual([404, 'no WebSocket endpoint at /api/terminal']);
  });

  it('changed nothing: no repository added, no settings saved, no run started', async () => {
    const repos = JSON.parse((await send('GET', '/api/repositories', { host: real() })).body) as { name: string }[];
    expect(repos.map((r) => r.name)).toEqual(['acme/web']);
    const settings = JSON.parse((await send('GET', '/api/settings', { host: real() })).body) as { concurrency: { jobs: number } };
    expect(settings.concurrency.jobs).toBe(4);
    expect(JSON.parse((await send('GET', '/api/runs', { host: real() })).body)).toMatchObject({ items: [] });
  });

  it('keeps webhooks and badges reachable under any Host: one is signed, the other public', async () => {
    const hook = await send('POST', '/webhooks/github', { host: 'smee-forwarded.example', 'x-github-event': 'ping', 'x-github-delivery': 'd1', 'content-type': 'application/json' }, '{"zen":"z","repository":{"full_name":"acme/web"}}');
    expect([hook.status, JSON.parse(hook.body).reason]).toEqual([401, expect.stringMatching(/missing signature/)]);
    expect((await send('GET', '/badges/acme/web.svg', { host: 'readme-renderer.example', origin: 'https://github.com' })).status).toBe(200);
  });

  it('serves the same requests with the real names: the CLI without Origin, the dashboard with its origin and secret', async () => {
    for (const host of [real(), `localhost:${port}`, `[::1]:${port}`]) {
      for (const [method, path] of ROUTES) {
        if (method === 'OPTIONS' || method === 'DELETE') continue;
        const cli = await routeRequest(method, path, { host });
        expect([host, method, path, [403, 421].includes(cli.status)], cli.body).toEqual([host, method, path, false]);
        const dashboard = await routeRequest(method, path, { host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin', 'x-kiln-session': secret });
        expect([host, method, path, [403, 421].includes(dashboard.status)], dashboard.body).toEqual([host, method, path, false]);
      }
    }
    const added = await routeRequest('PUT', '/api/repositories/evil/x', { host: real(), origin: `http://${real()}`, 'x-kiln-session': secret });
    expect(added.status).toBe(200);
    const removed = await send('DELETE', '/api/repositories/evil/x', { host: real(), origin: `http://${real()}`, 'x-kiln-session': secret });
    expect(removed.status).toBe(200);
  });
});
