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
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine } from '../../src-main/engine/engine.js';
import { startServer } from '../../src-main/http/app.js';
import { FAILING_PIPELINE, containers } from '../debug/debug-fixture.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, STATIC_DIR, type Dashboard } from './helpers/kiln-stack.js';

const REPO = 'acme/debuggable';
/** The debug fixture, and a step that runs after the failure: a re-run's output then follows it in the log. */
const PIPELINE = `${FAILING_PIPELINE}      - name: Report
        if: always()
        run: echo "report after the failure"
`;
/** Long enough for the terminal steps on a loaded machine (the first job's deadline is extended early, too). */
const KEEP_MS = 60_000;
/**
 * The keep saved in Settings before the run left to expire (and put back once its job is kept):
 * long enough to open its page while kept, short enough to wait out.
 */
const EXPIRING_KEEP_MS = 20_000;

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
  let second: string;
  let config: KilnConfig;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-debug-e2e-'));
    const repoDir = join(root, 'repo');
    mkdirSync(repoDir);
    committedRepo(repoDir, { '.kiln.yml': PIPELINE });
    config = defaultConfig();
    config.server.port = 0;
    config.repositories.push({ name: REPO, url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: { DEPLOY_TOKEN: 'never-on-screen' }, priority: {} });
    // The keep from the configuration (debug.keep), as `kiln serve` has it: a save in Settings applies to the next kept job.
    config.debug = { keepMs: KEEP_MS };
    kiln = await openDashboard({ config, dataDir: join(root, 'data') });
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
      await page.waitForTimeout(100);
    }
    jobId = (await kiln.engine.listKeptJobs())[0].jobId;
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
    await page.waitForSelector('[data-testid=debug-panel]', { timeout: 20_000 });
    expect(await page.textContent('[data-testid=debug-panel]')).toContain('Waiting for debug');
    expect(await page.textContent(`.job-list-item[data-job-id="${jobId}"]`)).toContain('debug');
  });

  it('marks the kept job "waiting for debug" with its time left in the pipeline graph, the job table and the runs list', async () => {
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}`);
    const node = page.locator(`.job-node[data-job-id="${jobId}"]`);
    await expect.poll(() => node.getAttribute('data-debug'), { timeout: 20_000 }).toBe('waiting');
    expect(await node.textContent()).toMatch(/debug · \d+ min left/);
    // Its status is still running: only the engine's kept list says a person is awaited.
    expect((await kiln.engine.getRun(runId)).jobs.find((j) => j.id === jobId)?.status).toBe('running');
    expect(await page.textContent(`.job-table tr[data-job-id="${jobId}"]`)).toMatch(/waiting for debug · \d+ min left/);
    await screenshot(page, 'debug-waiting-graph');
    await page.goto(`${kiln.server.url}/#/runs`);
    const badge = page.locator(`tr[data-run-id="${runId}"] [data-testid=debug-badge]`);
    await badge.waitFor({ timeout: 20_000 });
    expect(await badge.textContent()).toMatch(/^waiting for debug · \d+ min left$/);
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
    await page.waitForSelector('[data-testid=debug-panel]', { timeout: 20_000 });
    expect(await page.textContent('[data-testid=debug-slot]')).toContain('holding a concurrency slot');
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
    // The new size reaches the shell a moment later: ask until it answers with another size.
    let after: number[] = [];
    for (let attempt = 1; ; attempt++) {
      await typeInTerminal(page, 'clear; stty size\n');
      const last = attempt === 5;
      try {
        after = (await waitForScreen(page, new RegExp(`^(?!${before.join(' ')}$)\\d+ \\d+$`, 'm'), 0, last ? 20_000 : 400)).split(' ').map(Number);
        break;
      } catch (err) {
        if (last) throw err;
      }
    }
    expect(after[1]).toBeLessThan(before[1]);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('runs two terminals at once', async () => {
    await page.click('[data-action=new-terminal]');
    await page.waitForSelector('.terminal-pane[data-terminal="1"][data-state=open]', { timeout: 20_000 });
    await typeInTerminal(page, 'echo "second-$((3*3))"\n', 1);
    await waitForScreen(page, /second-9/, 1);
  });

  it('pastes into the shell with Ctrl+Shift+V and copies the selection with Ctrl+Shift+C', async () => {
    await kiln.browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kiln.server.url });
    await page.evaluate(() => navigator.clipboard.writeText('echo "pasted-$((5*5))"'));
    await page.locator('.terminal-pane').nth(0).locator('.xterm').click();
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');
    await waitForScreen(page, /^pasted-25/m);
    await typeInTerminal(page, 'clear; echo "copy-$((6*7))-me"\n');
    await waitForScreen(page, /^copy-42-me/m);
    // A triple click selects the output line; the shortcut puts it on the clipboard.
    // (xterm takes the mouse on the screen layer above the rows: the click goes where the row is.)
    await page.locator('.terminal-pane').nth(0).locator('.xterm-rows > div', { hasText: /^copy-42-me/ }).click({ clickCount: 3, force: true });
    await page.keyboard.press('Control+Shift+C');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), { timeout: 5_000 }).toMatch(/^copy-42-me\s*$/);
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

  it('shows the re-run\'s output under its own "re-run of" header, not under the step that ran after the failure', async () => {
    const header = page.locator('.log-step[data-section^="rerun:"]');
    await header.waitFor({ timeout: 20_000 });
    expect(await header.textContent()).toContain("re-run of 'Break'");
    const start = Number((await header.getAttribute('data-section'))!.slice('rerun:'.length));
    expect(await page.textContent(`.log-line[data-seq="${start}"]`)).toContain("re-running step 'Break' in the kept container (debug)");
    // In the list: Break, then Report (the always() step), then the re-run with its output.
    const top = (selector: string): Promise<number> => page.locator(selector).first().evaluate((el) => el.getBoundingClientRect().top);
    const report = await top('.log-step[data-section="step:2"]');
    expect(report).toBeGreaterThan(await top('.log-step[data-section="step:1"]'));
    expect(await top('.log-step[data-section^="rerun:"]')).toBeGreaterThan(report);
    const rerunLines = await page.$$eval('.log-line', (els, from) => els.filter((e) => Number(e.getAttribute('data-seq')) >= from).map((e) => e.textContent ?? ''), start);
    expect(rerunLines.some((t) => t.includes('failing now'))).toBe(true);
    expect(await top(`.log-line[data-seq="${start}"]`)).toBeGreaterThan(await top('.log-step[data-section^="rerun:"]'));
    await screenshot(page, 'debug-rerun-section');
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
    // A second run with debug, from the run page's Re-run: its job is kept, then left to expire
    // after the shorter keep saved in Settings meanwhile.
    await kiln.engine.saveServerSettings({ debugKeep: EXPIRING_KEEP_MS });
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId)}`);
    await page.waitForSelector('[data-action=rerun]');
    await page.check('input[name=debug]');
    await page.click('[data-action=rerun]');
    await page.waitForURL((u) => !u.hash.includes(runId) && /#\/runs\/[^/]+$/.test(u.hash), { timeout: 30_000 });
    second = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const keptDeadline = Date.now() + 90_000;
    let kept;
    while (!(kept = (await kiln.engine.listKeptJobs()).find((k) => k.runId === second))) {
      if (Date.now() > keptDeadline) throw new Error('the re-run job was never kept');
      await page.waitForTimeout(100);
    }
    expect(kept.deadline - kept.keptAt).toBe(EXPIRING_KEEP_MS);
    await kiln.engine.saveServerSettings({ debugKeep: KEEP_MS }); // for the next kept job (below)
    expect(containers(second)).toEqual(['job:running', 'service:running']);
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(second)}/jobs/${encodeURIComponent(kept.jobId)}`);
    await page.waitForSelector('[data-testid=debug-panel]');
    await page.waitForSelector(`.page-run[data-status=failed]`, { timeout: EXPIRING_KEEP_MS + 30_000 });
    await page.waitForSelector('[data-testid=debug-panel]', { state: 'detached', timeout: 10_000 });
    expect(containers(second)).toEqual([]);
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
  });

  it('shows the time the job was kept as its own phase in the timing view, not as work after the steps', async () => {
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(second)}/timing`);
    await page.locator('.timing-bar[data-phase=kept_for_debug]').waitFor({ timeout: 20_000 });
    expect(await page.textContent('[data-testid=timing-totals] [data-phase=kept_for_debug]')).toContain('kept for debug');
    expect(await page.textContent('.timing-legend')).toContain('kept for debug');
    const job = (await kiln.engine.getRunTiming(second)).jobs[0];
    const spent = (phase: string): number => job.segments.filter((x) => x.phase === phase).reduce((ms, x) => ms + (x.end ?? Date.now()) - x.start, 0);
    // Kept for the configured keep; the work after the steps is seconds at most.
    expect(spent('kept_for_debug')).toBeGreaterThan(EXPIRING_KEEP_MS - 2_000); // the hold lasts until the deadline
    expect(spent('after_steps')).toBeLessThan(15_000);
    await screenshot(page, 'debug-timing');
  });

  it('after a restart, says the adopted job holds a concurrency slot too, and still marks it waiting for debug', async () => {
    const { runIds: [third] } = await kiln.engine.triggerRun({ repo: REPO, branch: 'main', debug: true });
    const keptDeadline = Date.now() + 90_000;
    while (!(await kiln.engine.listKeptJobs()).some((k) => k.runId === third)) {
      if (Date.now() > keptDeadline) throw new Error('the third run\'s job was never kept');
      await page.waitForTimeout(100);
    }
    await page.goto('about:blank');
    // A stopped engine leaves the kept container up; the next one on the same data adopts it.
    await kiln.server.close();
    await kiln.engine.stop();
    const engine = await Engine.start({ config, dataDir: join(root, 'data'), onError: () => undefined, debug: { keepMs: KEEP_MS } });
    const server = await startServer({ engine, port: 0, staticDir: STATIC_DIR, artifacts: engine.artifacts });
    const browser = kiln.browser;
    kiln = { engine, server, browser, page, async close() { await browser.close(); await server.close(); await engine.stop(); } };
    const adopted = (await kiln.engine.listKeptJobs()).find((k) => k.runId === third);
    expect(adopted?.state).toBe('adopted');
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(third)}/jobs/${encodeURIComponent(adopted!.jobId)}`);
    await page.waitForSelector('[data-testid=debug-panel]', { timeout: 20_000 });
    expect(await page.textContent('[data-testid=debug-slot]')).toContain('kept from before a restart, holding a concurrency slot');
    await page.goto(`${kiln.server.url}/#/runs`);
    await page.locator(`tr[data-run-id="${third}"] [data-testid=debug-badge]`).waitFor({ timeout: 20_000 });
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(third)}/jobs/${encodeURIComponent(adopted!.jobId)}`);
    await page.click('[data-action=end-debug]');
    await page.waitForSelector('[data-testid=debug-panel]', { state: 'detached', timeout: 20_000 });
    expect(containers(third)).toEqual([]);
  });
});
