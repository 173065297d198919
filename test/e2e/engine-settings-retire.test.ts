/// <reference lib="dom" />
/**
 * Removing and renaming engines on the Settings page while their jobs run, in Debian's Chromium.
 * The pool is the local Docker engine under two names, `alpha` (label a) and `beta` (label b); a run
 * keeps two jobs busy on alpha and one on beta. Alpha is removed and beta renamed to `fast` in the
 * form: the Engines page shows alpha as "removing — 2 jobs finishing" with links to its two jobs
 * until they end, then drops it, while `fast` is the same engine, up, with beta's running job.
 */
import Dockerode from 'dockerode';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import { discoverLocalEngine } from '../../src-main/executor/engines/engine-address.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { releaseJobs, untilReleased } from '../helpers/release-jobs.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const job = (name: string, label: string): string => `  ${name}:
    image: ${TEST_IMAGE}
    runs-on: [${label}]
    steps: [{ name: work, run: '${untilReleased()}; echo done' }]
`;
const PIPELINE = `name: busy
on: { manual: true }
jobs:
${job('work1', 'a')}${job('work2', 'a')}${job('work3', 'b')}`;

describe('removing and renaming engines on the Settings page while they run jobs, in Chromium', () => {
  let dash: Dashboard;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-engine-retire-'));
    const repo = committedRepo(join(dir, 'repo'), { '.kiln.yml': PIPELINE });
    const config = defaultConfig();
    config.server.port = 0;
    config.concurrency = { jobs: 4, perRepository: 4 };
    config.repositories.push({ name: 'acme/web', url: repo, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} });
    const address = discoverLocalEngine().endpoint.address;
    config.engines = [{ name: 'alpha', address, limit: 2, labels: ['a'] }, { name: 'beta', address, limit: 2, labels: ['b'] }];
    dash = await openDashboard({ config, dataDir: join(dir, 'data'), engine: { configFile: join(dir, 'kiln.config.yml'), engineHealth: { pingIntervalMs: 500, pingTimeoutMs: 3000 } } });
  }, 180_000);
  afterAll(async () => {
    await dash?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a removed engine as "removing — 2 jobs finishing" with its jobs until they end, and renames an engine in place in the form', async () => {
    const { page, server, engine } = dash;
    const getRun = async (id: string): Promise<RunDetail> => (await (await fetch(`${server.url}/api/runs/${id}`)).json()) as RunDetail;
    const { runIds } = await engine.triggerRun({ repo: 'acme/web', branch: 'main' });
    const runId = runIds[0];
    for (let i = 0; i < 600; i++) {
      const run = await getRun(runId);
      if (run.jobs.length === 3 && run.jobs.every((j) => j.status === 'running')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const running = await getRun(runId);
    expect(running.jobs.map((j) => [j.name, j.status, j.engine])).toEqual([['work1', 'running', 'alpha'], ['work2', 'running', 'alpha'], ['work3', 'running', 'beta']]);

    await page.goto(`${server.url}/#/settings`);
    const alphaForm = 'form.engine-editor[data-engine="alpha"]';
    await page.waitForSelector(alphaForm);
    await page.click(`${alphaForm} button:has-text("Remove…")`);
    await page.click(`${alphaForm} [data-action="confirm-remove-engine"]`);
    await page.waitForSelector(alphaForm, { state: 'detached' });

    // The name is edited in place, in beta's own form.
    const betaForm = 'form.engine-editor[data-engine="beta"]';
    await page.fill(`${betaForm} input[name="engineName"]`, 'fast');
    await page.click(`${betaForm} button[type="submit"]`);
    await page.waitForSelector('form.engine-editor[data-engine="fast"]');
    expect(await page.$(betaForm)).toBeNull();
    expect(readFileSync(join(dir, 'kiln.config.yml'), 'utf8')).toMatch(/engines:\n {2}- name: fast\n/);

    await page.goto(`${server.url}/#/engines`);
    const removing = await page.waitForSelector('tr[data-engine="alpha"][data-retiring="removed"]');
    expect(await removing.$eval('[data-testid="retiring"]', (e) => e.textContent)).toBe('removing — 2 jobs finishing');
    const links = await removing.$$eval('[data-testid="engine-jobs"] a', (as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
    const onAlpha = running.jobs.filter((j) => j.engine === 'alpha');
    expect(links.sort()).toEqual(onAlpha.map((j) => [j.name, `#/runs/${runId}/jobs/${j.id}`]).sort());
    // The renamed engine is the same connection: up at once, with beta's job, and nothing of beta retiring.
    const fast = await page.waitForSelector('tr[data-engine="fast"][data-state="up"]');
    expect(await fast.$eval('td.num', (td) => td.textContent)).toBe('1 / 2work3');
    expect(await page.$('tr[data-engine="beta"]')).toBeNull();
    // The sidebar counts the configured engines only: one, so it names it rather than "2 of 2 engines up".
    // It reads the engines' health again every few seconds, run events or not.
    await expect.poll(() => page.textContent('[data-testid="docker-engine"]'), { timeout: 15_000 }).toMatch(/^fast \(unix:\/\//);
    await screenshot(page, 'engines-removing');

    // Gone once its last job ends: the jobs run until the checks above are done, then are released.
    expect(await releaseJobs(new Dockerode(), engine.instanceId)).toBe(3);
    await page.waitForSelector('tr[data-engine="alpha"]', { state: 'detached', timeout: 60_000 });
    const done = await getRun(runId);
    expect(done.status).toBe('passed');
    expect(done.jobs.map((j) => [j.name, j.engine, j.attempt])).toEqual([['work1', 'alpha', 1], ['work2', 'alpha', 1], ['work3', 'fast', 1]]);
  });
});
