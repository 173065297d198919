/// <reference lib="dom" />
/**
 * The settings page in Chromium against the real Engine and server (`kiln serve`'s pieces, started
 * from built-in defaults with no repository): add a repository and a job secret from the page, see
 * an inline error for a bad URL, then trigger a run of the new repository and watch it pass, its
 * secret masked in the log; set a repository's polling, changed-files limit and debug-failures and
 * the server's debug keep and catch-up interval. Screenshots: test-output/screenshots/settings-edit.png,
 * settings-builds.png.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { Engine } from '../../src-main/engine/engine.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const REPO = 'acme/site';
const VALUE = 'e2e-secret-value-9d81';

describe('the settings page in Chromium', () => {
  let dir: string;
  let repoDir: string;
  let engine: Engine;
  let server: RunningServer;
  let dashboard: Dashboard;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-settings-'));
    repoDir = committedRepo(join(dir, 'repo'), {
      '.kiln.yml': [
        'name: site', 'on:', '  manual: true', 'jobs:', '  build:', `    image: ${TEST_IMAGE}`, '    secrets: [DEPLOY_TOKEN]', '    steps:',
        '      - name: Deploy', '        run: echo "deploying with $DEPLOY_TOKEN"', '',
      ].join('\n'),
    }, 'Add the site pipeline');
    const config = defaultConfig();
    config.server.port = 0;
    dashboard = await openDashboard({ config, dataDir: join(dir, 'data') });
    ({ engine, server, page } = dashboard);
  });

  afterAll(async () => {
    await dashboard?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adds a repository and a job secret from the page, then runs its pipeline', async () => {
    await page.goto(`${server.url}/#/settings`);
    await page.waitForSelector('[data-testid=add-repository]');

    // A bad URL: the engine's message, naming the field, shows inline and nothing is added.
    await page.fill('input[name=repoName]', 'acme/bad');
    await page.fill('input[name=repoUrl]', 'not-a-url');
    await page.click('[data-action=add-repository]');
    await page.waitForSelector('[data-testid=add-repository] .form-error:has-text("repositories[acme/bad].url:")');

    await page.fill('input[name=repoName]', REPO);
    await page.fill('input[name=repoUrl]', repoDir);
    await page.fill('input[name=repoBranch]', 'main');
    await page.fill('input[name=repoWebhookSecret]', 'hook-secret-1');
    await page.click('[data-action=add-repository]');
    const card = page.locator(`[data-repo="${REPO}"]`);
    await card.waitFor();
    expect(await card.textContent()).toContain('1 configured');

    await card.locator('input[name=secretName]').fill('deploy_token');
    await card.locator('input[name=secretValue]').fill(VALUE);
    await card.locator('[data-action=set-secret]').click();
    await card.locator('[data-secret=DEPLOY_TOKEN]').waitFor();
    expect(await card.locator('[data-secret=DEPLOY_TOKEN]').textContent()).toContain('set');
    expect(await page.content()).not.toContain(VALUE);

    // A rate limit and a branch priority: shown on the card, live in the engine, written to the file.
    await card.locator('input[name=rateLimit]').fill('lots');
    await card.locator('[data-action=set-rate-limit]').click();
    await card.locator('.form-error:has-text("rate-limit: \\"lots\\" is not a rate")').waitFor();
    await card.locator('input[name=rateLimit]').fill('30/min');
    await card.locator('[data-action=set-rate-limit]').click();
    await card.locator('text=30/min webhook triggers').waitFor();
    await card.locator('input[name=priorityGlob]').fill('release/*');
    await card.locator('select[name=priorityLevel]').selectOption('critical');
    await card.locator('[data-action=set-priority]').click();
    await card.locator('[data-priority="release/*"]').waitFor();
    expect(await card.locator('[data-priority="release/*"]').textContent()).toContain('critical');
    expect(engine.config.repositories.find((r) => r.name === REPO)).toMatchObject({ rateLimitPerMinute: 30, priority: { 'release/*': 'critical' } });
    expect(readFileSync(join(dir, 'data', 'kiln.config.yml'), 'utf8')).toContain('rate-limit: 30/min');
    await screenshot(page, 'settings-edit');
    expect(readFileSync(join(dir, 'data', 'kiln.config.yml'), 'utf8')).toContain(`name: ${REPO}`);

    await page.goto(`${server.url}/#/trigger`);
    await page.selectOption('select[name=repo]', REPO);
    await page.fill('input[name=branch]', 'main');
    await page.click('[data-action=trigger]');
    await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: 30_000 });
    await page.waitForSelector('.page-run[data-status=passed]', { timeout: 90_000 });
    const runId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const run = await engine.getRun(runId);
    const log = (await engine.getLog(run.jobs[0].id, 0)).lines.map((l) => l.text).join('\n');
    expect(log).toContain('deploying with ***');
    expect(log).not.toContain(VALUE);
  });

  it('sets a repository\'s poll interval, changed-files limit and debug-failures, and how long debug keeps a job and how often remotes are checked, with field-named errors inline', async () => {
    await engine.saveRepository({ name: 'acme/builds', url: repoDir });
    await page.goto(`${server.url}/#/settings`);
    const form = page.locator('[data-repo="acme/builds"] [data-testid=repository-builds]');
    await form.waitFor();
    expect(await form.locator('input[name=pollInterval]').inputValue()).toBe('');
    expect(await form.locator('input[name=debugFailures]').isChecked()).toBe(false);

    await form.locator('input[name=pollInterval]').fill('2s');
    await form.locator('[data-action=save-repository-builds]').click();
    await form.locator('.form-error:has-text("repositories[acme/builds].poll-interval: \\"2s\\" is too short")').waitFor();
    await form.locator('input[name=pollInterval]').fill('2m');
    await form.locator('input[name=maxChangedFiles]').fill('500');
    await form.locator('input[name=debugFailures]').check();
    await form.locator('[data-action=save-repository-builds]').click();
    await form.locator('.form-notice:has-text("Saved.")').waitFor();
    expect(engine.config.repositories.find((r) => r.name === 'acme/builds')).toMatchObject({ pollIntervalMs: 120_000, maxChangedFiles: 500, debugFailures: true });

    const limits = page.locator('[data-testid=limits]');
    await limits.locator('input[name=debugKeep]').fill('soon');
    await limits.locator('[data-action=save-limits]').click();
    await limits.locator('.form-error:has-text("debug.keep: \\"soon\\" is not a duration")').waitFor();
    await limits.locator('input[name=debugKeep]').fill('45m');
    await limits.locator('input[name=catchUpInterval]').fill('10m');
    await limits.locator('[data-action=save-limits]').click();
    await limits.locator('.form-notice').waitFor();
    expect(engine.config.debug).toEqual({ keepMs: 45 * 60_000 });
    expect(engine.config.catchUp?.intervalMs).toBe(10 * 60_000);
    const file = readFileSync(join(dir, 'data', 'kiln.config.yml'), 'utf8');
    expect(file).toMatch(/name: acme\/builds[\s\S]*poll-interval: 2m\n\s+max-changed-files: 500\n\s+debug-failures: true\n/);
    expect(file).toMatch(/keep: 45m/);

    // A fresh page shows what was saved; emptying a field restores its default and takes it out of the file.
    await page.reload();
    await form.waitFor();
    expect(await form.locator('input[name=pollInterval]').inputValue()).toBe('2m');
    expect(await form.locator('input[name=maxChangedFiles]').inputValue()).toBe('500');
    expect(await form.locator('input[name=debugFailures]').isChecked()).toBe(true);
    expect(await limits.locator('input[name=debugKeep]').inputValue()).toBe('45m');
    await form.scrollIntoViewIfNeeded();
    await screenshot(page, 'settings-builds');
    await form.locator('input[name=pollInterval]').fill('');
    await form.locator('[data-action=save-repository-builds]').click();
    await form.locator('.form-notice:has-text("Saved.")').waitFor();
    expect(engine.config.repositories.find((r) => r.name === 'acme/builds')?.pollIntervalMs).toBeUndefined();
    expect(readFileSync(join(dir, 'data', 'kiln.config.yml'), 'utf8')).not.toContain('poll-interval');
  });
});
