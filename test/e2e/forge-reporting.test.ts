/// <reference lib="dom" />
/**
 * Commit statuses set up from the Settings page in Chromium, against the real engine and server and
 * the GitHub stand-in: a wrong token shows "the forge rejected the token (401)" on the repository and
 * the run; the right token, saved from the page, makes the next push's statuses arrive, and the run
 * page says "statuses posted". The token never appears in the page.
 * Then a second repository is connected from the page in one step (channel, secret, webhook, ping).
 * Screenshots: test-output/screenshots/forge-settings.png, forge-run.png, forge-connect.png.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { Engine } from '../../src-main/engine/engine.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { git } from '../helpers/git.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startStandIn, type StandIn } from '../forge/github-stand-in.js';
import { startSmee, type SmeeStandIn } from '../forge/smee-stand-in.js';
import { screenshot } from './helpers/browser.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const REPO = 'acme/statuses';
const TOKEN = 'ghp_e2eRIGHTtoken55aa66bb77';
const WRONG = 'ghp_e2eWRONGtoken00000000';

describe('commit statuses set up from the settings page in Chromium', () => {
  let dir: string;
  let repoDir: string;
  let engine: Engine;
  let server: RunningServer;
  let standIn: StandIn;
  let smee: SmeeStandIn;
  let dashboard: Dashboard;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-forge-'));
    repoDir = committedRepo(join(dir, 'repo'), {
      '.kiln.yml': ['name: app', 'on:', '  push: { branches: [main] }', 'jobs:', '  build:', `    image: ${TEST_IMAGE}`, '    steps:', '      - run: echo built', ''].join('\n'),
    });
    standIn = await startStandIn({ token: TOKEN });
    smee = await startSmee(() => `${server.url}/webhooks/github`);
    const config = defaultConfig();
    config.server.port = 0;
    dashboard = await openDashboard({
      config, dataDir: join(dir, 'data'),
      engine: { forge: { client: { writePaceMs: 50 }, connect: { smeeBase: smee.url, pingTimeoutMs: 10_000, client: { writePaceMs: 50 } } } },
    });
    ({ engine, server, page } = dashboard);
  });

  afterAll(async () => {
    await dashboard?.close();
    await standIn?.close();
    await smee?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function push(message: string): Promise<{ sha: string; runId: string }> {
    writeFileSync(join(repoDir, 'stamp.txt'), message);
    git(repoDir, 'add', '.');
    git(repoDir, 'commit', '-q', '-m', message);
    const sha = git(repoDir, 'rev-parse', 'HEAD');
    const { runIds } = await engine.handleEvent({ kind: 'push', repo: REPO, branch: 'main', sha, ref: 'refs/heads/main', commitMessage: message });
    return { sha, runId: runIds[0] };
  }

  it('shows a rejected token, then posts the statuses of the next push with the right one', async () => {
    await page.goto(`${server.url}/#/settings`);
    await page.fill('input[name=repoName]', REPO);
    await page.fill('input[name=repoUrl]', repoDir);
    await page.click('[data-action=add-repository]');
    const card = page.locator(`[data-repo="${REPO}"]`);
    await card.waitFor();
    const forge = card.locator('[data-testid=forge-settings]');
    expect(await forge.getAttribute('data-forge-enabled')).toBe('no');

    await forge.locator('input[name=forgeApiUrl]').fill(standIn.url);
    await forge.locator('input[name=forgeToken]').fill(WRONG);
    await forge.locator('[data-action=save-forge]').click();
    await page.waitForSelector(`[data-repo="${REPO}"] [data-forge-enabled=yes]`);

    const first = await push('first');
    await page.goto(`${server.url}/#/runs/${first.runId}`);
    await page.waitForSelector('.page-run[data-status=passed]', { timeout: 90_000 });
    await page.waitForSelector('[data-testid=run-reporting-summary]:has-text("the forge rejected the token (401)")', { timeout: 20_000 });

    await page.goto(`${server.url}/#/settings`);
    await page.waitForSelector(`[data-repo="${REPO}"] [data-testid=forge-last-outcome]:has-text("rejected the token")`);
    const forge2 = page.locator(`[data-repo="${REPO}"] [data-testid=forge-settings]`);
    await forge2.locator('input[name=forgeToken]').fill(TOKEN);
    await forge2.locator('input[name=forgeJobStatuses]').check();
    await forge2.locator('[data-action=save-forge]').click();
    await forge2.locator('.form-notice:has-text("stored encrypted")').waitFor();
    expect(await page.content()).not.toContain(TOKEN);
    await screenshot(page, 'forge-settings');

    const second = await push('second');
    await page.goto(`${server.url}/#/runs/${second.runId}`);
    await page.waitForSelector('.page-run[data-status=passed]', { timeout: 90_000 });
    await page.waitForSelector('[data-testid=run-reporting] tr[data-context="kiln/app"][data-state=success][data-delivery=posted]', { timeout: 20_000 });
    await page.waitForSelector('[data-testid=run-reporting] tr[data-context="kiln/app/build"][data-state=success][data-delivery=posted]', { timeout: 20_000 });
    await page.waitForSelector('[data-testid=run-reporting-summary]:has-text("statuses posted")');
    await screenshot(page, 'forge-run');

    const arrived = standIn.statuses.filter((s) => s.sha === second.sha);
    // "Queued" then "Running", both pending, then success. The reporter decides once per event-loop
    // turn from a run's newest event, so a run claimed in the turn it was queued in (a matter of
    // timing on a busy machine) posts one pending instead of two.
    expect(arrived.filter((s) => s.context === 'kiln/app').map((s) => s.state).join(' ')).toMatch(/^pending (pending )?success$/);
    expect(arrived.some((s) => s.context === 'kiln/app/build' && s.state === 'success')).toBe(true);
    expect(standIn.statuses.some((s) => s.sha === first.sha)).toBe(false);
    expect(standIn.violations).toEqual([]);
  });

  it('connects a repository from the page in one step and its next push gets statuses', async () => {
    const name = 'acme/connected';
    await page.goto(`${server.url}/#/settings`);
    await page.fill('input[name=repoName]', name);
    await page.fill('input[name=repoUrl]', repoDir);
    await page.click('[data-action=add-repository]');
    const forge = page.locator(`[data-repo="${name}"] [data-testid=forge-settings]`);
    await forge.waitFor();
    await forge.locator('input[name=forgeApiUrl]').fill(standIn.url);
    await forge.locator('input[name=forgeToken]').fill(TOKEN);
    await forge.locator('[data-action=connect-repository]').click();
    await page.waitForSelector(`[data-repo="${name}"] [data-testid=connect-steps][data-ok=yes] li[data-step=ping][data-ok=yes]`, { timeout: 30_000 });
    const steps = await page.locator(`[data-repo="${name}"] [data-testid=connect-steps] li`).allTextContents();
    expect(steps.map((t) => t.split(':')[0])).toEqual(['✓ Repository', '✓ Tunnel channel', '✓ Webhook secret', '✓ Forge webhook', '✓ Ping']);
    expect(await page.content()).not.toContain(TOKEN);
    await page.waitForSelector(`[data-repo="${name}"] [data-forge-enabled=yes]`);
    await screenshot(page, 'forge-connect');
    const hook = [...standIn.hooks.values()].find((h) => h.repo === 'connected');
    expect(hook).toMatchObject({ url: `${smee.url}${smee.channels[0]}`, events: ['push', 'pull_request'], pings: 1 });

    writeFileSync(join(repoDir, 'stamp.txt'), 'connected');
    git(repoDir, 'add', '.');
    git(repoDir, 'commit', '-q', '-m', 'after connect');
    const sha = git(repoDir, 'rev-parse', 'HEAD');
    const { runIds } = await engine.handleEvent({ kind: 'push', repo: name, branch: 'main', sha, ref: 'refs/heads/main' });
    await page.goto(`${server.url}/#/runs/${runIds[0]}`);
    await page.waitForSelector('[data-testid=run-reporting] tr[data-context="kiln/app"][data-state=success][data-delivery=posted]', { timeout: 90_000 });
    // One or two pending (queued, running; see above), then success.
    expect(standIn.statuses.filter((s) => s.sha === sha && s.repo === 'connected').map((s) => s.state).join(' ')).toMatch(/^pending (pending )?success$/);
    expect(standIn.violations).toEqual([]);
  });
});
