/// <reference lib="dom" />
/**
 * A new user adds, as the first engine on the Settings page in Debian's Chromium, one that does not
 * exist: the form's notice says it is not reachable and why, and that it replaced the default local
 * engine; the sidebar then names that engine as down instead of advising to start Docker (no
 * literal backticks anywhere), and the Engines page points at Settings for adding engines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { screenshot } from './helpers/browser.js';
import { openDashboard, type Dashboard } from './helpers/kiln-stack.js';

describe('adding an engine that does not exist on the Settings page in Chromium', () => {
  let dash: Dashboard;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-engine-unreachable-'));
    const config = defaultConfig();
    config.server.port = 0;
    dash = await openDashboard({ config, dataDir: join(dir, 'data'), engine: { configFile: join(dir, 'kiln.config.yml'), engineHealth: { pingIntervalMs: 500, pingTimeoutMs: 1500 } } });
  }, 180_000);
  afterAll(async () => {
    await dash?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('warns in the form, names the engine in the sidebar without Docker advice, and the Engines page points at Settings', async () => {
    const { page, server } = dash;
    await page.goto(`${server.url}/#/settings`);
    const form = '[data-testid="add-engine"]';
    await page.waitForSelector(form);
    await page.fill(`${form} input[name="engineName"]`, 'far');
    await page.fill(`${form} input[name="engineAddress"]`, 'tcp://no-such-host.invalid:2376');
    await page.click(`${form} [data-action="add-engine"]`);
    const notice = (await (await page.waitForSelector(`${form} [role="status"]`, { timeout: 20_000 })).textContent()) ?? '';
    expect(notice).toMatch(/^Added far, but far is not reachable: .*ENOTFOUND no-such-host\.invalid.* — jobs wait until it is\. It replaces the default engine /);

    const status = '[data-testid="engine-status"]';
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('Engine far unreachable'), status, { timeout: 20_000 });
    const advice = (await page.textContent('[data-testid="engine-advice"]')) ?? '';
    expect(advice).toMatch(/^far \(tcp:\/\/no-such-host\.invalid:2376\) does not answer: .*ENOTFOUND.*; jobs wait until it answers\. Check its address on the Engines page\.$/);
    expect(await page.$('[data-testid="docker-advice"]')).toBeNull();
    expect(await page.textContent(status)).not.toContain('`');
    await screenshot(page, 'engine-add-unreachable');

    await page.goto(`${server.url}/#/engines`);
    const subtitle = await page.waitForSelector('.subtitle:has-text("Docker engines jobs run on")');
    expect(await subtitle.textContent()).toBe('The Docker engines jobs run on. Add more under Settings (or engines: in kiln.config.yml).');
  });
});
