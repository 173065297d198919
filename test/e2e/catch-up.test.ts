/// <reference lib="dom" />
/**
 * Catch-up in Chromium against the real Engine and server: a poll-only repository served by
 * `git daemon` gets a push; the run list marks its run "caught up", and Settings shows when the
 * remote refs were last listed and how many pushes were caught up; a repository added with the
 * "poll" option gets no webhook secret and is polled. Screenshot: test-output/screenshots/catch-up.png.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { Engine } from '../../src-main/engine/engine.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { createRemoteRepo, startGitDaemon, type GitDaemon, type RemoteRepo } from '../helpers/git-servers.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { screenshot } from './helpers/browser.js';
import { openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const PIPELINE = (n: string) => `name: polled-${n}\non: { push: {} }\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    if: "false"\n    steps:\n      - run: echo never\n`;

describe('catch-up in the dashboard', () => {
  let dir: string;
  let daemon: GitDaemon;
  let remote: RemoteRepo;
  let engine: Engine;
  let server: RunningServer;
  let dashboard: Dashboard;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-catchup-'));
    remote = createRemoteRepo(join(dir, 'srv'), 'lib');
    remote.push(PIPELINE('0'));
    execFileSync('git', ['init', '-q', '--bare', join(dir, 'srv', 'other.git')]);
    daemon = await startGitDaemon(join(dir, 'srv'));
    const config = {
      ...defaultConfig(), server: { host: '127.0.0.1', port: 0 }, catchUp: { intervalMs: 3_600_000, clockCheckMs: 100 },
      repositories: [{ name: 'acme/lib', url: daemon.url('lib'), defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, pollIntervalMs: 300 }],
    };
    dashboard = await openDashboard({ config, dataDir: join(dir, 'data') });
    ({ engine, server, page } = dashboard);
  });

  afterAll(async () => {
    await dashboard?.close();
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('marks a polled push as caught up in the run list and reports the repository in Settings', async () => {
    await engine.catchUpSettled();
    const sha = remote.push(PIPELINE('1'));
    await page.goto(`${server.url}/#/`);
    const row = page.locator('tr[data-run-id]', { hasText: sha.slice(0, 7) });
    await row.waitFor({ timeout: 15_000 });
    expect(await row.locator('[data-caught-up]').textContent()).toBe('caught up');

    await page.goto(`${server.url}/#/settings`);
    const check = page.locator('[data-ref-check="acme/lib"]');
    await check.waitFor();
    expect(await check.getAttribute('data-result')).toBe('ok');
    expect(await check.textContent()).toMatch(/polling.*ok .*1$/);
    await check.scrollIntoViewIfNeeded();
    await screenshot(page, 'catch-up');
  });

  it('adds a repository with the poll option: no webhook secret, and it is polled', async () => {
    await page.goto(`${server.url}/#/settings`);
    await page.fill('input[name=repoName]', 'acme/other');
    await page.fill('input[name=repoUrl]', daemon.url('other'));
    await page.selectOption('select[name=repoMode]', 'poll');
    expect(await page.locator('input[name=repoWebhookSecret]').count()).toBe(0);
    await page.click('[data-action=add-repository]');
    await page.locator('[data-repo="acme/other"]').waitFor();
    expect((await engine.listRepositories()).find((r) => r.name === 'acme/other')?.webhookSecretCount).toBe(0);
    engine.requestCatchUp('acme/other');
    await engine.catchUpSettled('acme/other');
    await page.reload();
    const check = page.locator('[data-ref-check="acme/other"]');
    await check.waitFor();
    expect(await check.textContent()).toContain('polling');
    expect(await check.getAttribute('data-result')).toBe('ok');
  });
});
