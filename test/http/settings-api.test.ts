/**
 * Settings written through the HTTP API, against the real Engine (Docker, SQLite, git) and the real
 * server: a repository added with PUT takes signed deliveries and runs its pipeline; its job secret
 * reaches the job as env and is masked in the log; webhook secrets rotate; the tunnel follows its
 * URL; concurrency applies to the next claims; everything survives a restart on the same data
 * directory, with no secret value in clear on disk.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RepositorySettings, SettingsView } from '../../shared/api/settings-types.js';
import type { LogChunk } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import { configFileToLoad } from '../../src-main/cli/serve.js';
import { defaultConfig, loadConfig } from '../../src-main/settings/config-file.js';
import { Engine } from '../../src-main/engine/engine.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { controlTunnel, type TunnelControl } from '../../src-main/trigger/tunnel-control.js';
import { git } from '../helpers/git.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { deliver, fixture } from '../trigger/helpers/deliver.js';

const REPO = 'acme/settings';
const TOKEN = 'tok-7f3a9c2e51d84b6a';
const HOOK = 'fresh-webhook-secret-42';

const PIPELINE = `name: settings
on:
  push: { branches: [main] }
  manual: true
jobs:
  one:
    image: ${TEST_IMAGE}
    secrets: [DEPLOY_TOKEN]
    steps:
      - name: Use the secret
        run: |
          echo "token is $DEPLOY_TOKEN"
          if [ "$DEPLOY_TOKEN" = "${TOKEN}" ]; then echo "token matches"; fi
          sleep 1
  two:
    image: ${TEST_IMAGE}
    steps:
      - run: sleep 1
`;

function pushFor(sha: string): Buffer {
  const p = JSON.parse(fixture('github/push.branch-commits.json').toString('utf8')) as {
    ref: string; after: string; repository: { full_name: string; pushed_at: number }; head_commit: { id: string };
  };
  p.ref = 'refs/heads/main';
  p.after = sha;
  p.head_commit.id = sha;
  p.repository.full_name = REPO;
  p.repository.pushed_at = Math.floor(Date.now() / 1000);
  return Buffer.from(JSON.stringify(p));
}

function pingFor(repo: string): Buffer {
  const p = JSON.parse(fixture('github/ping.json').toString('utf8')) as { repository: { full_name: string } };
  p.repository.full_name = repo;
  return Buffer.from(JSON.stringify(p));
}

async function send(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe('settings saved through the HTTP API', () => {
  let dir: string;
  let repoDir: string;
  let dataDir: string;
  let sha: string;
  let engine: Engine;
  let server: RunningServer;
  let tunnel: TunnelControl;

  async function boot(): Promise<void> {
    // As `kiln serve` does with no --config: the file the settings page saved, else the defaults.
    const file = configFileToLoad(undefined, dataDir);
    const config = file ? loadConfig(file).config : defaultConfig();
    if (!config) throw new Error(`${file} does not load`);
    engine = await Engine.start({ config, dataDir, configFile: file, onError: () => undefined });
    server = await startServer({ engine, port: 0 });
    tunnel = controlTunnel(engine, { target: `${server.url}/webhooks/github` });
  }

  async function shutdown(): Promise<void> {
    await tunnel?.stop();
    await server?.close();
    await engine?.stop();
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-settings-'));
    repoDir = join(dir, 'repo');
    dataDir = join(dir, 'data');
    execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
    writeFileSync(join(repoDir, '.kiln.yml'), PIPELINE);
    git(repoDir, 'add', '.kiln.yml');
    git(repoDir, 'commit', '-q', '-m', 'Add the pipeline');
    sha = git(repoDir, 'rev-parse', 'HEAD');
    await boot();
  });

  afterEach(async () => {
    await shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  async function waitForRun(runId: string): Promise<RunDetail> {
    for (let i = 0; i < 900; i++) {
      const run = (await send(server.url, 'GET', `/api/runs/${runId}`)).json as RunDetail;
      if (['passed', 'failed', 'cancelled', 'timed_out'].includes(run.status)) return run;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`run ${runId} did not finish`);
  }

  const addRepository = (): Promise<{ status: number; json: unknown }> => send(server.url, 'PUT', `/api/repositories/${REPO}`, {
    url: repoDir, defaultBranch: 'main', addWebhookSecrets: [HOOK], secrets: { DEPLOY_TOKEN: TOKEN },
  });

  it('adds a repository whose signed delivery is accepted and runs, with the job secret in env and masked in the log', async () => {
    const added = await addRepository();
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ name: REPO, url: repoDir, defaultBranch: 'main', secretNames: ['DEPLOY_TOKEN'], webhookSecretCount: 1 });
    expect(JSON.stringify(added.json)).not.toContain(TOKEN);
    expect(JSON.stringify(added.json)).not.toContain(HOOK);

    expect((await deliver(server.url, { event: 'push', body: pushFor(sha), secret: 'some-other-secret' })).status).toBe(401);
    const answer = await deliver(server.url, { event: 'push', body: pushFor(sha), secret: HOOK, deliveryId: randomUUID() });
    expect(answer.status).toBe(202);
    const run = await waitForRun(answer.json.runIds[0]);
    expect(run.status).toBe('passed');
    const job = run.jobs.find((j) => j.name === 'one');
    const log = (await send(server.url, 'GET', `/api/jobs/${job?.id}/log?limit=10000`)).json as LogChunk;
    const text = log.lines.map((l) => l.text).join('\n');
    expect(text).toContain('token matches');
    expect(text).toContain('token is ***');
    expect(text).not.toContain(TOKEN);
  });

  it('shows names and counts only, and keeps no secret value in clear on disk', async () => {
    await addRepository();
    const settings = (await send(server.url, 'GET', '/api/settings')).json as SettingsView;
    expect(settings.configFile).toBe(join(dataDir, 'kiln.config.yml'));
    expect(settings.repositories).toEqual([expect.objectContaining({
      name: REPO, secrets: [{ name: 'DEPLOY_TOKEN', source: 'vault' }], webhookSecrets: [{ id: expect.stringMatching(/^wh-/), source: 'vault', addedAt: expect.any(Number) }],
    })]);
    expect(JSON.stringify(settings)).not.toContain(TOKEN);
    for (const file of ['kiln.config.yml', 'secrets.json', 'secret.key', 'kiln.db']) {
      const bytes = readFileSync(join(dataDir, file)).toString('latin1');
      expect(bytes, file).not.toContain(TOKEN);
      expect(bytes, file).not.toContain(HOOK);
    }
    expect(readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8')).toContain(`name: ${REPO}`);
  });

  it('keeps the settings across a restart on the same data directory, secrets decrypted from the vault', async () => {
    await addRepository();
    const saved = await send(server.url, 'PUT', '/api/settings/server', { concurrency: { jobs: 3, perRepository: 1 }, retention: { artifacts: '7d', cacheSize: '2GB' } });
    expect(saved.status).toBe(200);
    await shutdown();
    await boot();

    const settings = (await send(server.url, 'GET', '/api/settings')).json as SettingsView;
    expect(settings.concurrency).toEqual({ jobs: 3, perRepository: 1 });
    expect(settings.retention).toMatchObject({ artifactsMs: 7 * 86_400_000, cacheSizeBytes: 2e9 });
    expect(settings.repositories.map((r) => [r.name, r.secretNames, r.webhookSecretCount])).toEqual([[REPO, ['DEPLOY_TOKEN'], 1]]);
    expect(engine.config.repositories[0].secrets).toEqual({ DEPLOY_TOKEN: TOKEN });
    expect((await deliver(server.url, { event: 'ping', body: pingFor(REPO), secret: HOOK })).status).toBe(200);
  });

  it('rotates webhook secrets: both are accepted until the old one is removed by id', async () => {
    await addRepository();
    const rotated = (await send(server.url, 'PUT', `/api/repositories/${REPO}`, { addWebhookSecrets: ['next-secret'] })).json as RepositorySettings;
    expect(rotated.webhookSecretCount).toBe(2);
    for (const secret of [HOOK, 'next-secret']) expect((await deliver(server.url, { event: 'ping', body: pingFor(REPO), secret })).status).toBe(200);
    const oldId = rotated.webhookSecrets?.[0].id;
    const after = (await send(server.url, 'PUT', `/api/repositories/${REPO}`, { removeWebhookSecrets: [oldId] })).json as RepositorySettings;
    expect(after.webhookSecretCount).toBe(1);
    expect((await deliver(server.url, { event: 'ping', body: pingFor(REPO), secret: HOOK })).status).toBe(401);
    expect((await deliver(server.url, { event: 'ping', body: pingFor(REPO), secret: 'next-secret' })).status).toBe(200);
  });

  it('sets a webhook rate limit and branch priorities, live and in the file, and removes them again', async () => {
    await addRepository();
    const push = (message: string): Buffer => {
      const p = JSON.parse(pushFor(sha).toString('utf8')) as { head_commit: { message: string } };
      p.head_commit.message = message;
      return Buffer.from(JSON.stringify(p));
    };
    const saved = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { rateLimit: '1/min', priority: { main: 'high', 'release/*': 'critical' } });
    expect(saved.status).toBe(200);
    expect(saved.json).toMatchObject({ rateLimitPerMinute: 1, priority: { main: 'high', 'release/*': 'critical' } });
    const file = readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8');
    expect(file).toContain('rate-limit: 1/min');
    expect(file).toMatch(/priority:\s*\n\s+main: high\n\s+release\/\*: critical/);

    const first = await deliver(server.url, { event: 'push', body: push('first'), secret: HOOK });
    expect(first.status).toBe(202);
    expect(((await send(server.url, 'GET', `/api/runs/${first.json.runIds[0]}`)).json as RunDetail).priority).toBe('high');
    const limited = await deliver(server.url, { event: 'push', body: push('second'), secret: HOOK });
    expect(limited.status).toBe(429);

    const cleared = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { rateLimit: null, priority: { main: null } });
    expect(cleared.json).toMatchObject({ priority: { 'release/*': 'critical' } });
    expect(cleared.json).not.toHaveProperty('rateLimitPerMinute');
    expect(readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8')).not.toContain('rate-limit');
    const third = await deliver(server.url, { event: 'push', body: push('third'), secret: HOOK });
    expect(third.status).toBe(202);
    expect(((await send(server.url, 'GET', `/api/runs/${third.json.runIds[0]}`)).json as RunDetail).priority).toBe('normal');
  });

  it('sets a repository\'s poll interval, max changed files and debug-failures, and the server\'s debug keep and catch-up interval: live, in the file, across a restart, and back to the defaults with null', async () => {
    await addRepository();
    const view = async (): Promise<SettingsView> => (await send(server.url, 'GET', '/api/settings')).json as SettingsView;
    const before = await view();
    expect(before).toMatchObject({ debugKeepMs: 30 * 60_000, catchUpIntervalMs: 5 * 60_000 });
    expect(before.repositories[0]).toMatchObject({ debugFailures: false });
    expect(before.repositories[0]).not.toHaveProperty('pollIntervalMs');
    expect(before.repositories[0]).not.toHaveProperty('maxChangedFiles');

    const repo = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { pollInterval: '2m', maxChangedFiles: 500, debugFailures: true });
    expect(repo.status, JSON.stringify(repo.json)).toBe(200);
    expect(repo.json).toMatchObject({ pollIntervalMs: 120_000, maxChangedFiles: 500, debugFailures: true });
    const server1 = await send(server.url, 'PUT', '/api/settings/server', { debugKeep: '45m', catchUpInterval: '10m' });
    expect(server1.status, JSON.stringify(server1.json)).toBe(200);
    expect(server1.json).toMatchObject({ debugKeepMs: 45 * 60_000, catchUpIntervalMs: 10 * 60_000 });
    // Live: the engine's configuration object, which catch-up, the run factory and the debug keeper read.
    expect(engine.config.repositories.find((r) => r.name === REPO)).toMatchObject({ pollIntervalMs: 120_000, maxChangedFiles: 500, debugFailures: true });
    expect(engine.config.debug).toEqual({ keepMs: 45 * 60_000 });
    expect(engine.config.catchUp?.intervalMs).toBe(10 * 60_000);
    const file = readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8');
    expect(file).toMatch(/poll-interval: 2m\n/);
    expect(file).toMatch(/max-changed-files: 500\n/);
    expect(file).toMatch(/debug-failures: true\n/);
    expect(file).toMatch(/keep: 45m/);
    expect(file).toMatch(/interval: 10m/);

    await shutdown();
    await boot();
    const after = await view();
    expect(after).toMatchObject({ debugKeepMs: 45 * 60_000, catchUpIntervalMs: 10 * 60_000 });
    expect(after.repositories[0]).toMatchObject({ pollIntervalMs: 120_000, maxChangedFiles: 500, debugFailures: true });

    const cleared = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { pollInterval: null, maxChangedFiles: '', debugFailures: false });
    expect(cleared.json).toMatchObject({ debugFailures: false });
    expect(cleared.json).not.toHaveProperty('pollIntervalMs');
    expect(cleared.json).not.toHaveProperty('maxChangedFiles');
    expect((await send(server.url, 'PUT', '/api/settings/server', { debugKeep: null, catchUpInterval: '' })).json).toMatchObject({ debugKeepMs: 30 * 60_000, catchUpIntervalMs: 5 * 60_000 });
    expect(engine.config.debug).toBeUndefined();
    const emptied = readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8');
    for (const key of ['poll-interval', 'max-changed-files', 'debug-failures', 'debug:', 'keep:', 'catch-up']) expect(emptied).not.toContain(key);
  });

  it('answers bad input with a 400 envelope naming the field, and writes nothing', async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['PUT', `/api/repositories/${REPO}`, { defaultBranch: 'main' }, /^repositories\[acme\/settings\]\.url: required/],
      ['PUT', `/api/repositories/${REPO}`, { url: 'not a url' }, /^repositories\[acme\/settings\]\.url: 'not a url' is neither/],
      ['PUT', `/api/repositories/${REPO}`, { url: join(dir, 'missing') }, /^repositories\[acme\/settings\]\.url: .*does not exist/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, defaultBranch: 'bad..branch' }, /^repositories\[acme\/settings\]\.default-branch: /],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, secrets: { '1BAD': 'x' } }, /^repositories\[acme\/settings\]\.secrets: '1BAD' is not a valid secret name/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, removeWebhookSecrets: ['wh-nope'] }, /webhook-secrets: there is no webhook secret with id 'wh-nope'/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, rateLimit: 'lots' }, /^repositories\[acme\/settings\]\.rate-limit: "lots" is not a rate/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, priority: { main: 'urgent' } }, /^repositories\[acme\/settings\]\.priority\.main: must be one of low, normal, high, critical/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, priority: ['main'] }, /^repositories\[acme\/settings\]\.priority: must be an object/],
      ['PUT', '/api/settings/server', { concurrency: { jobs: 0 } }, /^concurrency\.jobs: must be a whole number/],
      ['PUT', '/api/settings/server', { concurrency: { jobs: 2, perRepository: 3 } }, /^concurrency\.per-repository: 3 is more than concurrency\.jobs/],
      ['PUT', '/api/settings/server', { retention: { artifacts: 'forever' } }, /^retention\.artifacts: "forever" is not a duration/],
      ['PUT', '/api/settings/server', { tunnelUrl: 'ftp://smee.io/x' }, /^tunnel\.url: must be an https/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, pollInterval: 'often' }, /^repositories\[acme\/settings\]\.poll-interval: "often" is not a duration/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, pollInterval: '2s' }, /^repositories\[acme\/settings\]\.poll-interval: "2s" is too short/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, maxChangedFiles: 0 }, /^repositories\[acme\/settings\]\.max-changed-files: must be a whole number from 1/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, maxChangedFiles: '3000' }, /^repositories\[acme\/settings\]\.max-changed-files: must be a whole number .*got "3000"/],
      ['PUT', `/api/repositories/${REPO}`, { url: repoDir, debugFailures: 'yes' }, /^repositories\[acme\/settings\]\.debug-failures: must be true or false, got "yes"/],
      ['PUT', '/api/settings/server', { debugKeep: 'a while' }, /^debug\.keep: "a while" is not a duration/],
      ['PUT', '/api/settings/server', { catchUpInterval: 1000 }, /^catch-up\.interval: 1000 is too short/],
      ['PUT', '/api/settings/server', { catchUp: { interval: '5m' } }, /^settings: unknown field 'catchUp'/],
    ];
    for (const [method, path, body, message] of cases) {
      const answer = await send(server.url, method, path, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json).toEqual({ ok: false, error: { name: 'ApiError', code: 'BAD_REQUEST', message: expect.stringMatching(message) } });
    }
    expect(await send(server.url, 'DELETE', '/api/repositories/acme/unknown')).toMatchObject({ status: 404, json: { ok: false, error: { code: 'NOT_FOUND' } } });
    expect(existsSync(join(dataDir, 'kiln.config.yml'))).toBe(false);
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });

  it('removes a repository: its deliveries are then refused and its secrets forgotten', async () => {
    await addRepository();
    expect(await send(server.url, 'DELETE', `/api/repositories/${REPO}`)).toEqual({ status: 200, json: { ok: true } });
    expect((await deliver(server.url, { event: 'ping', body: pingFor(REPO), secret: HOOK })).status).toBe(404);
    expect(((await send(server.url, 'GET', '/api/settings')).json as SettingsView).repositories).toEqual([]);
    expect(JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'))).toEqual({ version: 2, repositories: {} });
  });

  it('applies a lower concurrency to the next claims: two independent jobs then run one after the other', async () => {
    await addRepository();
    await send(server.url, 'PUT', '/api/settings/server', { concurrency: { jobs: 1, perRepository: 1 } });
    const { runIds } = (await send(server.url, 'POST', '/api/runs', { repo: REPO, branch: 'main' })).json as { runIds: string[] };
    const run = await waitForRun(runIds[0]);
    expect(run.status).toBe('passed');
    const [a, b] = [...run.jobs].sort((x, y) => (x.startedAt ?? 0) - (y.startedAt ?? 0));
    expect(b.startedAt ?? 0).toBeGreaterThanOrEqual(a.finishedAt ?? Infinity);
  });

  describe('with a smee-compatible channel', () => {
    let channel: Server;
    let channelUrl: string;
    const clients = new Set<ServerResponse>();
    beforeEach(async () => {
      channel = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(': ready\n\n');
        clients.add(res);
        req.on('close', () => clients.delete(res));
      });
      await new Promise<void>((resolve) => channel.listen(0, '127.0.0.1', resolve));
      channelUrl = `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel-${randomUUID()}`;
    });
    afterEach(async () => {
      for (const c of clients) c.destroy();
      channel.closeAllConnections();
      await new Promise<void>((resolve) => channel.close(() => resolve()));
    });

    it('connects the tunnel when its URL is saved and disconnects when it is removed, without a restart', async () => {
      const saved = (await send(server.url, 'PUT', '/api/settings/server', { tunnelUrl: channelUrl })).json as SettingsView;
      expect(saved.tunnel.url).toBe(channelUrl);
      await tunnel.settled();
      for (let i = 0; i < 200 && (await engine.getSettings()).tunnel.state.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 25));
      expect((await engine.getSettings()).tunnel.state).toMatchObject({ state: 'connected', url: channelUrl });
      expect(clients.size).toBe(1);

      await send(server.url, 'PUT', '/api/settings/server', { tunnelUrl: null });
      await tunnel.settled();
      expect((await engine.getSettings()).tunnel).toEqual({ url: null, state: { state: 'disabled' } });
      expect(readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8')).not.toContain('tunnel');
    });
  });
});
