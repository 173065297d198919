/// <reference lib="dom" />
/**
 * The dashboard as a person gets it from the built `kiln serve` (bin/kiln.js, not the engine in
 * this process), in Debian's Chromium:
 * - without a Docker engine, the indicator says "Docker unreachable" and gives the same start/install
 *   advice `kiln serve` printed, with the install link;
 * - with Docker, a run started with debug from the manual trigger keeps its failed job, and the job's
 *   page opens a terminal into it (`ls`, `$SOME_VAR` from $KILN_ENV); Extend adds the minutes its
 *   button names. Then the same data directory is served beyond loopback with an API token: the kept
 *   job is adopted, and its terminal's WebSocket is refused without the token and opens with it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_ADVICE, DOCKER_INSTALL_URL, DOCKER_START_ADVICE } from '../../shared/docker-advice.js';
import { FAILING_PIPELINE } from '../debug/debug-fixture.js';
import { openTerminal } from '../debug/terminal-client.js';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ListeningServe } from '../helpers/serve-child.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { committedRepo, ensureRendererBuilt } from './helpers/kiln-stack.js';

/** Starts `node bin/kiln.js serve --port 0 …` and waits for the URL it prints. */
function serve(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ListeningServe> {
  return startServe({ args: ['--port', '0', ...args], env, timeoutMs: 60_000 });
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Kept { jobId: string; runId: string; deadline: number; state: string }

async function keptJobs(url: string, token?: string): Promise<Kept[]> {
  const res = await fetch(`${url}/api/debug/jobs`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (!res.ok) throw new Error(`GET /api/debug/jobs: ${res.status} ${await res.text()}`);
  return (await res.json()) as Kept[];
}

describe('the dashboard of `kiln serve`', () => {
  let root: string;
  let browser: Browser;
  const running: ListeningServe[] = [];

  beforeAll(async () => {
    ensureBuilt();
    ensureRendererBuilt();
    root = mkdtempSync(join(tmpdir(), 'kiln-serve-e2e-'));
    browser = await openBrowser();
  });

  afterAll(async () => {
    for (const s of running) await s.stop();
    await browser?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  describe('when no Docker engine answers', () => {
    it('shows "Docker unreachable" with the start and install advice kiln serve printed, linking to the install guide', async () => {
      const config = join(root, 'no-docker.yml');
      writeFileSync(config, 'server: { host: 127.0.0.1, port: 7070 }\n');
      const s = await serve(['--config', config, '--data', join(root, 'no-docker-data')], { ...process.env, DOCKER_HOST: `unix://${join(root, 'no-such-docker.sock')}` });
      running.push(s);
      await poll('the Docker line on stderr', async () => (s.err().includes('no Docker engine') ? true : undefined), 30_000);
      expect(s.err()).toContain(DOCKER_ADVICE);

      const page = browser.page;
      await page.goto(s.url);
      await page.waitForSelector('[data-testid=docker-advice]', { timeout: 20_000 });
      expect(await page.textContent('[data-testid=engine-status]')).toContain('Docker unreachable');
      const advice = (await page.textContent('[data-testid=docker-advice]')) ?? '';
      // The same words, with the command set as code rather than between literal backticks.
      expect(advice.toLowerCase()).toContain(`${DOCKER_START_ADVICE.replaceAll('`', '')} or install it`.toLowerCase());
      expect(advice).not.toContain('`');
      const link = page.locator('[data-testid=docker-advice] a');
      expect(await link.getAttribute('href')).toBe(DOCKER_INSTALL_URL);
      expect(await link.getAttribute('target')).toBe('_blank');
      await screenshot(page, 'serve-docker-unreachable');
      expect(await s.stop()).toBe(0);
    });
  });

  describe('debugging a failed job', () => {
    const REPO = 'acme/debuggable';
    const TOKEN = 'e2e-api-token-0123456789';
    let configFile: string;
    let dataDir: string;
    let s: ListeningServe;
    let page: Page;
    let jobId: string;
    let repoDir: string;
    const configText = (server: string): string => [
      server,
      'debug: { keep: 10m }',
      'repositories:',
      `  - name: ${REPO}`,
      `    url: ${repoDir}`,
      '    default-branch: main',
      '    secrets: { DEPLOY_TOKEN: never-on-screen }',
      '',
    ].join('\n');

    beforeAll(() => {
      repoDir = join(root, 'repo');
      mkdirSync(repoDir);
      committedRepo(repoDir, { '.kiln.yml': FAILING_PIPELINE });
      dataDir = join(root, 'data');
      configFile = join(root, 'kiln.config.yml');
      writeFileSync(configFile, configText('server: { host: 127.0.0.1, port: 7070 }'));
    });

    it('starts a run with debug from the manual trigger and opens a terminal into the kept job', async () => {
      s = await serve(['--config', configFile, '--data', dataDir]);
      running.push(s);
      page = browser.page;
      await page.goto(`${s.url}/#/trigger`);
      await page.selectOption('select[name=repo]', REPO);
      await page.check('input[name=debug]');
      await page.click('[data-action=trigger]');
      await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: 30_000 });
      const runId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
      const kept = await poll('the failed job to be kept', async () => (await keptJobs(s.url)).find((k) => k.runId === runId), 120_000);
      jobId = kept.jobId;
      await page.goto(`${s.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
      await page.waitForSelector('.terminal-pane[data-state=open]', { timeout: 30_000 });
      const screen = page.locator('.terminal-pane').first().locator('.xterm-rows');
      await page.locator('.terminal-pane').first().locator('.xterm').click();
      await page.keyboard.type('ls; echo "v=$SOME_VAR"\n');
      await poll('ls and $SOME_VAR on the screen', async () => {
        const text = await screen.innerText();
        return /marker\.txt/.test(text) && /v=from-kiln-env/.test(text) ? true : undefined;
      }, 20_000);
      await screenshot(page, 'serve-debug-terminal');
    });

    it('extends the deadline by the minutes its button names', async () => {
      const minutes = Number(/Extend (\d+) min/.exec((await page.textContent('[data-action=extend-debug]')) ?? '')?.[1]);
      expect(minutes).toBe(30);
      const before = (await keptJobs(s.url)).find((k) => k.jobId === jobId)?.deadline ?? 0;
      const pressed = Date.now();
      await page.click('[data-action=extend-debug]');
      const after = await poll('the deadline to move', async () => {
        const d = (await keptJobs(s.url)).find((k) => k.jobId === jobId)?.deadline ?? 0;
        return d > before ? d : undefined;
      }, 20_000);
      // The configured keep is 10 minutes: a press that sent no minutes would add 10, not 30.
      expect(after).toBeGreaterThanOrEqual(Math.max(before, pressed) + minutes * 60_000 - 1_000);
    });

    it('served beyond loopback, adopts the kept job and refuses its terminal without the API token', async () => {
      await page.goto('about:blank');
      expect(await s.stop()).toBe(0);
      writeFileSync(configFile, configText(`server: { host: 0.0.0.0, port: 7070, api-token: ${TOKEN} }`));
      s = await serve(['--config', configFile, '--data', dataDir]);
      running.push(s);
      const port = new URL(s.url).port;
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/api/debug/jobs`)).status).toBe(401);
      const adopted = await poll('the kept job to be adopted', async () => (await keptJobs(base, TOKEN)).find((k) => k.jobId === jobId && k.state === 'adopted'), 30_000);
      expect(adopted.jobId).toBe(jobId);

      const ws = `ws://127.0.0.1:${port}/api/jobs/${encodeURIComponent(jobId)}/terminal`;
      const refused = await openTerminal(ws).then(async (t) => { await t.close(); return undefined; }, (e: unknown) => e as { status: number; body: string });
      expect(refused).toMatchObject({ status: 401 });
      expect(refused?.body).toContain('send Authorization: Bearer');
      const wrong = await openTerminal(`${ws}?access_token=not-the-token`).then(async (t) => { await t.close(); return undefined; }, (e: unknown) => e as { status: number });
      expect(wrong).toMatchObject({ status: 401 });

      const t = await openTerminal(`${ws}?access_token=${TOKEN}`);
      t.type('echo "adopted-$((6*7))"\n');
      await t.waitFor('adopted-42', { timeoutMs: 20_000 });
      await t.close();
      const end = await fetch(`${base}/api/jobs/${encodeURIComponent(jobId)}/debug/end`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(end.status).toBeLessThan(300);
      expect(await s.stop()).toBe(0);
    });
  });
});
