/**
 * Connecting a repository in one step through the HTTP API, against the real engine and server,
 * the GitHub stand-in, and a local stand-in for smee.io that answers GET /new with a redirect to a
 * new channel (as smee.io does) and forwards what is posted to a channel to Kiln's webhook endpoint
 * (as the smee tunnel does). The forge's ping travels that whole way back to Kiln.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectReport } from '../../shared/api/settings-types.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { Engine } from '../../src-main/engine/engine.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { git } from '../helpers/git.js';
import { startStandIn, type StandIn } from './github-stand-in.js';
import { startSmee, type SmeeStandIn } from './smee-stand-in.js';

const REPO = 'acme/connect';
const TOKEN = 'ghp_connectTOKEN112233445566';

describe('connecting a repository in one step', () => {
  let dir: string;
  let repoDir: string;
  let engine: Engine;
  let server: RunningServer;
  let standIn: StandIn;
  let smee: SmeeStandIn;

  async function boot(redirect = true): Promise<void> {
    smee = await startSmee(() => `${server.url}/webhooks/github`, redirect);
    const config = defaultConfig();
    config.server.port = 0;
    engine = await Engine.start({
      config, dataDir: join(dir, 'data'), onError: () => undefined,
      forge: { connect: { smeeBase: smee.url, pingTimeoutMs: 5_000, client: { writePaceMs: 20 } } },
    });
    server = await startServer({ engine, port: 0 });
  }

  const connect = async (body: Record<string, unknown>): Promise<{ status: number; text: string; report: ConnectReport }> => {
    const res = await fetch(`${server.url}/api/repositories/${REPO}/connect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, report: JSON.parse(text) as ConnectReport };
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-connect-'));
    repoDir = join(dir, 'repo');
    execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
    writeFileSync(join(repoDir, 'README'), 'x');
    git(repoDir, 'add', '.');
    git(repoDir, 'commit', '-q', '-m', 'init');
    standIn = await startStandIn({ token: TOKEN });
  });

  afterEach(async () => {
    await server?.close();
    await engine?.stop();
    await smee?.close();
    expect(standIn.violations).toEqual([]);
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the channel, a secret and the webhook, and the forge\'s ping arrives; a second connect updates the same webhook', async () => {
    await boot();
    const first = await connect({ url: repoDir, token: TOKEN, apiUrl: standIn.url });
    expect(first.status).toBe(200);
    expect(first.report.steps.map((s) => [s.step, s.ok])).toEqual([['repository', true], ['channel', true], ['secret', true], ['webhook', true], ['ping', true]]);
    expect(first.report.ok).toBe(true);
    expect(first.text).not.toContain(TOKEN);
    const channel = `${smee.url}${smee.channels[0]}`;
    expect(engine.config.tunnel?.url).toBe(channel);
    expect(standIn.hooks.size).toBe(1);
    const hook = [...standIn.hooks.values()][0];
    expect(hook).toMatchObject({ owner: 'acme', repo: 'connect', url: channel, contentType: 'json', events: ['push', 'pull_request'], pings: 1 });
    expect(hook.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(first.text).not.toContain(hook.secret!);
    expect(engine.config.repositories[0].webhookSecrets).toContain(hook.secret);
    const deliveries = await engine.listDeliveries(10);
    expect(deliveries.find((d) => d.event === 'ping')).toMatchObject({ repo: REPO, outcome: 'accepted' });

    const oldSecret = hook.secret;
    const second = await connect({});
    expect(second.report.ok).toBe(true);
    expect(second.report.steps.find((s) => s.step === 'webhook')?.message).toMatch(/^updated the webhook/);
    expect(second.report.steps.find((s) => s.step === 'channel')?.message).toBe(`using the tunnel ${channel}`);
    expect(standIn.hooks.size).toBe(1);
    expect(hook.secret).not.toBe(oldSecret);
    expect(hook.pings).toBe(2);
    expect(smee.channels).toHaveLength(1);
  });

  it('names the webhook step and the permission when the token cannot manage webhooks', async () => {
    await boot();
    standIn.faults.push({ kind: 'status', status: 403 });
    const { report } = await connect({ url: repoDir, token: TOKEN, apiUrl: standIn.url });
    expect(report.ok).toBe(false);
    expect(report.steps.at(-1)).toEqual({ step: 'webhook', ok: false, message: expect.stringContaining('the token cannot manage webhooks: it needs "Webhooks: write"') });
  });

  it('without a token, returns the values to paste into the forge\'s webhook form', async () => {
    await boot();
    const { report } = await connect({ url: repoDir });
    expect(report.ok).toBe(true);
    expect(report.manual).toEqual({ payloadUrl: `${smee.url}${smee.channels[0]}`, contentType: 'application/json', secret: expect.stringMatching(/^[0-9a-f]{64}$/), events: ['push', 'pull_request'] });
    expect(engine.config.repositories[0].webhookSecrets).toContain(report.manual!.secret);
    expect(standIn.requests).toEqual([]);
  });

  it('names the channel step when smee.io does not answer with a redirect', async () => {
    await boot(false);
    const { report } = await connect({ url: repoDir, token: TOKEN, apiUrl: standIn.url });
    expect(report.steps.at(-1)).toMatchObject({ step: 'channel', ok: false, message: expect.stringMatching(/could not create a channel on .* answered 200 without a redirect/) });
  });

  it('answers 404 naming the repository when an unknown repository comes without a URL', async () => {
    await boot();
    const { status, text } = await connect({ token: TOKEN });
    expect(status).toBe(404);
    expect(JSON.parse(text)).toEqual({ ok: false, error: { name: 'ApiError', code: 'NOT_FOUND', message: `repository '${REPO}' is not configured: give its clone URL (url), or add it in Settings first` } });
  });
});
