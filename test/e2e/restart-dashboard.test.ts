/// <reference lib="dom" />
/**
 * What a person sees in the dashboard (Debian's Chromium) around a restart of the built `kiln serve`
 * on the same port, with a failed job kept for debugging (real Docker):
 * - `kiln serve` says on stop that the kept job's container stays up and is adopted;
 * - while the server is down the sidebar says the Kiln server (not Docker) is unreachable, and the
 *   debug panel disables its actions;
 * - once the server is back the open run page catches up without a reload (the kept job was recorded
 *   failed at the restart, an event nobody heard);
 * - End debugging is a notice, not an error, and the job's log says the dashboard ended it;
 * - Settings shows the repository's badge and its Markdown; pills do not capitalise every word.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogChunk } from '../../shared/api/engine-api.js';
import type { RunDetail } from '../../shared/model/run.js';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ListeningServe } from '../helpers/serve-child.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openBrowser, screenshot, type Browser } from './helpers/browser.js';
import { committedRepo, ensureRendererBuilt } from './helpers/kiln-stack.js';

const PIPELINE = `name: fails
on: { push: { branches: [main] }, manual: true }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: Fails
        run: echo boom; exit 3
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the dashboard around a restart of kiln serve', () => {
  let root: string;
  let browser: Browser;
  const running: ListeningServe[] = [];

  beforeAll(async () => {
    ensureBuilt();
    ensureRendererBuilt();
    root = mkdtempSync(join(tmpdir(), 'kiln-restart-e2e-'));
    browser = await openBrowser();
  });
  afterAll(async () => {
    for (const s of running) s.kill();
    await browser?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('says the server is unreachable, catches up when it is back, ends debugging as a notice, and offers the badge', async () => {
    const repo = committedRepo(join(root, 'repo'), { '.kiln.yml': PIPELINE });
    const config = join(root, 'kiln.config.yml');
    writeFileSync(config, `repositories:\n  - { name: acme/web, url: ${JSON.stringify(repo)} }\n`);
    const port = await freePort();
    const serve = async (): Promise<ListeningServe> => {
      const s = await startServe({ args: ['--config', config, '--data', join(root, 'data'), '--port', String(port)], timeoutMs: 60_000 });
      running.push(s);
      return s;
    };
    const first = await serve();
    const res = await fetch(`${first.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: 'acme/web', branch: 'main', debug: true }) });
    expect(res.status).toBe(201);
    const runId = ((await res.json()) as { runIds: string[] }).runIds[0];
    const jobId = (await (await fetch(`${first.url}/api/runs/${runId}`)).json() as RunDetail).jobs[0].id;
    await poll('the failed job to be kept', async () => {
      const kept = (await (await fetch(`${first.url}/api/debug/jobs`)).json()) as Array<{ jobId: string }>;
      return kept.some((k) => k.jobId === jobId) ? true : undefined;
    }, 90_000);

    const { page } = browser;
    await page.goto(`${first.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(jobId)}`);
    await page.waitForSelector('.page-run[data-status="running"]');
    await page.waitForSelector('[data-testid="debug-panel"] [data-action="extend-debug"]:not([disabled])');

    expect(await first.stop(60_000)).toBe(0);
    expect(first.out()).toMatch(/kiln serve: 1 job kept for debugging: its container stays up; Kiln adopts it when it starts \(until \d\d:\d\d UTC([+-]\d\d:\d\d)? at the latest\)\n/);
    expect(first.out()).not.toContain('handed back');

    // Down: the sidebar blames the Kiln server, not Docker; the debug actions wait.
    await page.waitForFunction(() => document.body.innerText.includes('Kiln server unreachable'), undefined, { timeout: 20_000 });
    expect(await page.evaluate(() => document.body.innerText.includes('Engine unreachable'))).toBe(false);
    await page.waitForSelector('[data-testid="debug-offline"]', { timeout: 20_000 });
    expect(await page.isDisabled('[data-testid="debug-panel"] [data-action="extend-debug"]')).toBe(true);
    await screenshot(page, 'restart-server-down');

    // Back: the run was recorded failed at the restart; the page catches up without a reload.
    const second = await serve();
    await page.waitForSelector('.page-run[data-status="failed"]', { timeout: 30_000 });
    await page.waitForSelector('[data-testid="debug-panel"] [data-action="end-debug"]:not([disabled])', { timeout: 20_000 });
    await page.click('[data-testid="debug-panel"] [data-action="end-debug"]');
    await page.waitForSelector('[data-testid="run-notice"]', { timeout: 10_000 }).catch(async (err: unknown) => {
      await screenshot(page, 'restart-end-debugging');
      throw new Error(`${String(err)}; the page says: ${await page.evaluate(() => document.body.innerText)}`);
    });
    expect(await page.textContent('[data-testid="run-notice"]')).toBe('Debugging ended: the kept container was removed.');
    await page.waitForTimeout(500);
    expect(await page.$('.error-banner')).toBeNull();
    const log = await poll('the end to be logged', async () => {
      const lines = ((await (await fetch(`${second.url}/api/jobs/${jobId}/log?offset=0&limit=500`)).json()) as LogChunk).lines.map((l) => l.text);
      return lines.some((l) => l.startsWith('[kiln] debugging ended')) ? lines : undefined;
    }, 20_000);
    expect(log).toContain('[kiln] debugging ended from the dashboard: the kept container was removed');
    expect(log.some((l) => /\d{4}-\d\d-\d\dT\d\d:\d\d/.test(l))).toBe(false);

    // Settings: the badge and its Markdown at this server's address; pills are not title-cased.
    await page.goto(`${second.url}/#/settings`);
    const snippet = await page.waitForSelector('[data-testid="badge-snippet"][data-badge-of="acme/web"]');
    expect(await page.textContent('[data-testid="badge-markdown"]')).toBe(`[![build](${second.url}/badges/acme/web.svg)](${second.url}/)`);
    await page.waitForFunction(() => (document.querySelector('[data-testid="badge-snippet"] img') as HTMLImageElement | null)?.naturalWidth ?? 0 > 0);
    expect(await snippet.$('[data-action="copy-badge"]')).not.toBeNull();
    const transforms = await page.$$eval('.pill', (pills) => pills.map((p) => getComputedStyle(p).textTransform));
    expect(transforms.length).toBeGreaterThan(0);
    expect(new Set(transforms)).toEqual(new Set(['none']));
    await screenshot(page, 'restart-settings-badge');
    expect(await second.stop(60_000)).toBe(0);
  }, 300_000);
});
