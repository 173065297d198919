/**
 * Reporting set up through the HTTP API, against the real engine, server, Docker and the GitHub
 * stand-in: the token is write-only and encrypted at rest, the API URL and per-job statuses go to
 * kiln.config.yml, the dashboard's public URL becomes each status's link, and all of it survives
 * a restart on the same data directory. Bad input is a 400 naming the field, never echoing a token.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunReporting } from '../../shared/api/engine-api.js';
import type { RepositorySettings, SettingsView } from '../../shared/api/settings-types.js';
import { configFileToLoad } from '../../src-main/cli/serve.js';
import { defaultConfig, loadConfig, parseConfig } from '../../src-main/settings/config-file.js';
import { Engine } from '../../src-main/engine/engine.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { git } from '../helpers/git.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startStandIn, type StandIn } from './github-stand-in.js';

const REPO = 'acme/report';
const TOKEN = 'ghp_settingsTOKEN9f8e7d6c5b4a';
const PIPELINE = `name: report
on:
  push: { branches: [main] }
jobs:
  one:
    image: ${TEST_IMAGE}
    steps:
      - run: echo hi
`;

async function send(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: unknown }> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as unknown };
}

describe('reporting configured through the API', () => {
  let dir: string;
  let repoDir: string;
  let dataDir: string;
  let engine: Engine;
  let server: RunningServer;
  let standIn: StandIn;

  async function boot(): Promise<void> {
    const file = configFileToLoad(undefined, dataDir);
    const config = file ? loadConfig(file).config : defaultConfig();
    if (!config) throw new Error(`${file} does not load`);
    engine = await Engine.start({ config, dataDir, configFile: file, onError: () => undefined, forge: { client: { writePaceMs: 20 } } });
    server = await startServer({ engine, port: 0 });
  }

  async function shutdown(): Promise<void> {
    await server?.close();
    await engine?.stop();
  }

  async function pushAndWait(message: string): Promise<string> {
    writeFileSync(join(repoDir, 'stamp.txt'), message);
    git(repoDir, 'add', '.');
    git(repoDir, 'commit', '-q', '-m', message);
    const sha = git(repoDir, 'rev-parse', 'HEAD');
    const { runIds } = await engine.handleEvent({ kind: 'push', repo: REPO, branch: 'main', sha, ref: 'refs/heads/main' });
    const deadline = Date.now() + 60_000;
    while (!standIn.statuses.some((s) => s.sha === sha && s.state === 'success')) {
      if (Date.now() > deadline) throw new Error(`no success status for ${sha}: ${JSON.stringify(standIn.statuses)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return runIds[0];
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-forge-settings-'));
    repoDir = join(dir, 'repo');
    dataDir = join(dir, 'data');
    execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
    writeFileSync(join(repoDir, '.kiln.yml'), PIPELINE);
    git(repoDir, 'add', '.kiln.yml');
    git(repoDir, 'commit', '-q', '-m', 'Add the pipeline');
    standIn = await startStandIn({ token: TOKEN });
    await boot();
  });

  afterEach(async () => {
    await shutdown();
    expect(standIn.violations).toEqual([]);
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the token encrypted, shows only that it is set, posts with it, and keeps it across a restart', async () => {
    const saved = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { url: repoDir, forge: { apiUrl: standIn.url, token: TOKEN, jobStatuses: true } });
    expect(saved.status).toBe(200);
    expect((saved.json as RepositorySettings).forge).toEqual({ enabled: true, apiUrl: standIn.url, kind: 'github', tokenSet: true, tokenSource: 'vault', jobStatuses: true, prComment: true });
    expect(saved.text).not.toContain(TOKEN);
    const server2 = await send(server.url, 'PUT', '/api/settings/server', { publicUrl: 'https://kiln.team.example/' });
    expect((server2.json as SettingsView).publicUrl).toBe('https://kiln.team.example');

    const runId = await pushAndWait('first');
    const posted = standIn.statuses.filter((s) => s.context === 'kiln/report');
    expect(posted.at(-1)).toMatchObject({ state: 'success', target_url: `https://kiln.team.example/#/runs/${runId}` });
    expect(standIn.statuses.some((s) => s.context === 'kiln/report/one')).toBe(true);
    let reporting = await send(server.url, 'GET', `/api/runs/${runId}/reporting`);
    for (let i = 0; i < 100 && (reporting.json as RunReporting).summary !== 'statuses posted'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      reporting = await send(server.url, 'GET', `/api/runs/${runId}/reporting`);
    }
    expect((reporting.json as RunReporting).summary).toBe('statuses posted');
    expect((reporting.json as RunReporting).statuses.map((s) => s.context).sort()).toEqual(['kiln/report', 'kiln/report/one']);

    const settings = await send(server.url, 'GET', '/api/settings');
    expect(settings.text).not.toContain(TOKEN);
    expect((settings.json as SettingsView).repositories[0].forge).toMatchObject({ lastOutcome: { ok: true, message: 'statuses posted' } });
    const file = readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8');
    expect(file).toContain(`api-url: ${standIn.url}`);
    expect(file).toContain('job-statuses: true');
    expect(file).toContain('public-url: https://kiln.team.example');
    for (const name of readdirSync(dataDir)) {
      if (name.endsWith('.yml') || name.endsWith('.json') || name.startsWith('kiln.db')) expect(readFileSync(join(dataDir, name)).includes(TOKEN), name).toBe(false);
    }
    expect(parseConfig(file, 'kiln.config.yml').diagnostics).toEqual([]);

    await shutdown();
    await boot();
    const before = standIn.statuses.length;
    await pushAndWait('second');
    expect(standIn.statuses.length).toBeGreaterThan(before);

    const noComment = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { forge: { prComment: false } });
    expect((noComment.json as RepositorySettings).forge).toMatchObject({ prComment: false, tokenSet: true });
    expect(readFileSync(join(dataDir, 'kiln.config.yml'), 'utf8')).toContain('pr-comment: false');

    const removed = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { forge: { token: null } });
    expect((removed.json as RepositorySettings).forge).toMatchObject({ enabled: false, tokenSet: false });
  });

  it('answers bad input with 400 naming the field, without echoing the token', async () => {
    await send(server.url, 'PUT', `/api/repositories/${REPO}`, { url: repoDir });
    const badUrl = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { forge: { apiUrl: 'ftp://example.com' } });
    expect(badUrl.status).toBe(400);
    expect((badUrl.json as { error: { message: string } }).error.message).toMatch(/^repositories\[acme\/report\]\.forge\.api-url: must be an http\(s\) URL/);
    const badToken = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { forge: { token: `${TOKEN} trailing` } });
    expect(badToken.status).toBe(400);
    expect(badToken.text).toContain('forge.token');
    expect(badToken.text).not.toContain(TOKEN);
    const unknown = await send(server.url, 'PUT', `/api/repositories/${REPO}`, { forge: { tokn: 'x' } });
    expect((unknown.json as { error: { message: string } }).error.message).toContain("unknown field 'tokn'");
    const badPublic = await send(server.url, 'PUT', '/api/settings/server', { publicUrl: 'kiln.local' });
    expect((badPublic.json as { error: { message: string } }).error.message).toMatch(/^server\.public-url: must be an http\(s\) URL/);
  });
});

describe('the forge block of kiln.config.yml', () => {
  it('reads api-url, token and job-statuses, defaulting to api.github.com', () => {
    const { config, diagnostics } = parseConfig(`server:\n  public-url: https://kiln.example.com/\nrepositories:\n  - name: a/b\n    url: /tmp/x\n    forge:\n      token: abc\n  - name: a/c\n    url: /tmp/y\n    forge:\n      api-url: https://git.example.com/api/v1\n      job-statuses: true\n`, 'k.yml');
    expect(diagnostics).toEqual([]);
    expect(config!.server.publicUrl).toBe('https://kiln.example.com');
    expect(config!.repositories.map((r) => r.forge)).toEqual([
      { apiUrl: 'https://api.github.com', jobStatuses: false, token: 'abc' },
      { apiUrl: 'https://git.example.com/api/v1', jobStatuses: true },
    ]);
  });

  it('reports a bad api-url and an unknown key with their line and column', () => {
    const { diagnostics } = parseConfig('repositories:\n  - name: a/b\n    url: /tmp/x\n    forge:\n      api-url: api.github.com\n      tokn: x\n', 'k.yml');
    expect(diagnostics.map((d) => [d.line, d.code, d.message])).toEqual([
      [5, 'INVALID_VALUE', expect.stringContaining("is not an http(s) URL")],
      [6, 'UNKNOWN_KEY', expect.stringContaining("unknown key 'tokn'")],
    ]);
  });
});
