/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard end to end, in Debian's Chromium, against `kiln serve`'s pieces (real Engine, real
 * Docker jobs, real HTTP server serving the built renderer): trigger from the UI, watch the DAG turn
 * green, follow a live log, search it, download an artifact, see a failing run turn red.
 * Screenshots of each main view go to test-output/screenshots/.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { startKilnStack, type KilnStack } from './helpers/kiln-stack.js';
import { startDroppableProxy } from './helpers/tcp-proxy.js';

const REPO = 'acme/web';

/** `ticks`: lines of the slow unit job, 0.15 s apart (the live-log tests follow all 40 of them). */
const PIPELINE = (lint: string, ticks = 40): string => `name: web
on:
  push: { branches: [main] }
  manual: true
stages: [build, test]
jobs:
  build:
    stage: build
    image: ${TEST_IMAGE}
    artifacts: { paths: ['dist/**'], when: on_success }
    steps:
      - name: Compile
        run: |
          printf '\\033[1;32mcompiling\\033[0m web for %s\\n' "$KILN_BRANCH"
          mkdir -p dist && echo "bundle of $KILN_SHA" > dist/app.js
      - name: Report
        run: echo "built $(wc -c < dist/app.js) bytes"
  unit:
    stage: test
    image: ${TEST_IMAGE}
    steps:
      - name: Warm up
        run: echo "starting unit tests"
      - name: Tick
        run: for i in $(seq 1 ${ticks}); do echo "tick $i"; sleep 0.15; done
  lint:
    stage: test
    image: ${TEST_IMAGE}
    steps:
      - name: Lint
        run: |
          ${lint}
`;

describe('the dashboard in Chromium', () => {
  let kiln: KilnStack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    kiln = await startKilnStack(REPO, [
      { name: 'main', message: 'Add the web pipeline\n\nWith build, unit and lint jobs.', files: { '.kiln.yml': PIPELINE('echo "lint ok"'), 'src/app.txt': 'hello\n' } },
      { name: 'broken', message: 'Break the linter on purpose', files: { '.kiln.yml': PIPELINE('echo "lint: 3 problems" >&2; exit 1', 5) } },
    ]);
    browser = await openBrowser();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  async function triggerFromUi(branch: string): Promise<string> {
    await page.goto(`${kiln.url}/#/trigger`);
    await page.selectOption('select[name=repo]', REPO);
    await page.fill('input[name=branch]', branch);
    await page.click('[data-action=trigger]');
    await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: 30_000 });
    return decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
  }

  /** A run of main whose build passed: the first test's, else one started here (a test run alone). */
  let passedMain: string | undefined;

  const nodeStatuses = (): Promise<Record<string, string>> => page.$$eval('.job-node', (els) => Object.fromEntries(els.map((e) => [e.querySelector('.job-node-name')?.textContent ?? '', (e as HTMLElement).dataset.status ?? ''])));

  it('triggers a run from the UI and watches its DAG nodes turn green', async () => {
    await page.goto(`${kiln.url}/#/trigger`);
    await page.waitForSelector('[data-testid=trigger-form]');
    await screenshot(page, 'trigger');
    const runId = await triggerFromUi('main');
    await page.waitForSelector('[data-testid=pipeline-graph] .job-node');
    // Stages are groups; needs are edges (build → unit, build → lint).
    expect(await page.$$eval('.stage-label', (els) => els.map((e) => e.textContent))).toEqual(['build', 'test']);
    expect(await page.$$eval('.react-flow__edge', (els) => els.length)).toBe(2);
    await expect.poll(nodeStatuses, { timeout: 90_000, interval: 250 }).toEqual({ build: 'passed', unit: 'passed', lint: 'passed' });
    await page.waitForSelector(`.page-run[data-status=passed]`);
    passedMain = runId;
    // The edges survive the live updates (nodes are rebuilt on each one).
    expect(await page.$$eval('.react-flow__edge path.react-flow__edge-path', (els) => els.filter((e) => (e.getAttribute('d') ?? '').length > 0).length)).toBe(2);
    const border = await page.$eval('.job-node[data-status=passed]', (e) => getComputedStyle(e).borderLeftColor);
    expect(border).toBe('rgb(31, 157, 85)');
    await screenshot(page, 'run-graph-passed');

    // Clicking a job in the graph opens its log, as the table's link does, even when the pointer
    // moves a little between press and release (a hand's click, which a pan would otherwise swallow).
    const tableLink = await page.getAttribute('.job-table tr:has-text("lint") a', 'href');
    expect(await page.getAttribute('.job-node:has-text("lint")', 'href')).toBe(tableLink);
    const box = (await page.locator('.job-node:has-text("lint")').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 3, box.y + box.height / 2 + 1, { steps: 3 });
    await page.mouse.up();
    await page.waitForURL((url) => url.hash === tableLink, { timeout: 5_000 });
    await page.waitForSelector('.log-line:has-text("lint ok")', { timeout: 30_000 });

    // The runs list shows it, passed, with its commit.
    await page.goto(`${kiln.url}/#/runs`);
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('passed');
    const run = await kiln.engine.getRun(runId);
    expect(await row.textContent()).toContain(run.sha.slice(0, 7));
    await screenshot(page, 'runs-list');
  });

  it("follows a running job's live log, then searches it", async () => {
    const runId = await triggerFromUi('main');
    await page.waitForSelector('.job-node');
    // Open the slow job from the graph while it is still going.
    await expect.poll(nodeStatuses, { timeout: 60_000, interval: 100 }).toMatchObject({ unit: 'running' });
    await page.click('.job-node:has-text("unit")');
    await page.waitForURL(new RegExp(`#/runs/${runId}/jobs/`));
    const viewer = page.locator('[data-testid=log-viewer]');
    await page.waitForSelector('.log-line:has-text("tick 3")', { timeout: 30_000 });
    // Lines arrive while the job runs: the log is not complete yet and keeps growing.
    expect(await viewer.getAttribute('data-complete')).toBe('false');
    const early = Number(await viewer.getAttribute('data-lines'));
    await page.waitForSelector('.log-line:has-text("tick 40")', { timeout: 60_000 });
    await page.waitForSelector('[data-testid=log-viewer][data-complete=true]', { timeout: 30_000 });
    expect(Number(await viewer.getAttribute('data-lines'))).toBeGreaterThan(early);
    // Every tick exactly once, in order: no gap, no duplicate.
    const ticks = await page.$$eval('.log-line .txt', (els) => els.map((e) => e.textContent ?? '').filter((t) => /^tick \d+$/.test(t)));
    const numbers = ticks.map((t) => Number(t.slice(5)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    // Steps are foldable sections; "jump to step" lists them all.
    expect(await page.$$eval('select[name=jump-to-step] option', (els) => els.map((e) => e.textContent))).toEqual(expect.arrayContaining(['Warm up', 'Tick']));
    await page.selectOption('select[name=jump-to-step]', { label: 'Warm up' });
    await page.waitForSelector('.log-line:has-text("starting unit tests")');
    await page.click('.log-step[data-section="step:0"] .log-step-toggle');
    await page.waitForSelector('.log-line:has-text("starting unit tests")', { state: 'detached' });
    await page.click('.log-step[data-section="step:0"] .log-step-toggle');
    await screenshot(page, 'log-live');

    await page.fill('input[name=log-search]', 'tick 3');
    const count = page.locator('[data-testid=log-search-count]');
    await expect.poll(() => count.textContent(), { timeout: 10_000 }).toBe('1 of 11');
    await page.waitForSelector('.log-line.current-match:has-text("tick 3")');
    await page.click('button[aria-label="Next match"]');
    await expect.poll(() => count.textContent()).toBe('2 of 11');
    await page.waitForSelector('.log-line.current-match:has-text("tick 30")');
    await page.click('button[aria-label="Previous match"]');
    await page.click('button[aria-label="Previous match"]');
    await expect.poll(() => count.textContent()).toBe('11 of 11');
    expect(await page.$$eval('.log-line mark', (els) => els.length)).toBeGreaterThan(0);
    await screenshot(page, 'log-search');

    // A link to a line scrolls to it and marks it.
    const jobUrl = page.url().split('#L')[0];
    await page.goto(`${jobUrl}#L2`);
    await page.waitForSelector('.log-line.anchored[data-seq="1"]');
  });

  it('resumes a live log after the connection drops, with no gap and no duplicate', async () => {
    const proxy = await startDroppableProxy(kiln.server.port);
    // The proxy is a second name (another port) for the server: allowed as server.allowed-hosts would.
    kiln.engine.config.server.allowedHosts = [new URL(proxy.url).host];
    try {
      const runId = await triggerFromUi('main');
      await expect.poll(nodeStatuses, { timeout: 60_000, interval: 100 }).toMatchObject({ unit: 'running' });
      const job0 = (await kiln.engine.getRun(runId)).jobs.find((j) => j.name === 'unit')!;
      const streams: string[] = [];
      const onRequest = (r: { url(): string }): void => { if (r.url().includes('/log/stream')) streams.push(r.url()); };
      page.on('request', onRequest);
      // Through the proxy, so the test can cut the connection under the open event streams.
      await page.goto(`${proxy.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(job0.id)}`);
      await page.waitForSelector('.log-line:has-text("tick 2")', { timeout: 30_000 });
      expect(proxy.dropAll()).toBeGreaterThan(0);
      await page.waitForSelector('.log-line:has-text("tick 12")', { timeout: 30_000 });
      expect(proxy.dropAll()).toBeGreaterThan(0);
      await page.waitForSelector('[data-testid=log-viewer][data-complete=true]', { timeout: 60_000 });
      page.off('request', onRequest);
      expect(streams.length).toBeGreaterThanOrEqual(2);
      // The resumed stream asked for the next line it needed, not the start.
      expect(streams.slice(1).every((u) => !/offset=0(&|$)/.test(u))).toBe(true);
      // Read every row by scrolling the virtual list top to bottom.
      const rows = await page.evaluate(async () => {
        const list = document.querySelector('.log-list') as HTMLElement;
        const seen: Record<string, string> = {};
        const frame = (): Promise<void> => new Promise((r) => requestAnimationFrame(() => r()));
        for (let top = 0; ; top += list.clientHeight / 2) {
          list.scrollTop = top;
          await frame(); await frame();
          for (const el of document.querySelectorAll<HTMLElement>('.log-line[data-seq]')) seen[el.dataset.seq!] = el.querySelector('.txt')?.textContent ?? '';
          if (top >= list.scrollHeight) break;
        }
        return seen;
      });
      const job = (await kiln.engine.getRun(runId)).jobs.find((j) => j.name === 'unit')!;
      const total = (await kiln.engine.getLog(job.id, 0, 1)).total!;
      expect(Object.keys(rows).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
      const ticks = Object.values(rows).filter((t) => /^tick \d+$/.test(t));
      expect(ticks).toEqual(Array.from({ length: 40 }, (_, i) => `tick ${i + 1}`));
    } finally {
      await proxy.close();
    }
  });

  it("lists a run's artifacts and downloads one", async () => {
    let runId = passedMain;
    if (!runId) {
      runId = await triggerFromUi('main');
      await expect.poll(nodeStatuses, { timeout: 90_000, interval: 250 }).toMatchObject({ build: 'passed' });
    }
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(runId)}/artifacts`);
    const link = page.locator('[data-action=download-artifact]').first();
    await link.waitFor({ timeout: 30_000 });
    expect(await page.locator('.artifacts-table').textContent()).toContain('dist/app.js');
    await screenshot(page, 'artifacts');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const run = await kiln.engine.getRun(runId);
    expect(readFileSync((await download.path())!, 'utf8')).toBe(`bundle of ${run.sha}\n`);
    expect(download.suggestedFilename()).toBe('app.js');
  });

  it('shows a failing run turn red, with the failed job in red', async () => {
    const runId = await triggerFromUi('broken');
    await expect.poll(nodeStatuses, { timeout: 90_000, interval: 250 }).toMatchObject({ lint: 'failed' });
    await page.waitForSelector('.page-run[data-status=failed]', { timeout: 60_000 });
    const border = await page.$eval('.job-node[data-status=failed]', (e) => getComputedStyle(e).borderLeftColor);
    expect(border).toBe('rgb(217, 54, 54)');
    expect(await page.locator('.run-header .badge').getAttribute('data-status')).toBe('failed');
    expect(await page.$$eval('.react-flow__edge path.react-flow__edge-path', (els) => els.filter((e) => (e.getAttribute('d') ?? '').length > 0).length)).toBe(2);
    await screenshot(page, 'run-graph-failed');
    // The failed job's log shows the error on stderr.
    await page.click('.job-node:has-text("lint")');
    await page.waitForSelector('.log-line.stream-stderr:has-text("lint: 3 problems")', { timeout: 30_000 });
    await screenshot(page, 'log-failed');
    // Re-run offers "failed only" for a failed run.
    expect(await page.locator('[data-action=rerun-failed]').count()).toBe(1);
    await page.goto(`${kiln.url}/#/runs`);
    await page.waitForSelector(`tr[data-run-id="${runId}"][data-status=failed]`);
  });

  it('shows settings, deliveries and storage', async () => {
    await page.goto(`${kiln.url}/#/settings`);
    await page.waitForSelector(`[data-repo="${REPO}"]`);
    const settings = await page.locator('.content').textContent();
    expect(settings).toContain('DEPLOY_TOKEN');
    expect(settings).not.toContain('not-shown');
    expect(settings).toContain('1 configured');
    await page.waitForSelector('[data-tunnel-state=disabled]');
    await screenshot(page, 'settings');
    await page.goto(`${kiln.url}/#/deliveries`);
    await page.waitForSelector('h1:has-text("Webhook deliveries")');
    await screenshot(page, 'deliveries');
    await page.goto(`${kiln.url}/#/storage`);
    await page.waitForSelector('[data-testid=storage-metrics]');
    await screenshot(page, 'storage');
  });
});
