/// <reference lib="dom" />
/**
 * The dashboard opened from another machine: real `kiln serve` with server.api-token, bound to the
 * address of a network namespace this test makes (a veth pair; the server runs inside it with
 * nsenter, jobs still go to the shared Docker engine through its socket), and Debian's Chromium on
 * the host opening http://<that address>:<port>/ as a teammate's browser would. It sees the sign-in
 * screen, a wrong token is refused in words, the right one loads the runs list; live updates come
 * through the event stream, a log and an artifact download, the debug terminal answers (and copies
 * and pastes without the Clipboard API, which plain http offers no page), a reload keeps
 * the session, another tab asks again, a token the server no longer accepts sends the tab back to
 * sign-in, and Sign out forgets it. The token never appears in a URL the
 * browser requested, in kiln serve's output, or in its database.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILING_PIPELINE } from '../debug/debug-fixture.js';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ListeningServe } from '../helpers/serve-child.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { committedRepo, ensureRendererBuilt, git } from './helpers/kiln-stack.js';

const REPO = 'acme/remote';
const TOKEN = `kiln-${randomBytes(18).toString('hex')}`;
const PIPELINE = `name: remote
on:
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    artifacts: { paths: ['out/**'] }
    steps:
      - name: Build
        run: |
          echo "hello from the remote build"
          mkdir -p out && echo "remote artifact" > out/report.txt
`;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A namespace joined to the host by a veth pair, on a /24 no interface of this machine uses. */
function makeNamespace(): { netns: string; ip: string; remove(): void } {
  const used = sh('ip', ['-o', '-4', 'addr', 'show']);
  let k = -1;
  for (let i = 0; i < 200 && k < 0; i++) {
    const candidate = 10 + ((process.pid * 11 + i) % 240);
    if (!used.includes(`10.232.${candidate}.`)) k = candidate;
  }
  if (k < 0) throw new Error('no free 10.232.x.0/24 subnet for the remote-dashboard namespace');
  const netns = `kiln-remote${k}`;
  const hostVeth = `krh${k}`;
  const remove = (): void => {
    try { sh('ip', ['link', 'del', hostVeth]); } catch { /* gone with the namespace */ }
    try { sh('ip', ['netns', 'del', netns]); } catch { /* never made */ }
  };
  remove();
  sh('ip', ['netns', 'add', netns]);
  try {
    sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', `krn${k}`]);
    sh('ip', ['link', 'set', `krn${k}`, 'netns', netns]);
    sh('ip', ['addr', 'add', `10.232.${k}.1/24`, 'dev', hostVeth]);
    sh('ip', ['link', 'set', hostVeth, 'up']);
    const inNs = (args: string[]): string => sh('ip', ['netns', 'exec', netns, 'ip', ...args]);
    inNs(['addr', 'add', `10.232.${k}.2/24`, 'dev', `krn${k}`]);
    inNs(['link', 'set', `krn${k}`, 'up']);
    inNs(['link', 'set', 'lo', 'up']);
  } catch (err) {
    remove();
    throw err;
  }
  return { netns, ip: `10.232.${k}.2`, remove };
}

describe('the dashboard opened from another machine, with the API token', () => {
  let root: string;
  let ns: ReturnType<typeof makeNamespace> | undefined;
  let served: ListeningServe | undefined;
  let url: string;
  let browser: Browser;
  let page: Page;
  let runId: string;
  /** Every URL Chromium asked for (pages, fetches, event streams, downloads) and every WebSocket it opened. */
  const requested: string[] = [];

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return await res.json() as T;
  };
  const waitForRun = async (id: string, status: string, ms = 90_000): Promise<void> => {
    for (const deadline = Date.now() + ms; ;) {
      const run = await api<{ status: string; jobs: Array<{ id: string }> }>('GET', `/api/runs/${encodeURIComponent(id)}`);
      if (run.status === status) return;
      if (['passed', 'failed', 'cancelled', 'error'].includes(run.status) || Date.now() > deadline) {
        const logs = await Promise.all(run.jobs.map(async (j) => (await fetch(`${url}/api/jobs/${encodeURIComponent(j.id)}/log/raw`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()));
        throw new Error(`run ${id} is ${run.status}, not ${status}; its log:\n${logs.join('\n')}\nkiln serve said:\n${served?.output()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const signIn = async (token: string): Promise<void> => {
    await page.fill('input[name=api-token]', token);
    await page.click('[data-testid=sign-in] button[type=submit]');
  };

  beforeAll(async () => {
    ensureBuilt();
    ensureRendererBuilt();
    root = mkdtempSync(join(tmpdir(), 'kiln-remote-'));
    const repoDir = join(root, 'repo');
    mkdirSync(repoDir);
    committedRepo(repoDir, { '.kiln.yml': PIPELINE });
    git(repoDir, 'checkout', '-q', '-b', 'broken');
    writeFileSync(join(repoDir, '.kiln.yml'), FAILING_PIPELINE);
    git(repoDir, 'commit', '-q', '-am', 'A pipeline that fails');
    git(repoDir, 'checkout', '-q', 'main');
    ns = makeNamespace();
    const config = join(root, 'kiln.config.yml');
    writeFileSync(config, [
      `server: { host: ${ns.ip}, port: 0, api-token: "${TOKEN}" }`,
      'debug: { keep: 5m }',
      'repositories:',
      `  - name: ${REPO}`,
      `    url: ${repoDir}`,
      '    webhook-secrets: [remote-secret]',
      '    secrets: { DEPLOY_TOKEN: never-shown }',
      '',
    ].join('\n'));
    served = await startServe({
      wrapper: ['nsenter', `--net=/var/run/netns/${ns.netns}`],
      args: ['--config', config, '--data', join(root, 'data'), '--port', '0'],
      timeoutMs: 60_000,
    });
    url = served.url;
    expect(url).toMatch(new RegExp(`^http://${ns.ip.replace(/\./g, '\\.')}:\\d+$`));
    runId = (await api<{ runIds: string[] }>('POST', '/api/runs', { repo: REPO })).runIds[0];
    await waitForRun(runId, 'passed');
    browser = await openBrowser();
    page = browser.page;
    browser.context.on('request', (r) => { requested.push(r.url()); });
    page.on('websocket', (ws) => { requested.push(ws.url()); });
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop(20_000);
    ns?.remove();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('refuses the API without the token, and shows the sign-in screen saying where the token is', async () => {
    expect((await fetch(`${url}/api/runs`)).status).toBe(401);
    await page.goto(`${url}/`);
    const form = page.locator('[data-testid=sign-in]');
    await form.waitFor({ timeout: 20_000 });
    expect(await form.textContent()).toContain('server.api-token');
    expect(await form.textContent()).toContain('kiln.config.yml');
    expect(await page.locator('.shell').count()).toBe(0);
    await screenshot(page, 'remote-sign-in');
  });

  it('says so when the token is wrong, and keeps nothing', async () => {
    await signIn('not-the-token');
    const error = page.locator('[data-testid=sign-in-error]');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/not this server's API token.*server\.api-token/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshot(page, 'remote-sign-in-wrong');
  });

  it('loads the runs list with the right token, and live updates arrive through the event stream', async () => {
    await signIn(TOKEN);
    await page.locator(`tr[data-run-id="${runId}"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-action=sign-out]').count()).toBe(1);
    // A run started elsewhere shows up and turns green on this page without a reload: only the event stream tells it.
    const live = (await api<{ runIds: string[] }>('POST', '/api/runs', { repo: REPO })).runIds[0];
    await page.locator(`tr[data-run-id="${live}"][data-status=passed]`).waitFor({ timeout: 90_000 });
    expect(requested.some((u) => u.startsWith(`${url}/api/events?auth_ticket=`))).toBe(true);
    await screenshot(page, 'remote-runs');
  });

  it('downloads the raw log and an artifact through one-time tickets', async () => {
    const run = await api<{ jobs: Array<{ id: string }> }>('GET', `/api/runs/${encodeURIComponent(runId)}`);
    await page.goto(`${url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(run.jobs[0].id)}`);
    await page.locator('.log-line:has-text("hello from the remote build")').waitFor({ timeout: 20_000 });
    const [log] = await Promise.all([page.waitForEvent('download'), page.click('[data-action=download-log]')]);
    expect(readFileSync((await log.path())!, 'utf8')).toContain('hello from the remote build');
    await page.goto(`${url}/#/runs/${encodeURIComponent(runId)}/artifacts`);
    const [artifact] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action=download-artifact]').first().click()]);
    expect(readFileSync((await artifact.path())!, 'utf8')).toBe('remote artifact\n');
    expect(artifact.suggestedFilename()).toBe('report.txt');
    // Downloads are not requests of the page: their URLs join the list here. Each ticket was used up by its download.
    requested.push(log.url(), artifact.url());
    expect(log.url()).toMatch(/\/log\/raw\?auth_ticket=/);
    expect(artifact.url()).toMatch(/\/download\?auth_ticket=/);
    expect((await fetch(artifact.url())).status).toBe(401);
  });

  it('opens the debug terminal of a failed job through a ticket', async () => {
    const debugRun = (await api<{ runIds: string[] }>('POST', '/api/runs', { repo: REPO, branch: 'broken', debug: true })).runIds[0];
    let kept: Array<{ jobId: string }> = [];
    for (const deadline = Date.now() + 90_000; kept.length === 0;) {
      if (Date.now() > deadline) throw new Error(`the failed job was never kept; kiln serve said:\n${served?.output()}`);
      await new Promise((r) => setTimeout(r, 250));
      kept = await api('GET', '/api/debug/jobs');
    }
    await page.goto(`${url}/#/runs/${encodeURIComponent(debugRun)}/jobs/${encodeURIComponent(kept[0].jobId)}`);
    await page.waitForSelector('.terminal-pane[data-state=open]', { timeout: 30_000 });
    await page.locator('.terminal-pane .xterm').first().click();
    await page.keyboard.type('echo "t=$((6*7))"\n');
    await expect.poll(() => page.locator('.terminal-pane .xterm-rows').first().innerText(), { timeout: 20_000 }).toMatch(/t=42/);
    expect(requested.some((u) => /^ws:\/\/.*\/terminal\?auth_ticket=/.test(u))).toBe(true);

    // Plain http beyond loopback is no secure context: no Clipboard API. Ctrl+Shift+C still copies
    // the selected output line, and Ctrl+Shift+V pastes it back into the shell as a command.
    expect(await page.evaluate(() => ({ secure: window.isSecureContext, clipboard: typeof navigator.clipboard }))).toEqual({ secure: false, clipboard: 'undefined' });
    await page.keyboard.type('clear; echo "cp-$((6*7))"\n');
    const row = page.locator('.terminal-pane .xterm-rows').first().locator('> div', { hasText: /^cp-42/ });
    await row.waitFor({ timeout: 20_000 });
    await row.click({ clickCount: 3, force: true }); // xterm's screen layer above the rows takes the mouse
    await page.keyboard.press('Control+Shift+C');
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.terminal-pane .xterm-rows').first().innerText(), { timeout: 20_000 }).toMatch(/cp-42: not found/);
    await api('POST', `/api/jobs/${encodeURIComponent(kept[0].jobId)}/debug/end`);
  });

  it('keeps the session across a reload, but a new tab asks again', async () => {
    await page.goto(`${url}/#/runs`);
    await page.reload();
    await page.locator(`tr[data-run-id="${runId}"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid=sign-in]').count()).toBe(0);
    const other = await browser.context.newPage();
    try {
      await other.goto(`${url}/`);
      await other.locator('[data-testid=sign-in]').waitFor({ timeout: 20_000 });
    } finally {
      await other.close();
    }
  });

  it('asks again, saying why, when the server refuses the token the tab kept (it changed meanwhile)', async () => {
    await page.evaluate(() => sessionStorage.setItem('kiln.api-token', 'a-token-since-replaced'));
    await page.reload();
    await page.locator('[data-testid=sign-in-note]').waitFor({ timeout: 20_000 });
    expect(await page.textContent('[data-testid=sign-in-note]')).toMatch(/no longer accepts the token/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await signIn(TOKEN);
    await page.locator(`tr[data-run-id="${runId}"]`).waitFor({ timeout: 20_000 });
  });

  it('forgets the token on Sign out and returns to the sign-in screen, also after a reload', async () => {
    await page.click('[data-action=sign-out]');
    await page.locator('[data-testid=sign-in-note]').waitFor();
    expect(await page.textContent('[data-testid=sign-in-note]')).toContain('Signed out');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await page.locator('[data-testid=sign-in]').waitFor({ timeout: 20_000 });
    await screenshot(page, 'remote-signed-out');
  });

  it('never put the token in a URL, in kiln serve\'s output or in its database', () => {
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((u) => u.includes(TOKEN))).toEqual([]);
    expect(served?.output()).not.toContain(TOKEN);
    const data = join(root, 'data');
    const files = readdirSync(data, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && /\.(db|db-wal|log|json)$/.test(e.name));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(join(f.parentPath, f.name)).includes(TOKEN), `${f.name} holds the token`).toBe(false);
  });
});
