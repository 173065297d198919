/// <reference lib="dom" />
/**
 * Debugging a failed job from the dashboard, in Debian's Chromium against the real engine, Docker
 * and HTTP server: start a run with debug from the manual trigger, open the terminal on the failed
 * job's page, type `ls` and `echo $SOME_VAR` (set through $KILN_ENV) and read the answers on the
 * screen, reach the job's service by its host name, resize the window, close the page and open it
 * again, see the page say so when the container vanished underneath, and let the deadline expire.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { FAILING_PIPELINE } from '../debug/debug-fixture.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const REPO = 'acme/debuggable';
/** Long enough for the terminal steps on a loaded machine, short enough to watch it expire. */
const KEEP_MS = 60_000;

function containers(runId: string): string[] {
  return execFileSync('docker', ['ps', '-a', '--filter', `label=kiln.run=${runId}`, '--format', '{{.Label "kiln.role"}}:{{.State}}'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

/** The text on the screen of terminal `i` of the page. */
function screen(page: Page, i = 0): Promise<string> {
  return page.locator('.terminal-pane').nth(i).locator('.xterm-rows').innerText();
}

async function waitForScreen(page: Page, pattern: RegExp, i = 0, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await screen(page, i);
    const m = pattern.exec(text);
    if (m) return m[0];
    if (Date.now() > deadline) throw new Error(`terminal ${i} never showed ${String(pattern)}; it shows:\n${text}`);
    await page.waitForTimeout(100);
  }
}

async function typeInTerminal(page: Page, text: string, i = 0): Promise<void> {
  await page.locator('.terminal-pane').nth(i).locator('.xterm').click();
  await page.keyboard.type(text);
}

describe('debugging a failed job in the dashboard', () => {
  let root: string;
  let kiln: Dashboard;
  let page: Page;
  let runId: string;
  let jobId: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-debug-e2e-'));
    const repoDir = join(root, 'repo');
    mkdirSync(repoDir);
    committedRepo(repoDir, { '.kiln.yml': FAILING_PIPELINE });
    const config = defaultConfig();
    config.server.port = 0;
    config.repositories.push({ name: REPO, url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: { DEPLOY_TOKEN: 'never-on-screen' }, priority: {} });
    kiln = await openDashboard({ config, dataDir: join(root, 'data'), engine: { debug: { keepMs: KEEP_MS } } });
    page = kiln.page;
  });

  afterAll(async () => {
    await kiln?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('starts a run with debug from the manual trigger and shows the failed job waiting for debug', async () => {
    await page.goto(`${kiln.server.url}/#/trigger`);
    await page.selectOption('select[name=repo]', REPO);
    await page.check('input[name=debug]');
    await page.click('[data-action=trigger]');
    await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: 30_000 });
    runId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const deadline = Date.now() + 90_000;
    while ((await kiln.engine.listKeptJobs()).length === 0) {
      if (Date.now() > deadline) throw new Error('the failed job was never kept');
      await page.waitForTimeout(200);
    }
    jobId = (await kiln.engine.listKeptJobs())[0].jobId;
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
    await page.waitForSelector('[data-testid=debug-panel]', { timeout: 20_000 });
    expect(await page.textContent('[data-testid=debug-panel]')).toContain('Waiting for debug');
    expect(await page.textContent(`.job-list-item[data-job-id="${jobId}"]`)).toContain('debug');
  });

  // Early, so that the steps below keep their container on a slow machine (the configured keep is a minute).
  it('extends the deadline by the 30 minutes its button says, not by the configured keep', async () => {
    const label = (await page.textContent('[data-action=extend-debug]')) ?? '';
    const minutes = Number(/Extend (\d+) min/.exec(label)?.[1]);
    expect(minutes).toBe(30);
    const before = Date.now();
    await page.click('[data-action=extend-debug]');
    const deadline = Date.now() + 20_000;
    let kept;
    while (!(kept = (await kiln.engine.listKeptJobs()).find((k) => k.jobId === jobId && k.deadline > before + KEEP_MS + 60_000))) {
      if (Date.now() > deadline) throw new Error('the deadline never moved');
      await page.waitForTimeout(100);
    }
    // The configured keep is a minute here: a press that sent no minutes would give about a minute.
    expect(kept.deadline).toBeGreaterThanOrEqual(before + minutes * 60_000);
    expect(kept.deadline).toBeLessThanOrEqual(Date.now() + KEEP_MS + minutes * 60_000);
  });

  it('opens a terminal in the workspace: ls and $SOME_VAR from $KILN_ENV answer on the screen', async () => {
    await page.waitForSelector('.terminal-pane[data-state=open]', { timeout: 20_000 });
    await typeInTerminal(page, 'ls\n');
    await waitForScreen(page, /marker\.txt/);
    await typeInTerminal(page, 'echo "v=$SOME_VAR"\n');
    await waitForScreen(page, /v=from-kiln-env/);
    await typeInTerminal(page, 'wget -q -O /dev/null http://web:8080/ready && echo "svc-$((40+2))"\n');
    await waitForScreen(page, /svc-42/);
    await screenshot(page, 'debug-terminal');
  });

  it('follows the window size', async () => {
    await typeInTerminal(page, 'clear; stty size\n');
    const before = (await waitForScreen(page, /^\d+ \d+$/m)).split(' ').map(Number);
    await page.setViewportSize({ width: 900, height: 800 });
    await page.waitForTimeout(500);
    await typeInTerminal(page, 'clear; stty size\n');
    const after = (await waitForScreen(page, new RegExp(`^(?!${before.join(' ')}$)\\d+ \\d+$`, 'm'))).split(' ').map(Number);
    expect(after[1]).toBeLessThan(before[1]);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('runs two terminals at once', async () => {
    await page.click('[data-action=new-terminal]');
    await page.waitForSelector('.terminal-pane[data-terminal="1"][data-state=open]', { timeout: 20_000 });
    await typeInTerminal(page, 'echo "second-$((3*3))"\n', 1);
    await waitForScreen(page, /second-9/, 1);
  });

  it('keeps the container when the page closes, and opens a terminal again on a new page', async () => {
    await page.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(containers(runId)).toEqual(['job:running', 'service:running']);
    page = await kiln.browser.context.newPage();
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
    await page.waitForSelector('.terminal-pane[data-state=open]', { timeout: 20_000 });
    await typeInTerminal(page, 'echo "again-$((1+1))"\n');
    await waitForScreen(page, /again-2/);
  });

  it('re-runs the failed step from the page, its output in the job log', async () => {
    await page.click('[data-action=rerun-step]');
    await page.waitForSelector('[data-testid=rerun-result]', { timeout: 30_000 });
    expect(await page.textContent('[data-testid=rerun-result]')).toContain('exited with 3');
    const log = (await kiln.engine.getLog(jobId, 0, 5000)).lines.map((l) => l.text);
    expect(log).toContain("re-running step 'Break' in the kept container (debug)");
  });

  it('says so in the open terminal when the container vanished underneath, and the job ends', async () => {
    await page.waitForSelector('.terminal-pane[data-state=open]', { timeout: 20_000 });
    const id = execFileSync('docker', ['ps', '-q', '--filter', `label=kiln.run=${runId}`, '--filter', 'label=kiln.role=job'], { encoding: 'utf8' }).trim();
    execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
    // No new terminal is opened: the one already open says the container is gone and debugging ended.
    await page.waitForFunction(() => /no longer exists[^\n]*debugging ended/.test(document.body.innerText), undefined, { timeout: 20_000 });
    await screenshot(page, 'debug-terminal-vanished');
    expect(await page.textContent('body')).not.toContain('the container is still up');
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
    for (const until = Date.now() + 20_000; (await kiln.engine.getRun(runId)).status !== 'failed';) {
      if (Date.now() > until) throw new Error('the run never ended failed after its container vanished');
      await page.waitForTimeout(100);
    }
    expect((await kiln.engine.getRun(runId)).jobs[0].status).toBe('failed');
    expect((await kiln.engine.health()).queue.running).toBe(0);
  });

  it('removes the kept container at the deadline and the job ends failed', async () => {
    // A second run with debug, from the run page's Re-run: its job is kept, then left to expire.
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}`);
    await page.waitForSelector('[data-action=rerun]');
    await page.check('input[name=debug]');
    await page.click('[data-action=rerun]');
    await page.waitForURL((u) => !u.hash.includes(runId) && /#\/runs\/[^/]+$/.test(u.hash), { timeout: 30_000 });
    const second = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const keptDeadline = Date.now() + 90_000;
    let kept;
    while (!(kept = (await kiln.engine.listKeptJobs()).find((k) => k.runId === second))) {
      if (Date.now() > keptDeadline) throw new Error('the re-run job was never kept');
      await page.waitForTimeout(200);
    }
    expect(containers(second)).toEqual(['job:running', 'service:running']);
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(second)}/jobs/${encodeURIComponent(kept.jobId)}`);
    await page.waitForSelector('[data-testid=debug-panel]');
    await page.waitForSelector(`.page-run[data-status=failed]`, { timeout: KEEP_MS + 30_000 });
    await page.waitForSelector('[data-testid=debug-panel]', { state: 'detached', timeout: 10_000 });
    expect(containers(second)).toEqual([]);
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
  });
});
