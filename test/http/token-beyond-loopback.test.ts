/**
 * The API token behind a reverse proxy, on a real listening server: Kiln on 127.0.0.1 with the
 * proxy's name in server.allowed-hosts (and server.public-url). Requests that name that host (as a
 * proxy forwards a remote browser's), or that carry a proxy's forwarding header, need the token like
 * any request to a server bound beyond loopback; without a token configured they are refused, with
 * the setting named. Requests by a loopback name stay as they were, and webhooks and badges keep
 * their own rules. Raw node:http, because fetch may not set Host.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { DebugTerminals, KilnEngine } from '../../src-main/core/engine-contract.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { fixturePath } from '../helpers/fixtures.js';
import { pipelineOf, startFakeEngine, type FakeEngine } from '../helpers/fake-engine.js';

const PROXY = 'kiln.team.example';
const TOKEN = 'tok-5e8a1f0c7b2d';
const HOOK_SECRET = 'hook-secret-9';

interface Answer { status: number; body: string }

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, body: '' });
        res.destroy();
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A WebSocket handshake for a terminal; the refusal's status (101 when accepted). */
function handshake(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path, setHost: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve({ status: 101, body: '' }); });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The engine with terminals into one stand-in kept job, `kept-1` (the fake executor has no containers). */
function withTerminals(engine: KilnEngine): KilnEngine {
  const terminals: DebugTerminals = {
    isKept: (id) => id === 'kept-1',
    open: () => new Promise(() => undefined),
    containerGone: () => Promise.resolve(undefined),
  };
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'terminals') return terminals;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('a server on 127.0.0.1 reached through a reverse proxy by its name', () => {
  let kiln: FakeEngine | undefined;
  let server: RunningServer | undefined;
  const warnings: string[] = [];

  const start = async (server0: { apiToken?: string; allowedHosts?: string[]; publicUrl?: string; host?: string }): Promise<number> => {
    const { host = '127.0.0.1', ...rest } = server0;
    kiln = await startFakeEngine({
      repos: { 'acme/web': { main: pipelineOf({ build: ['ok'] }) } },
      configure: () => ({ webhookSecrets: [HOOK_SECRET] }),
      config: { server: { host, port: 0, ...rest } },
    });
    server = await startServer({ engine: withTerminals(kiln.engine), port: 0, warn: (line) => warnings.push(line) });
    return server.port;
  };

  afterEach(async () => {
    await server?.close();
    await kiln?.close();
    server = undefined;
    kiln = undefined;
    warnings.splice(0);
  });

  describe('with no server.api-token', () => {
    it('refuses the API and the terminal to a request by the proxy name with 401 naming server.api-token', async () => {
      const port = await start({ allowedHosts: [PROXY] });
      for (const path of ['/api/health', '/api/runs', '/api/settings', '/api/events']) {
        const a = await send(port, 'GET', path, { host: PROXY });
        expect([path, a.status]).toEqual([path, 401]);
        expect(JSON.parse(a.body).error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('server.api-token is not set') });
      }
      const post = await send(port, 'POST', '/api/runs', { host: PROXY, 'content-type': 'application/json' }, '{"repo":"acme/web"}');
      expect(post.status).toBe(401);
      expect((await kiln!.engine.listRuns({})).items).toEqual([]);
      const term = await handshake(port, '/api/jobs/kept-1/terminal', { host: PROXY });
      expect(term.status).toBe(401);
      expect(term.body).toContain('server.api-token');
    });

    it('refuses a request by a loopback name that came through a proxy (a forwarding header)', async () => {
      const port = await start({ allowedHosts: [PROXY] });
      for (const header of ['x-forwarded-for', 'forwarded', 'x-forwarded-host', 'x-real-ip']) {
        const a = await send(port, 'GET', '/api/health', { host: `127.0.0.1:${port}`, [header]: header === 'forwarded' ? 'for=203.0.113.9' : '203.0.113.9' });
        expect([header, a.status]).toEqual([header, 401]);
      }
    });

    it('answers a request by a loopback name, as before', async () => {
      const port = await start({ allowedHosts: [PROXY] });
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) expect((await send(port, 'GET', '/api/health', { host })).status).toBe(200);
      expect((await handshake(port, '/api/jobs/kept-1/terminal', { host: `127.0.0.1:${port}` })).status).toBe(101);
    });

    it('keeps badges and signed webhooks reachable by the proxy name', async () => {
      const port = await start({ allowedHosts: [PROXY] });
      expect((await send(port, 'GET', '/badges/acme/web.svg', { host: PROXY })).status).toBe(200);
      const body = readFileSync(fixturePath('github/ping.json'), 'utf8').replace(/"full_name":\s*"[^"]*"/, '"full_name": "acme/web"');
      const hook = await send(port, 'POST', '/webhooks/github', {
        host: PROXY, 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`,
      }, body);
      expect(hook.status).toBeLessThan(300);
    });

    it('warns once at start that the names in allowed-hosts and public-url reach it without a token', async () => {
      await start({ allowedHosts: [PROXY, 'localhost:8080'], publicUrl: 'https://ci.team.example' });
      expect(warnings).toEqual([
        `kiln: ${PROXY}, ci.team.example (server.allowed-hosts / server.public-url) reach this server from other machines, but server.api-token is not set: their /api requests and terminals are refused (401) until it is`,
      ]);
    });

    it('does not warn when every allowed name is a loopback one', async () => {
      await start({ allowedHosts: ['localhost:8080', '127.0.0.2'] });
      expect(warnings).toEqual([]);
    });
  });

  describe('with server.api-token set', () => {
    it('asks the proxy name for the token, and answers with it (header, ticket); a loopback name needs none', async () => {
      const port = await start({ allowedHosts: [PROXY], apiToken: TOKEN });
      expect(warnings).toEqual([]);
      const bare = await send(port, 'GET', '/api/runs', { host: PROXY });
      expect(bare.status).toBe(401);
      expect(JSON.parse(bare.body).error.message).toContain('Authorization: Bearer');
      expect((await send(port, 'GET', '/api/runs', { host: PROXY, authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await send(port, 'GET', '/api/runs', { host: PROXY, authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      const minted = await send(port, 'POST', '/api/auth/tickets', { host: PROXY, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, '{"path":"/api/events"}');
      const { ticket } = JSON.parse(minted.body) as { ticket: string };
      expect((await send(port, 'GET', `/api/events?auth_ticket=${ticket}`, { host: PROXY })).status).toBe(200);
      expect((await handshake(port, '/api/jobs/kept-1/terminal', { host: PROXY })).status).toBe(401);
      expect((await handshake(port, '/api/jobs/kept-1/terminal', { host: PROXY, authorization: `Bearer ${TOKEN}` })).status).toBe(101);
      expect((await send(port, 'GET', '/api/runs', { host: `127.0.0.1:${port}` })).status).toBe(200);
    });
  });
});

describe('the desktop terminal URL of a server bound to every address', () => {
  let kiln: FakeEngine | undefined;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    await kiln?.close();
  });

  it('names 127.0.0.1, which the page may connect to and the Host check knows, and opens there', async () => {
    kiln = await startFakeEngine({ repos: { 'acme/web': { main: pipelineOf({ build: ['ok'] }) } }, config: { server: { host: '0.0.0.0', port: 0, apiToken: TOKEN } } });
    server = await startServer({ engine: withTerminals(kiln.engine), port: 0, warn: () => undefined });
    const url = new URL(server.terminalUrl!('kept-1'));
    expect(url.host).toBe(`127.0.0.1:${server.port}`);
    expect((await handshake(server.port, `${url.pathname}${url.search}`, { host: url.host })).status).toBe(101);
  });
});
