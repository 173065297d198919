/// <reference lib="dom" />
/**
 * What a job produced, in Debian's Chromium against the real engine, Docker and HTTP server: log
 * groups fold (closed once their step finished) and unfold; the Annotations list at the top of the
 * run links to the annotated line, opening the group around it; a job summary renders its Markdown
 * while a <script> in it never runs, its links open outside the app and its remote image (inline or
 * reference-style) is not fetched until the reader allows it; while a job streams, its group markers
 * are group headers from the first frame, never raw lines.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { startKilnStack, type KilnStack } from './helpers/kiln-stack.js';

const REPO = 'acme/records';

const PIPELINE = `name: records
on: { manual: true }
jobs:
  check:
    image: ${TEST_IMAGE}
    steps:
      - name: Build
        run: |
          echo "::group::Compile"
          for i in $(seq 1 30); do echo "compile unit $i"; done
          echo "::endgroup::"
          echo "::group::Unit tests"
          for i in $(seq 1 40); do echo "test $i ok"; done
          echo "::error file=src/app.ts,line=3,col=9::Expected 2 but got 3"
          for i in $(seq 41 60); do echo "test $i ok"; done
          echo "::endgroup::"
          echo "after the groups"
      - name: Summary
        run: |
          cat >> "$KILN_SUMMARY" <<'MD'
          # Results
          | suite | passed |
          | --- | --- |
          | unit | 59 |

          <script>window.__summaryScriptRan = true; alert('pwned')</script>
          <img src=x onerror="window.__summaryScriptRan = true">
          [the docs](https://example.com/docs)
          ![coverage chart](https://example.com/chart.png)
          MD
      - name: Fail
        run: exit 1
`;

/**
 * A job that streams groups for a few seconds: on a branch of its own, so that the checks of the
 * finished job above need not wait for it.
 */
const LIVE_PIPELINE = `name: live
on: { manual: true }
jobs:
  live:
    image: ${TEST_IMAGE}
    steps:
      - name: Stream
        run: |
          sleep 2
          echo "::group::Streaming group"
          for i in $(seq 1 30); do echo "streamed $i"; sleep 0.1; done
          echo "::group::Nested while streaming"
          for i in $(seq 31 60); do echo "streamed $i"; sleep 0.1; done
          echo "::endgroup::"
          echo "::endgroup::"
          for i in $(seq 1 5); do echo "::group::Quick $i"; echo "inside $i"; echo "::endgroup::"; sleep 0.3; done
          echo "streaming done"
`;

/** A summary whose only image is written reference-style: no inline \`![..](https://…)\` in the source. */
const REFERENCE_IMAGE_PIPELINE = `name: pictures
on: { manual: true }
jobs:
  pictures:
    image: ${TEST_IMAGE}
    steps:
      - name: Chart
        run: |
          cat >> "$KILN_SUMMARY" <<'MD'
          # Coverage
          ![coverage chart][chart]

          [chart]: https://example.com/reference-chart.png
          MD
`;

describe('what a job produced, in the dashboard', () => {
  let kiln: KilnStack;
  let browser: Browser;
  let page: Page;
  let runId: string;
  let jobId: string;
  const dialogs: string[] = [];
  const imageRequests: string[] = [];

  beforeAll(async () => {
    kiln = await startKilnStack(REPO, [
      { name: 'main', message: 'records', files: { '.kiln.yml': PIPELINE } },
      { name: 'pictures', message: 'a reference-style image', files: { '.kiln.yml': REFERENCE_IMAGE_PIPELINE } },
      { name: 'live', message: 'a job that streams groups', files: { '.kiln.yml': LIVE_PIPELINE } },
    ]);
    browser = await openBrowser();
    page = browser.page;
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    page.on('request', (r) => { if (r.url().startsWith('https://example.com/')) imageRequests.push(r.url()); });
    ({ runIds: [runId] } = await kiln.engine.triggerRun({ repo: REPO, branch: 'main' }));
    for (let i = 0; i < 600; i++) {
      const run = await kiln.engine.getRun(runId);
      if (run.status === 'failed' || run.status === 'passed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await kiln.engine.getRun(runId);
    expect(run.status).toBe('failed');
    jobId = run.jobs.find((j) => j.name === 'check')!.id;
  });

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('lists the annotations at the top of the run with a count on the job', async () => {
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(runId)}`);
    await page.waitForSelector('[data-testid=annotations] li');
    await page.waitForSelector('[data-testid=annotation-count]');
    const items = await page.$$eval('[data-testid=annotations] li', (els) => els.map((e) => ({ level: e.getAttribute('data-level'), source: e.getAttribute('data-source'), text: e.textContent })));
    expect(items).toEqual([
      { level: 'error', source: 'step', text: expect.stringContaining('Expected 2 but got 3') },
      { level: 'error', source: 'kiln', text: expect.stringContaining("step 'Fail' failed with exit code 1") },
    ]);
    expect(items[0].text).toContain('src/app.ts:3:9');
    expect(await page.textContent('[data-testid=annotation-count]')).toBe('2 errors');
    await screenshot(page, 'run-annotations-summary');
  });

  it('renders the job summary without running its script, with links that open outside the app and no remote image', async () => {
    await page.waitForSelector('[data-testid=job-summary] .markdown-body h1');
    const body = page.locator('[data-testid=job-summary] .markdown-body');
    expect(await body.locator('h1').textContent()).toBe('Results');
    expect(await body.locator('table td').allTextContents()).toEqual(['unit', '59']);
    // The script tag is shown as text, never an element; nothing it or the onerror image would do happened.
    expect(await body.locator('script, img[onerror], [onerror]').count()).toBe(0);
    expect(await body.textContent()).toContain('<script>');
    expect(await page.evaluate(() => (window as unknown as { __summaryScriptRan?: boolean }).__summaryScriptRan)).toBeUndefined();
    expect(dialogs).toEqual([]);
    const link = body.locator('a', { hasText: 'the docs' });
    expect(await link.getAttribute('href')).toBe('https://example.com/docs');
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toContain('noopener');
    // The remote image is a link until the reader allows remote images.
    expect(await body.locator('img').count()).toBe(0);
    expect(await body.locator('a.summary-blocked-image').getAttribute('href')).toBe('https://example.com/chart.png');
    expect(imageRequests).toEqual([]);
    await page.check('input[name=summary-remote-images]');
    await expect.poll(() => body.locator('img').getAttribute('src')).toBe('https://example.com/chart.png');
    expect(await body.locator('img').getAttribute('referrerpolicy')).toBe('no-referrer');
    await page.uncheck('input[name=summary-remote-images]');
  });

  it('offers to load a remote image written reference-style, which the Markdown source shows no inline image for', async () => {
    const { runIds: [pictures] } = await kiln.engine.triggerRun({ repo: REPO, branch: 'pictures' });
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(pictures)}`);
    const body = page.locator('[data-testid=job-summary] .markdown-body');
    await body.locator('h1').waitFor({ timeout: 60_000 });
    expect(await body.locator('img').count()).toBe(0);
    expect(await body.locator('a.summary-blocked-image').getAttribute('href')).toBe('https://example.com/reference-chart.png');
    expect(imageRequests.filter((u) => u.includes('reference-chart'))).toEqual([]);
    await page.check('[data-testid=job-summary] input[name=summary-remote-images]');
    await expect.poll(() => body.locator('img').getAttribute('src')).toBe('https://example.com/reference-chart.png');
    await page.uncheck('[data-testid=job-summary] input[name=summary-remote-images]');
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(runId)}`);
  });

  it('opens the annotated line from the list, unfolding the group around it', async () => {
    const link = page.locator('[data-testid=annotations] li[data-source=step] [data-testid=annotation-link]');
    const target = await link.getAttribute('href');
    const line = Number(/#L(\d+)$/.exec(target!)![1]);
    await link.click();
    await page.waitForURL((u) => u.hash.endsWith(`#L${line}`));
    const row = page.locator(`.log-line.anchored[data-seq="${line - 1}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain('Error: src/app.ts:3:9 Expected 2 but got 3');
    // The line sits inside "Unit tests", closed by default: the group was opened to show it.
    await page.$eval('.log-list', (el) => { el.scrollTop = 0; });
    expect(await page.getAttribute('.log-group:has-text("Unit tests")', 'data-folded')).toBe('false');
    expect(await page.getAttribute('.log-group:has-text("Compile")', 'data-folded')).toBe('true');
    await screenshot(page, 'log-annotation-anchored');
  });

  it('folds log groups of a finished step by default and unfolds one with a click, hiding the marker lines', async () => {
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
    await page.reload();
    const group = page.locator('.log-group:has-text("Compile")');
    await group.waitFor();
    expect(await group.getAttribute('data-folded')).toBe('true');
    expect(await group.textContent()).toContain('30 lines');
    expect(await page.locator('.log-line:has-text("compile unit 7")').count()).toBe(0);
    await page.waitForSelector('.log-line:has-text("after the groups")');
    // No raw marker is shown as a line.
    expect(await page.locator('.log-line .txt', { hasText: '::endgroup::' }).count()).toBe(0);
    expect(await page.locator('.log-line .txt', { hasText: '::group::' }).count()).toBe(0);

    await group.locator('button').click();
    await page.waitForSelector('.log-line:has-text("compile unit 7")');
    expect(await group.getAttribute('data-folded')).toBe('false');
    await screenshot(page, 'log-group-open');
    await group.locator('button').click();
    await expect.poll(() => page.locator('.log-line:has-text("compile unit 7")').count()).toBe(0);
  });

  it('keeps a group open while its step streams and closes it once the step has finished', async () => {
    const { runIds: [liveRun] } = await kiln.engine.triggerRun({ repo: REPO, branch: 'live' });
    const liveJob = (await kiln.engine.getRun(liveRun)).jobs.find((j) => j.name === 'live')!;
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(liveRun)}/jobs/${encodeURIComponent(liveJob.id)}`);
    // Every change of the list while it streams: a marker line must never show as text, not even
    // for the moment before the stored group metadata is polled again.
    await page.waitForSelector('[data-testid=log-viewer]', { timeout: 60_000 });
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __markersSeen: string[] }).__markersSeen = seen;
      const check = (): void => {
        for (const el of document.querySelectorAll('.log-line .txt')) {
          const text = el.textContent ?? '';
          if (text.includes('::group::') || text.includes('::endgroup::')) seen.push(text);
        }
      };
      new MutationObserver(check).observe(document.querySelector('[data-testid=log-viewer]')!, { subtree: true, childList: true, characterData: true });
    });
    const group = page.locator('.log-group:has-text("Streaming group")');
    await group.waitFor({ timeout: 60_000 });
    expect(await group.getAttribute('data-folded')).toBe('false');
    await page.waitForSelector('.log-line:has-text("streamed 5")');
    await page.waitForSelector('.log-group:has-text("Quick 5")', { timeout: 60_000 });
    await page.waitForSelector('[data-testid=log-viewer][data-complete=true]', { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { __markersSeen: string[] }).__markersSeen)).toEqual([]);
    await expect.poll(() => group.getAttribute('data-folded'), { timeout: 10_000 }).toBe('true');
    expect(await page.locator('.log-line:has-text("streamed 30")').count()).toBe(0);
  });
});
