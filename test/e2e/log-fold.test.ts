/// <reference lib="dom" />
/**
 * Folding a whole step of a long log, in Debian's Chromium against the real engine, Docker and HTTP
 * server: the list asks the engine only for the lines it shows, so folding a step fetches none of the
 * lines the fold hides (the lines shown above and below it used to span them, and a 200,000-line step
 * was fetched whole on every fold); search and line links still open the folded step.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { startKilnStack, type KilnStack } from './helpers/kiln-stack.js';

const REPO = 'acme/long-log';
/** Lines of the long step: several pages of the viewer's page cache (1,000 lines a page). */
const LONG = 6000;

const PIPELINE = `name: long-log
on: { manual: true }
jobs:
  long:
    image: ${TEST_IMAGE}
    steps:
      - name: Print many lines
        run: awk 'BEGIN { for (i = 1; i <= ${LONG}; i++) printf "long line %d\\n", i }'
      - name: After
        run: |
          echo "after the long step"
          echo "last line"
`;

describe('folding a step of a long log', () => {
  let kiln: KilnStack;
  let browser: Browser;
  let page: Page;
  let jobUrl: string;
  /** The offsets of the log pages the page asked the engine for. */
  const pageRequests: number[] = [];

  beforeAll(async () => {
    kiln = await startKilnStack(REPO, [{ name: 'main', message: 'long log', files: { '.kiln.yml': PIPELINE } }]);
    browser = await openBrowser();
    page = browser.page;
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (/^\/api\/jobs\/[^/]+\/log$/.test(url.pathname)) pageRequests.push(Number(url.searchParams.get('offset') ?? 0));
    });
    const { runIds: [runId] } = await kiln.engine.triggerRun({ repo: REPO, branch: 'main' });
    for (let i = 0; i < 600; i++) {
      const run = await kiln.engine.getRun(runId);
      if (run.status === 'failed' || run.status === 'passed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await kiln.engine.getRun(runId);
    expect(run.status).toBe('passed');
    jobUrl = `${kiln.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(run.jobs[0].id)}`;
  });

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it("shows the next step's lines at once and fetches none of the lines it hides", async () => {
    await page.goto(jobUrl);
    await page.waitForSelector('[data-testid=log-viewer][data-complete=true]');
    await page.waitForSelector('.log-line:has-text("long line 1")');
    const firstLong = Number(await page.getAttribute('.log-line:has-text("long line 1") >> nth=0', 'data-seq'));
    const after = firstLong + LONG;
    await new Promise((r) => setTimeout(r, 300));
    pageRequests.length = 0;

    await page.click('.log-step[data-section="step:0"] .log-step-toggle');
    await page.waitForSelector('.log-line:has-text("after the long step")');
    expect(await page.getAttribute('.log-step[data-section="step:0"] .log-step-toggle', 'aria-expanded')).toBe('false');
    expect(await page.locator('.log-line:has-text("long line")').count()).toBe(0);
    // Only the page holding the lines now in view (read in one request or more): none of the pages
    // wholly inside the folded step.
    await new Promise((r) => setTimeout(r, 300));
    expect(pageRequests.length).toBeGreaterThan(0);
    expect(new Set(pageRequests.map((offset) => Math.floor(offset / 1000)))).toEqual(new Set([Math.floor(after / 1000)]));
    await screenshot(page, 'log-step-folded');

    // Unfolding shows the step's first lines again, from the pages already held.
    pageRequests.length = 0;
    await page.click('.log-step[data-section="step:0"] .log-step-toggle');
    await page.waitForSelector('.log-line:has-text("long line 1")');
    expect(pageRequests).toEqual([]);
  });

  it('opens the folded step for a search match inside it', async () => {
    await page.click('.log-step[data-section="step:0"] .log-step-toggle');
    await page.waitForSelector('.log-line:has-text("long line 1")', { state: 'detached' });
    await page.fill('input[name=log-search]', 'long line 4321');
    await page.waitForSelector('.log-line.current-match:has-text("long line 4321")', { timeout: 10_000 });
    await page.fill('input[name=log-search]', '');
  });

  it('opens the folded step for a link to a line inside it', async () => {
    await page.goto('about:blank');
    await page.goto(jobUrl);
    await page.waitForSelector('[data-testid=log-viewer][data-complete=true]');
    await page.click('.log-step[data-section="step:0"] .log-step-toggle');
    await page.waitForSelector('.log-line:has-text("after the long step")');
    const seq = Number(await page.getAttribute('.log-line:has-text("after the long step")', 'data-seq')) - 1000;
    await page.goto(`${jobUrl}#L${seq + 1}`);
    await page.waitForSelector(`.log-line.anchored[data-seq="${seq}"]:has-text("long line")`, { timeout: 10_000 });
  });
});
