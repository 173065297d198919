/// <reference lib="dom" />
/**
 * The Tests and Timing tabs in Debian's Chromium, against the real engine running real Docker jobs:
 * a push whose tests fail (one report malformed), the same commit run again from the dashboard's
 * "Run pipeline" passing — the failing test is then flaky — and the run's jobs on a time axis.
 * Screenshots go to test-output/screenshots/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { git, startKilnStack, type KilnStack } from './helpers/kiln-stack.js';

const REPO = 'acme/shop';

// `checkout` fails on a push and passes when run by hand: the same commit, failed then passed.
const PIPELINE = `name: shop
on:
  push: { branches: [main] }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - run: echo building
  unit:
    image: ${TEST_IMAGE}
    needs: [build]
    reports: { junit: ['results/**/*.xml'] }
    steps:
      - name: Test
        run: |
          mkdir -p results/unit
          if [ "$KILN_EVENT" = push ]; then
            outcome='<failure message="expected 3 items, got 2">AssertionError: expected 3 items, got 2 &lt;script&gt;window.pwned=1&lt;/script&gt;</failure>'
          fi
          cat > results/unit/junit.xml <<EOF
          <?xml version="1.0"?>
          <testsuite name="cart">
            <testcase classname="cart" name="adds an item" time="0.5"/>
            <testcase classname="cart" name="checkout" time="1.25">$outcome</testcase>
            <testcase classname="cart" name="ships abroad" time="0"><skipped/></testcase>
          </testsuite>
          EOF
          echo '<testsuite><testcase name="x">' > results/broken.xml
          sleep 1
          [ "$KILN_EVENT" != push ]
`;

describe('the Tests and Timing tabs in Chromium', () => {
  let kiln: KilnStack;
  let browser: Browser;
  let page: Page;
  let failedRun: string;

  const waitForRun = async (runId: string): Promise<void> => {
    for (let i = 0; i < 600; i++) {
      const run = await kiln.engine.getRun(runId);
      if (['passed', 'failed', 'cancelled', 'timed_out'].includes(run.status)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`run ${runId} did not finish`);
  };

  beforeAll(async () => {
    kiln = await startKilnStack(REPO, [{ name: 'main', message: 'Add the shop pipeline', files: { '.kiln.yml': PIPELINE } }]);
    browser = await openBrowser();
    page = browser.page;
    const sha = git(kiln.repoDir, 'rev-parse', 'HEAD');
    const pushed = await kiln.engine.handleEvent({ kind: 'push', repo: REPO, branch: 'main', sha, ref: 'refs/heads/main', commitMessage: 'Add the shop pipeline' });
    failedRun = pushed.runIds[0];
    await waitForRun(failedRun);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('shows the failed run’s totals, the failure first with its message and output, and names the malformed file', async () => {
    await page.goto(`${kiln.url}/#/runs/${failedRun}`);
    await page.click('nav.tabs a:has-text("Tests")');
    await page.waitForURL(/#\/runs\/[^/]+\/tests$/);
    const failure = page.locator('[data-testid=test-failures] .test-failure[data-test-name="checkout"]');
    await failure.waitFor({ timeout: 30_000 });
    expect(await failure.locator('.test-message').innerText()).toBe('expected 3 items, got 2');
    // The output is text: the script tag a test printed is shown, never run.
    expect(await failure.locator('.test-output').innerText()).toBe('AssertionError: expected 3 items, got 2 <script>window.pwned=1</script>');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    const totals = await page.locator('[data-testid=test-totals]').innerText();
    expect(totals.replace(/\s+/g, ' ').toLowerCase()).toContain('3 tests 1 passed 1 failed 0 errors 1 skipped');
    expect(await page.locator('[data-testid=report-problem]').innerText()).toMatch(/results\/broken\.xml was skipped \(unit\): results\/broken\.xml:2:0: unclosed tag: testcase/);
    expect(await page.locator('[data-testid=slowest-tests] tbody tr').first().getAttribute('data-test-name')).toBe('checkout');
    await screenshot(page, 'tests-failed-run');
  });

  it('searches every case of the run from the search box, and keeps the search in the address', async () => {
    await page.fill('input[name=test-search]', 'adds');
    await page.waitForURL(/\/tests\?q=adds$/);
    const matches = page.locator('[data-testid=test-matches] tbody tr');
    await matches.first().waitFor();
    expect(await matches.evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-test-name'), r.getAttribute('data-status')]))).toEqual([['adds an item', 'passed']]);
  });

  it('lists the test as flaky once the same commit passes when run from the dashboard', async () => {
    await page.goto(`${kiln.url}/#/trigger`);
    await page.selectOption('select[name=repo]', REPO);
    await page.fill('input[name=branch]', 'main');
    await page.click('[data-action=trigger]');
    await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: 30_000 });
    const passedRun = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    expect(passedRun).not.toBe(failedRun);
    await page.click('nav.tabs a:has-text("Tests")');
    // The tab refreshes itself as the run ends.
    const flaky = page.locator('[data-testid=flaky-tests] tr[data-test-name="checkout"]');
    await flaky.waitFor({ timeout: 90_000 });
    expect((await flaky.innerText()).replace(/\s+/g, ' ')).toMatch(/^cart › checkout unit [0-9a-f]{7} #1 #2$/);
    expect(await page.locator('[data-testid=test-failures]').innerText()).toContain('No failed test.');
    await screenshot(page, 'tests-flaky');
    // The failing run's Tests tab lists it too: flaky tests belong to the branch.
    await page.click('[data-testid=flaky-tests] a:has-text("#1")');
    await page.locator('[data-testid=test-failures] .test-failure[data-test-name="checkout"]').waitFor();
  });

  it('lays the run’s jobs out on a time axis: queued, setting up, steps, after the steps, tearing down', async () => {
    await page.goto(`${kiln.url}/#/runs/${failedRun}/timing`);
    const rows = page.locator('[data-testid=timing] .timing-row');
    await rows.nth(1).locator('.timing-bar[data-phase=tearing_down]').waitFor({ timeout: 30_000 });
    const phases = await rows.evaluateAll((els) => els.map((el) => [...el.querySelectorAll('.timing-bar')].map((b) => b.getAttribute('data-phase'))));
    expect(phases).toEqual([
      ['queued', 'setting_up', 'steps', 'after_steps', 'tearing_down'],
      ['queued', 'setting_up', 'steps', 'after_steps', 'tearing_down'],
    ]);
    // The unit job starts after build: its bar begins further right, and its step sits inside its steps phase.
    const box = async (sel: string) => (await page.locator(sel).boundingBox())!;
    const rowsIds = await rows.evaluateAll((els) => els.map((el) => el.getAttribute('data-job-id')));
    const buildSteps = await box(`.timing-row[data-job-id="${rowsIds[0]}"] .timing-bar[data-phase=steps]`);
    const unitSteps = await box(`.timing-row[data-job-id="${rowsIds[1]}"] .timing-bar[data-phase=steps]`);
    expect(unitSteps.x).toBeGreaterThan(buildSteps.x);
    const unitStep = await box(`.timing-row[data-job-id="${rowsIds[1]}"] .timing-step[data-step="Test"]`);
    expect(unitStep.x).toBeGreaterThanOrEqual(unitSteps.x - 1);
    expect(unitStep.x + unitStep.width).toBeLessThanOrEqual(unitSteps.x + unitSteps.width + 1);
    expect((await page.locator('[data-testid=timing-totals]').innerText()).replace(/\s+/g, ' ')).toMatch(/^queued \d+ ?m?s setting up \d+ ?m?s steps \d+ ?m?s after the steps \d+ ?m?s tearing down \d+ ?m?s$/);
    await screenshot(page, 'timing');
  });
});
