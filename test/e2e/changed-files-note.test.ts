/// <reference lib="dom" />
/**
 * The run view in Chromium, against the real Engine, server and a real git repository: a push that
 * changed more files than `max-changed-files` runs as if everything changed, and the run's page says
 * so under the trigger; a push within the limit shows no such line.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { Engine } from '../../src-main/engine/engine.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { git, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

// One job that never starts a container (`if: "false"`): the run ends at once, whatever ran it.
const PIPELINE = `name: filtered\non: { push: { branches: [main], paths: ['src/**'] } }\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    if: "false"\n    steps: [{ run: echo never }]\n`;

describe('the run view, when a push changed more files than max-changed-files', () => {
  let dir: string;
  let repoDir: string;
  let engine: Engine;
  let server: RunningServer;
  let dashboard: Dashboard;
  let page: Page;

  const commit = (files: Record<string, string>, message: string): string => {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(repoDir, path)), { recursive: true });
      writeFileSync(join(repoDir, path), text);
    }
    git(repoDir, 'add', '-A');
    git(repoDir, 'commit', '-q', '-m', message);
    return git(repoDir, 'rev-parse', 'HEAD');
  };
  const push = async (before: string, sha: string): Promise<string> => {
    const { runIds, reason } = await engine.handleEvent({ kind: 'push', repo: 'acme/web', branch: 'main', ref: 'refs/heads/main', before, sha });
    expect(runIds, reason).toHaveLength(1);
    return runIds[0];
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-changes-'));
    repoDir = join(dir, 'web');
    mkdirSync(repoDir);
    git(repoDir, 'init', '-q', '-b', 'main');
    const config = {
      ...defaultConfig(), server: { host: '127.0.0.1', port: 0 },
      repositories: [{ name: 'acme/web', url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, maxChangedFiles: 3 }],
    };
    dashboard = await openDashboard({ config, dataDir: join(dir, 'data') });
    ({ engine, server, page } = dashboard);
  });

  afterAll(async () => {
    await dashboard?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says under the trigger that path filters treated everything as changed, and nothing for a push within the limit', async () => {
    const first = commit({ '.kiln.yml': PIPELINE, 'src/main.c': 'int main;\n' }, 'pipeline');
    const many = commit(Object.fromEntries([1, 2, 3, 4].map((i) => [`docs/page${i}.md`, `page ${i}\n`])), 'four docs pages');
    const over = await push(first, many);
    await page.goto(`${server.url}/#/runs/${over}`);
    const note = page.locator('[data-testid=changes-note]');
    await note.waitFor({ timeout: 15_000 });
    expect(await note.textContent()).toBe('changed files: more than 3 (4 files) — path filters treated everything as changed');
    expect(await note.getAttribute('title')).toBe('4 files changed, more than the limit of 3');

    const within = await push(many, commit({ 'src/main.c': 'int main(void);\n' }, 'one source file'));
    await page.goto(`${server.url}/#/runs/${within}`);
    await page.locator('.run-facts').waitFor({ timeout: 15_000 });
    await page.locator('.run-facts', { hasText: 'filtered' }).waitFor();
    expect(await page.locator('[data-testid=changes-note]').count()).toBe(0);
  });
});
