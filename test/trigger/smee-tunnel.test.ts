import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TunnelState } from '../../shared/api/engine-api.js';
import type { RunSummary } from '../../shared/model/run.js';
import { startServer } from '../../src-main/http/app.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { signGithub } from '../../src-main/trigger/signature.js';
import { SmeeTunnel } from '../../src-main/trigger/smee-tunnel.js';
import { startFakeEngine, type Engine, type FakeEngine } from '../helpers/fake-engine.js';
import { eventTimeOf, fixture } from './helpers/deliver.js';

const SECRET = 'tunnel-secret';

/** A local stand-in for smee.io: one SSE channel that relays deliveries in smee's format. */
class FakeSmeeChannel {
  readonly clients = new Set<ServerResponse>();
  connections = 0;
  refuse = false;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (this.refuse) {
        res.writeHead(503).end();
        return;
      }
      this.connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(': ready\n\n');
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/channel-${randomUUID()}`;
  }

  /** What smee.io sends for one delivery: the original headers (lower-case), `body` parsed, `query`, `timestamp`. */
  relay(headers: Record<string, string>, rawBody: string): void {
    const message = { ...headers, body: JSON.parse(rawBody) as unknown, query: {}, timestamp: Date.now() };
    for (const c of this.clients) c.write(`data: ${JSON.stringify(message)}\n\n`);
  }

  drop(): void {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
  }

  async stop(): Promise<void> {
    this.drop();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GitHub's headers for a delivery of `raw` (exact bytes GitHub signed). */
function githubHeaders(raw: string): Record<string, string> {
  return {
    host: 'smee.io',
    accept: '*/*',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'content-type': 'application/json',
    'x-github-event': 'push',
    'x-github-delivery': randomUUID(),
    'x-github-hook-id': '109948940',
    'x-hub-signature-256': signGithub(SECRET, raw),
  };
}

/** The real push payload, its commit message replaced with non-ASCII text and characters encoders escape. */
function pushWithMessage(message: string): Record<string, unknown> {
  const payload = JSON.parse(fixture('github/push.branch-created.json').toString('utf8')) as Record<string, unknown> & { head_commit: { message: string }; commits: { message: string }[] };
  payload.head_commit.message = message;
  payload.commits[0].message = message;
  return payload;
}

const escapeNonAscii = (s: string): string => s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const escapeHtml = (s: string): string => s.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

describe('the smee tunnel', () => {
  let kiln: FakeEngine;
  let engine: Engine;
  let server: RunningServer;
  let channel: FakeSmeeChannel;
  let tunnel: SmeeTunnel;
  const states: TunnelState[] = [];
  const clock = eventTimeOf(fixture('github/push.branch-created.json')) + 3_000;

  beforeEach(async () => {
    states.length = 0;
    // The real Engine; the fixture's commit is not in any local repository, so each accepted
    // delivery becomes a run that fails at once (no container) — the run record is what we check.
    kiln = await startFakeEngine({
      extraRepositories: [{ name: 'Codertocat/Hello-World', url: join(tmpdir(), `kiln-smee-not-cloned-${randomUUID()}.git`), webhookSecrets: [SECRET] }],
      options: { onError: () => {} },
    });
    engine = kiln.engine;
    server = await startServer({ engine, port: 0, now: () => clock });
    channel = new FakeSmeeChannel();
    await channel.start();
    tunnel = new SmeeTunnel({
      source: channel.url,
      target: `${server.url}/webhooks/github`,
      onState: (s) => { states.push(s); engine.setTunnelState(s); },
      initialBackoffMs: 100,
      maxBackoffMs: 400,
    });
    await tunnel.start();
    await waitFor(() => tunnel.current.state === 'connected', 'the tunnel to connect');
  });

  afterEach(async () => {
    await tunnel.stop();
    await channel.stop();
    await server.close();
    await kiln.close();
  });

  const runs = async (): Promise<RunSummary[]> => (await engine.listRuns({})).items.reverse();
  const firstRun = async (): Promise<RunSummary | undefined> => (await runs())[0];
  const deliveries = () => engine.listDeliveries(100);

  it('reports connecting then connected, visible in health', async () => {
    expect(states.map((s) => s.state).slice(0, 2)).toEqual(['connecting', 'connected']);
    const health = (await (await fetch(`${server.url}/api/health`)).json()) as { tunnel: TunnelState };
    expect(health.tunnel).toMatchObject({ state: 'connected', url: channel.url });
  });

  it('delivers a push whose GitHub bytes escaped HTML characters but kept non-ASCII text literal', async () => {
    const message = 'Añadir café ☕ — 日本語 <b>bold</b> & a/b 🚀';
    const raw = escapeHtml(JSON.stringify(pushWithMessage(message)));
    expect(raw).toContain('\\u003cb\\u003e');
    channel.relay(githubHeaders(raw), raw);
    const event = await waitFor(firstRun, 'the run to be triggered');
    expect(event).toMatchObject({ event: 'push', branch: 'master', commitMessage: message });
    const [record] = await deliveries();
    expect(record).toMatchObject({ outcome: 'accepted', httpStatus: 202 });
  });

  it('delivers a push whose GitHub bytes escaped every non-ASCII character and slash', async () => {
    const message = 'Ünïcödé: 中文 “quotes” </script> C:\\path\\ a/b';
    const raw = escapeNonAscii(JSON.stringify(pushWithMessage(message))).replace(/\//g, '\\/');
    expect(raw).not.toMatch(/[^\x00-\x7f]/);
    channel.relay(githubHeaders(raw), raw);
    const event = await waitFor(firstRun, 'the run to be triggered');
    expect(event.commitMessage).toBe(message);
  });

  it('rejects with 401 and a reason naming smee when the relayed bytes cannot reproduce the signed ones', async () => {
    // The fixture file as stored is pretty-printed; smee re-sends it compact, so the signature cannot match.
    const raw = fixture('github/push.branch-created.json').toString('utf8');
    channel.relay(githubHeaders(raw), raw);
    const record = await waitFor(async () => (await deliveries())[0], 'the delivery to be recorded');
    expect(record).toMatchObject({ outcome: 'rejected', httpStatus: 401 });
    expect(record.reason).toMatch(/smee/);
    expect(record.reason).toMatch(/re-serialises/);
    expect(await runs()).toHaveLength(0);
  });

  it('ignores smee\'s unsigned timestamp for replay decisions', async () => {
    const raw = JSON.stringify(pushWithMessage('same body twice'));
    channel.relay(githubHeaders(raw), raw);
    await waitFor(firstRun, 'the first delivery');
    // Same body, new delivery id, a later smee timestamp: still a replay of the signed body.
    channel.relay(githubHeaders(raw), raw);
    const records = await waitFor(async () => { const r = await deliveries(); return r.length === 2 && r; }, 'the second delivery');
    expect(records.map((r) => r.httpStatus).sort()).toEqual([202, 409]);
    expect(await runs()).toHaveLength(1);
  });

  it('reconnects with backoff after the channel drops the connection, and relays again', async () => {
    const before = channel.connections;
    channel.refuse = true;
    channel.drop();
    await waitFor(() => tunnel.current.state === 'error', 'the error state');
    expect((tunnel.current as { message: string }).message).toMatch(/lost.*redeliver/);
    await new Promise((r) => setTimeout(r, 300));
    expect(channel.connections).toBe(before);
    channel.refuse = false;
    await waitFor(() => tunnel.current.state === 'connected', 'the tunnel to reconnect');
    expect(channel.connections).toBe(before + 1);
    const seq = states.map((s) => s.state);
    expect(seq.slice(0, 3)).toEqual(['connecting', 'connected', 'error']);
    expect(seq[seq.length - 1]).toBe('connected');
    expect(seq).toContain('connecting');

    const raw = JSON.stringify(pushWithMessage('after the reconnect'));
    channel.relay(githubHeaders(raw), raw);
    const event = await waitFor(firstRun, 'a delivery after the reconnect');
    expect(event.commitMessage).toBe('after the reconnect');
  });

  it('reports disabled once stopped', async () => {
    await tunnel.stop();
    expect(tunnel.current).toEqual({ state: 'disabled' });
    await waitFor(() => channel.clients.size === 0, 'the channel connection to close');
  });
});
