/// <reference lib="dom" />
/**
 * Low disk space in the dashboard, in Debian's Chromium: the data directory is a real 12 MB tmpfs;
 * once it is nearly full, every page shows the banner and the Storage page frees space with a button,
 * after which the banner goes away by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const REPO = 'acme/site';

describe('the dashboard on a nearly full disk', () => {
  let dir: string;
  let disk: SmallDisk;
  let dashboard: Dashboard;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-disk-'));
    disk = mountSmallDisk(join(dir, 'data'), '12m');
    const repoDir = committedRepo(join(dir, 'repo'), {
      // About 3 MB of log: what the Storage page will delete.
      '.kiln.yml': `name: site\non: { manual: true }\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    steps:\n      - name: Build\n        run: yes 'a line of a long but successful build log' | head -n 40000\n`,
    });
    const config = defaultConfig();
    config.server.port = 0;
    config.disk = { minFreeBytes: 3 * 1024 * 1024, minFreePercent: 0, reserveBytes: 0, checkIntervalMs: 200 };
    config.repositories.push({ name: REPO, url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} });
    dashboard = await openDashboard({ config, dataDir: disk.dir });
    page = dashboard.page;
  });

  afterAll(async () => {
    await dashboard?.close();
    disk?.unmount();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the banner on every page, and the Storage page frees space until it goes away', async () => {
    const { engine, server } = dashboard;
    const { runIds } = await engine.triggerRun({ repo: REPO, branch: 'main' });
    for (let i = 0; (await engine.getRun(runIds[0])).status !== 'passed'; i++) {
      expect(i, 'the run to pass').toBeLessThan(600);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Something else takes the disk down to 1 MB free.
    disk.fill('someone-else', 1024 * 1024);

    await page.goto(`${server.url}/#/runs`);
    const banner = await page.waitForSelector('[data-testid=disk-banner]', { timeout: 15_000 });
    expect(await banner.textContent()).toMatch(/Low disk space — no new job starts\.\s*waiting: .* free, Kiln needs 3\.0 MB/);
    await screenshot(page, 'disk-banner');

    await page.click('[data-testid=disk-banner] a');
    await page.waitForSelector('[data-testid=free-space]');
    expect(await page.textContent('[data-testid=disk-state]')).toMatch(/Kiln needs 3\.0 MB\. Delete artifacts, caches or old logs below/);
    await page.fill('input[name=log-days]', '0');
    await page.click('button:has-text("Delete those logs")');
    const report = await page.waitForSelector('[data-testid=free-space-report]');
    expect(await report.textContent()).toMatch(/^Freed \d+(\.\d)? MB: 0 artifacts, 0 caches, 1 logs deleted\.$/);
    await page.waitForSelector('[data-testid=disk-banner]', { state: 'detached', timeout: 15_000 });
    expect(await page.textContent('[data-testid=disk-state]')).toMatch(/free; new jobs wait below 3\.0 MB\./);
    await screenshot(page, 'storage-freed');
  });
});
