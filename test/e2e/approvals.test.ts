/// <reference lib="dom" />
/**
 * An approval gate in the dashboard, in Debian's Chromium, against a real engine running real
 * Docker jobs: the run shows it waits, the job is approved with the run view's button, and the run
 * completes. The Schedules page lists the pipeline's schedule with its zone and next time.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { startKilnStack, type KilnStack } from './helpers/kiln-stack.js';

const REPO = 'acme/web';

const PIPELINE = `name: release
on:
  manual: true
  schedule:
    - cron: '30 3 * * 1-5'
      timezone: Europe/Paris
jobs:
  build:
    image: ${TEST_IMAGE}
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=2.4.0" >> "$KILN_OUTPUT"
  deploy:
    image: ${TEST_IMAGE}
    needs: build
    when: manual
    steps:
      - run: echo "deploying \${{ needs.build.outputs.version }}"
  announce:
    image: ${TEST_IMAGE}
    needs: deploy
    steps:
      - run: echo "announced"
`;

describe('an approval gate in the dashboard', () => {
  let kiln: KilnStack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    kiln = await startKilnStack(REPO, [{ name: 'main', message: 'Release pipeline with a gate', files: { '.kiln.yml': PIPELINE } }]);
    browser = await openBrowser();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('shows the run waiting, approves the job with its button, and the run completes', async () => {
    const { runIds: [runId] } = await kiln.engine.triggerRun({ repo: REPO, branch: 'main' });
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(runId)}`);
    const approve = page.locator('[data-testid=approvals] tr:has-text("deploy") [data-action=approve]');
    await approve.waitFor({ timeout: 90_000 });
    expect(await page.textContent('[data-testid=waiting-for-approval]')).toContain('Waiting for approval: 1 job');
    expect(await page.getAttribute('.job-node:has-text("deploy")', 'data-status')).toBe('queued');
    expect(await page.getAttribute('.job-node:has-text("announce")', 'data-status')).toBe('queued');
    await screenshot(page, 'approval-waiting');

    // The list says so too.
    await page.goto(`${kiln.url}/#/runs`);
    await page.locator(`tr[data-run-id="${runId}"] [data-waiting-approval]`).waitFor({ timeout: 10_000 });
    await page.goto(`${kiln.url}/#/runs/${encodeURIComponent(runId)}`);

    await approve.click();
    await page.waitForSelector('.page-run[data-status=passed]', { timeout: 90_000 });
    expect(await page.locator('[data-testid=approvals]').count()).toBe(0);
    expect(await page.locator('[data-testid=waiting-for-approval]').count()).toBe(0);
    const run = await kiln.engine.getRun(runId);
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([['build', 'passed'], ['deploy', 'passed'], ['announce', 'passed']]);
    const deploy = run.jobs.find((j) => j.name === 'deploy')!;
    expect(deploy.approval).toMatchObject({ state: 'approved', decidedBy: 'a user of this workstation' });
    expect((await kiln.engine.getLog(deploy.id, 0)).lines.map((l) => l.text)).toContain('deploying 2.4.0');
    await screenshot(page, 'approval-approved');

    // Approving it again through the HTTP API (as a script would) is a conflict that says why.
    const res = await fetch(`${kiln.url}/api/jobs/${encodeURIComponent(deploy.id)}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const again = { status: res.status, body: await res.json() as { error?: { message?: string } } };
    expect(again.status).toBe(409);
    expect(again.body.error?.message).toContain("job 'deploy' was already approved");
  });

  it('lists the schedule with its time zone and next time', async () => {
    await page.goto(`${kiln.url}/#/schedules`);
    const row = page.locator('tr[data-cron="30 3 * * 1-5"]');
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('[data-timezone]').getAttribute('data-timezone')).toBe('Europe/Paris');
    const next = Number(await row.locator('[data-next]').getAttribute('data-next'));
    const [listed] = await kiln.engine.listSchedules();
    expect(next).toBe(listed.nextAt);
    // 03:30 in Paris on a weekday.
    const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(next);
    expect(parts).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 03:30$/);
    await screenshot(page, 'schedules');
  });
});
