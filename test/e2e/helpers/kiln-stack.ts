/**
 * A real Kiln for the browser tests: a local git repository with a .kiln.yml, the real Engine
 * (Docker executor, SQLite in a temp dir, cache/artifact hooks) and the real HTTP server serving
 * the built renderer (dist-renderer/, which the global setup builds if missing).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../../src-main/settings/config-file.js';
import { Engine } from '../../../src-main/engine/engine.js';
import { startServer, type RunningServer } from '../../../src-main/http/app.js';
import type { Page } from 'playwright-core';
import type { KilnConfig } from '../../../src-main/core/engine-contract.js';
import type { EngineOptions } from '../../../src-main/engine/engine.js';
import { ensureRendererBuilt, RENDERER_DIR } from '../../helpers/build.js';
import { git } from '../../helpers/git.js';
import { openBrowser, type Browser } from './browser.js';
export { git };

export { ensureRendererBuilt };
export const STATIC_DIR = RENDERER_DIR;


export interface KilnStack {
  dir: string;
  repoDir: string;
  engine: Engine;
  server: RunningServer;
  url: string;
  stop(): Promise<void>;
}

/** `branches`: branch name → { file path → content }, committed in order (the first is the default branch). */
export async function startKilnStack(repo: string, branches: Array<{ name: string; message: string; files: Record<string, string> }>): Promise<KilnStack> {
  ensureRendererBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-'));
  const repoDir = join(dir, 'repo');
  execFileSync('git', ['init', '-q', '-b', branches[0].name, repoDir]);
  for (const [i, b] of branches.entries()) {
    if (i > 0) git(repoDir, 'checkout', '-q', '-b', b.name, branches[0].name);
    for (const [path, content] of Object.entries(b.files)) {
      mkdirSync(join(repoDir, path, '..'), { recursive: true });
      writeFileSync(join(repoDir, path), content);
    }
    git(repoDir, 'add', '.');
    git(repoDir, 'commit', '-q', '-m', b.message);
  }
  git(repoDir, 'checkout', '-q', branches[0].name);

  const config = defaultConfig();
  config.server.port = 0;
  config.concurrency = { jobs: 3, perRepository: 3 };
  config.repositories.push({ name: repo, url: repoDir, defaultBranch: branches[0].name, webhookSecrets: ['e2e-secret'], secrets: { DEPLOY_TOKEN: 'not-shown' }, priority: {} });
  // The engine's own caches and artifacts, as `kiln serve` wires them.
  const engine = await Engine.start({ config, dataDir: join(dir, 'data'), onError: () => undefined });
  const server = await startServer({ engine, port: 0, artifacts: engine.artifacts, staticDir: STATIC_DIR });
  return {
    dir, repoDir, engine, server, url: server.url,
    async stop() {
      await server.close();
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Dashboard {
  engine: Engine;
  server: RunningServer;
  browser: Browser;
  page: Page;
  /** Closes the browser, the server and the engine, in that order. */
  close(): Promise<void>;
}

/**
 * The real Engine on `dataDir` with `config`, the real server serving the built dashboard, and a
 * fresh Chromium on it: what each browser suite starts in its beforeAll.
 */
export async function openDashboard(o: { config: KilnConfig; dataDir: string; engine?: Partial<EngineOptions> }): Promise<Dashboard> {
  ensureRendererBuilt();
  const engine = await Engine.start({ config: o.config, dataDir: o.dataDir, onError: () => undefined, ...o.engine });
  const server = await startServer({ engine, port: 0, staticDir: STATIC_DIR, artifacts: engine.artifacts });
  const browser = await openBrowser();
  return {
    engine, server, browser, page: browser.page,
    async close() {
      await browser.close();
      await server.close();
      await engine.stop();
    },
  };
}

/** A local git repository at `dir` whose one commit holds `files` (path → text), on `main`. */
export function committedRepo(dir: string, files: Record<string, string>, message = 'Add the pipeline'): string {
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', message);
  return dir;
}
