/// <reference lib="dom" />
/**
 * The Engines page and the engine per job, in Debian's Chromium: a pool of the shared local engine,
 * a TLS engine of the test's own (labelled gpu) and one at a bad address. The page shows each
 * engine's state, version, labels and last error; a gpu job's row in the run view names its engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const PIPELINE = `name: gpu
on: { push: { branches: [main] }, manual: true }
jobs:
  train:
    image: ${TEST_IMAGE}
    runs-on: [gpu]
    steps: [{ name: Train, run: echo training }]
`;

describe('the Engines page in Chromium', () => {
  let box: ExtraEngine;
  let dash: Dashboard;
  let dir: string;

  beforeAll(async () => {
    box = await startExtraEngine('build-box');
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-engines-'));
    const repo = committedRepo(join(dir, 'repo'), { '.kiln.yml': PIPELINE });
    const config = defaultConfig();
    config.server.port = 0;
    config.repositories.push({ name: 'acme/ml', url: repo, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} });
    config.engines = [
      { name: 'workstation', address: 'unix:///var/run/docker.sock', limit: 2, labels: [] },
      { name: 'build-box', address: box.address, tls: box.tls, limit: 2, labels: ['gpu', 'arch=amd64'] },
      { name: 'offline', address: 'tcp://127.0.0.1:9', limit: 1, labels: [] },
    ];
    dash = await openDashboard({ config, dataDir: join(dir, 'data'), engine: { engineHealth: { pingIntervalMs: 500, pingTimeoutMs: 1500 } } });
  }, 180_000);
  afterAll(async () => {
    await dash?.close();
    await box?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows every engine with its state, version, labels and the last error of the one that is down', async () => {
    const { page, server } = dash;
    await page.goto(`${server.url}/#/engines`);
    await page.waitForSelector('tr[data-engine="offline"][data-state="down"]');
    await page.waitForSelector('tr[data-engine="build-box"][data-state="up"]');
    await page.waitForSelector('tr[data-engine="workstation"][data-state="up"]');
    const rows = await page.$$eval('[data-testid="engines-table"] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
    expect(rows.map((r) => r[0].split('from')[0])).toEqual(['workstation', 'build-box', 'offline']);
    const box2 = rows[1];
    expect(box2[2]).toBe(box.address);
    expect(box2[3]).toMatch(/^\d+\.\d+\.\d+.* \(API \d\.\d+, linux\/amd64\)$/);
    expect(box2[4]).toBe('gpuarch=amd64');
    expect(box2[5]).toBe('0 / 2');
    expect(rows[2][1]).toBe('downDocker engine not reachable: connect ECONNREFUSED 127.0.0.1:9');
    await screenshot(page, 'engines');
  });

  it('shows in the run view which engine ran a job', async () => {
    const { page, server, engine } = dash;
    const { runIds } = await engine.triggerRun({ repo: 'acme/ml', branch: 'main' });
    await page.goto(`${server.url}/#/runs/${runIds[0]}`);
    await page.waitForSelector('tr[data-status="passed"] td[data-engine="build-box"]', { timeout: 60_000 });
    await screenshot(page, 'run-engine-column');
  });
});
