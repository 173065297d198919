/// <reference lib="dom" />
/**
 * Adding a Docker engine through the Settings page, in Debian's Chromium: a wrong CA is refused
 * inline naming the field; the real TLS engine of the test's own, with its CA and certificate
 * pasted and its key read from a chosen file, is saved and then shown up on the Engines page
 * without a restart; the page shows the material as set and never shows its text.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { screenshot } from './helpers/browser.js';
import { openDashboard, type Dashboard } from './helpers/kiln-stack.js';

describe('adding an engine on the Settings page in Chromium', () => {
  let box: ExtraEngine;
  let dash: Dashboard;
  let dir: string;

  beforeAll(async () => {
    box = await startExtraEngine('set-box');
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-engine-settings-'));
    const config = defaultConfig();
    config.server.port = 0;
    dash = await openDashboard({ config, dataDir: join(dir, 'data'), engine: { configFile: join(dir, 'kiln.config.yml'), engineHealth: { pingIntervalMs: 500, pingTimeoutMs: 1500 } } });
  }, 180_000);
  afterAll(async () => {
    await dash?.close();
    await box?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a CA that is not a certificate, then saves the engine and shows it up on the Engines page', async () => {
    const { page, server } = dash;
    await page.goto(`${server.url}/#/settings`);
    const form = '[data-testid="add-engine"]';
    await page.waitForSelector(form);
    await page.fill(`${form} input[name="engineName"]`, 'box');
    await page.fill(`${form} input[name="engineAddress"]`, box.address);
    await page.fill(`${form} input[name="engineLimit"]`, '3');
    await page.fill(`${form} input[name="engineLabels"]`, 'gpu, arch=amd64');
    // The TLS fields appear for a tcp:// address.
    await page.fill(`${form} textarea[name="engine-ca"]`, 'not a certificate');
    await page.click(`${form} [data-action="add-engine"]`);
    const error = await page.waitForSelector(`${form} [role="alert"]`);
    expect(await error.textContent()).toMatch(/^engines\[0\]\.tls\.ca: is not a PEM certificate/);

    await page.fill(`${form} textarea[name="engine-ca"]`, box.tls.ca);
    await page.fill(`${form} textarea[name="engine-cert"]`, box.tls.cert);
    const keyFile = join(dir, 'client-key.pem');
    writeFileSync(keyFile, box.tls.key);
    await page.setInputFiles(`${form} input[name="engine-key-file"]`, keyFile);
    await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLTextAreaElement | null)?.value.includes('PRIVATE KEY'), `${form} textarea[name="engine-key"]`);
    await page.click(`${form} [data-action="add-engine"]`);
    await page.waitForSelector(`${form} [role="status"]`);

    // The saved engine is listed with its material set, never its text.
    const editor = await page.waitForSelector('form.engine-editor[data-engine="box"]');
    const states = await editor.$$eval('[data-part] [data-state]', (els) => els.map((e) => e.textContent));
    expect(states).toEqual(['set, stored encrypted', 'set, stored encrypted', 'set, stored encrypted']);
    const fragment = box.tls.key.split('\n')[5];
    expect(await page.content()).not.toContain(fragment);
    expect(readFileSync(join(dir, 'kiln.config.yml'), 'utf8')).toContain('tls: { ca: vault, cert: vault, key: vault }');
    await screenshot(page, 'engine-settings');

    await page.goto(`${server.url}/#/engines`);
    await page.waitForSelector('tr[data-engine="box"][data-state="up"]', { timeout: 30_000 });
    const row = await page.$$eval('tr[data-engine="box"] td', (tds) => tds.map((td) => td.textContent?.trim() ?? ''));
    expect(row[2]).toBe(box.address);
    expect(row[4]).toBe('gpuarch=amd64');
    expect(row[5]).toBe('0 / 3');
  });
});
