/// <reference lib="dom" />
/**
 * Web pages against the local server, in Debian's Chromium: what a page the user merely visits can
 * do to Kiln on 127.0.0.1. Two attackers:
 *   - another origin: a real HTTP server on another port of 127.0.0.1 serves the attacker's page,
 *     which calls the API with fetch (with and without credentials, cors and no-cors), a form post
 *     and an EventSource;
 *   - DNS rebinding: Chromium resolves evil.example to 127.0.0.1 (--host-resolver-rules), the page
 *     at http://evil.example:<kiln port>/ is the attacker's (served by a route), and its calls are
 *     same-origin for the browser — only the server's Host check stands in the way.
 * Neither can read settings, add a repository or start a run; the real engine's state proves it.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { CHROMIUM_ARGS } from './helpers/browser.js';
import { startKilnStack, type KilnStack } from './helpers/kiln-stack.js';

const REPO = 'acme/web';
const PIPELINE = `name: web\non:\n  manual: true\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    steps:\n      - name: Build\n        run: echo built\n`;
const ATTACK_PAGE = '<!doctype html><html><head><title>cute cats</title></head><body><h1>cats</h1><iframe name="sink"></iframe></body></html>';

interface Attempt { name: string; outcome: string }

/** Runs in the attacker's page: every attempt, each reported as what the page got to see. */
async function attack(args: { kiln: string; runId: string }): Promise<Attempt[]> {
  const { kiln, runId } = args;
  const results: Attempt[] = [];
  const attempt = async (name: string, url: string, init: RequestInit): Promise<void> => {
    try {
      const res = await fetch(url, init);
      results.push({ name, outcome: res.type === 'opaque' ? 'opaque' : `read ${res.status} ${(await res.text()).slice(0, 200)}` });
    } catch (err) {
      results.push({ name, outcome: `blocked (${(err as Error).name})` });
    }
  };
  const json = { 'content-type': 'application/json' };
  for (const credentials of ['omit', 'include'] as const) {
    await attempt(`read settings (${credentials})`, `${kiln}/api/settings`, { credentials });
    await attempt(`read settings no-cors (${credentials})`, `${kiln}/api/settings`, { credentials, mode: 'no-cors' });
    await attempt(`add a repository (${credentials})`, `${kiln}/api/repositories/evil/x`, { method: 'PUT', credentials, headers: json, body: '{"url":"https://evil.example/x.git"}' });
    await attempt(`start a run (${credentials})`, `${kiln}/api/runs`, { method: 'POST', credentials, headers: json, body: '{"repo":"acme/web"}' });
    await attempt(`start a run no-cors text/plain (${credentials})`, `${kiln}/api/runs`, { method: 'POST', credentials, mode: 'no-cors', body: '{"repo":"acme/web"}' });
    await attempt(`re-run no-cors without a body (${credentials})`, `${kiln}/api/runs/${runId}/rerun`, { method: 'POST', credentials, mode: 'no-cors' });
  }
  // A classic form post into a hidden frame.
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = `${kiln}/api/runs/${runId}/rerun`;
  form.target = 'sink';
  form.enctype = 'text/plain';
  const field = document.createElement('input');
  field.name = '{"failedOnly":false,"x":"';
  field.value = '"}';
  form.append(field);
  document.body.append(form);
  const loaded = new Promise((resolve) => document.querySelector('iframe')!.addEventListener('load', resolve, { once: true }));
  form.submit();
  await Promise.race([loaded, new Promise((r) => setTimeout(r, 3000))]);
  results.push({ name: 'form post', outcome: 'sent' });
  // Live events: an EventSource from another origin.
  results.push({
    name: 'event stream',
    outcome: await new Promise<string>((resolve) => {
      const es = new EventSource(`${kiln}/api/events`, { withCredentials: true });
      es.onopen = () => { es.close(); resolve('open'); };
      es.onerror = () => { es.close(); resolve('error'); };
      setTimeout(() => { es.close(); resolve('timeout'); }, 5000);
    }),
  });
  return results;
}

describe('web pages against the local server, in Chromium', () => {
  let kiln: KilnStack;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let attacker: Server;
  let attackerUrl: string;
  let runId: string;
  /** Every request Chromium sent to Kiln's port, with the headers it really sent. */
  const requests: Promise<{ url: string; origin?: string; site?: string; status: number }>[] = [];
  const sent = (): Promise<Awaited<(typeof requests)[number]>[]> => Promise.all(requests);

  beforeAll(async () => {
    kiln = await startKilnStack(REPO, [{ name: 'main', message: 'Add the pipeline', files: { '.kiln.yml': PIPELINE } }]);
    runId = (await kiln.engine.triggerRun({ repo: REPO })).runIds[0];
    for (const deadline = Date.now() + 60_000; (await kiln.engine.getRun(runId)).status !== 'passed';) {
      if (Date.now() > deadline) throw new Error(`run ${runId} did not pass: ${(await kiln.engine.getRun(runId)).status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(ATTACK_PAGE));
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as { port: number }).port}`;
    profile = mkdtempSync(join(tmpdir(), 'kiln-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true,
      // Chromium's own Local Network Access check would stop the rebinding page before Kiln sees it; other
      // browsers (and pages served from a private address) have no such check, so Kiln must not rely on it.
      args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP evil.example 127.0.0.1', '--disable-features=LocalNetworkAccessChecks'],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('response', (res) => {
      const req = res.request();
      if (new URL(req.url()).port !== String(kiln.server.port)) return;
      const seen = req.allHeaders().then((h) => ({ url: req.url(), origin: h.origin, site: h['sec-fetch-site'], status: res.status() }));
      seen.catch(() => undefined); // a response still arriving as the browser closes: no test reads it
      requests.push(seen);
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (attacker) await new Promise((resolve) => attacker.close(resolve));
    await kiln?.stop();
  });

  async function unchanged(): Promise<void> {
    expect((await kiln.engine.listRepositories()).map((r) => r.name)).toEqual([REPO]);
    expect((await kiln.engine.listRuns({})).items.map((r) => r.id)).toEqual([runId]);
  }

  it('lets a page on another origin neither read settings, nor add a repository, nor start a run', async () => {
    // The dashboard was open in the same browser: whatever cookies or cache it left are there too.
    await page.goto(`${kiln.url}/#/settings`);
    await page.waitForSelector('text=acme/web');
    await page.goto(`${attackerUrl}/cats.html`);
    const results = await page.evaluate(attack, { kiln: kiln.url, runId });
    expect(results.filter((r) => r.outcome.startsWith('read'))).toEqual([]);
    expect(results.find((r) => r.name === 'event stream')?.outcome).toBe('error');
    // The simple (no-cors, form) requests reached the server, which refused each one: opaque to the page.
    const reached = (await sent()).filter((r) => r.site !== 'same-origin' && r.url.includes('/api/'));
    expect(reached.filter((r) => r.url.endsWith('/rerun'))).toHaveLength(3);
    expect(reached.length).toBeGreaterThanOrEqual(7);
    expect(reached.filter((r) => r.status !== 403)).toEqual([]);
    await unchanged();
  });

  it('lets a DNS-rebinding page, same-origin for the browser, neither read settings, nor add a repository, nor start a run', async () => {
    const rebound = `http://evil.example:${kiln.server.port}`;
    // The attacker's own server answered the first lookup; now the name points at 127.0.0.1.
    await page.route(`${rebound}/cats.html`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: ATTACK_PAGE }));
    await page.goto(`${rebound}/cats.html`);
    const results = await page.evaluate(attack, { kiln: rebound, runId });
    const reads = results.filter((r) => r.outcome.startsWith('read'));
    // Same-origin, so the page reads the answers: each is the refusal, never the data.
    expect(reads.length).toBeGreaterThanOrEqual(6);
    for (const r of reads) expect(r.outcome, r.name).toMatch(/^read 421 \{"ok":false,"error":\{"name":"ApiError","code":"UNAUTHORIZED","message":"Host 'evil\.example:\d+' is not a name of this server/);
    expect(results.find((r) => r.name === 'event stream')?.outcome).toBe('error');
    await unchanged();
    const settings = await page.evaluate(async () => (await fetch('/api/settings')).status);
    expect(settings).toBe(421);
  });

  it('keeps the dashboard itself working in the same browser: it starts a run from its trigger page', async () => {
    await page.goto(`${kiln.url}/#/settings`);
    await page.waitForSelector('text=acme/web');
    const before = (await kiln.engine.listRuns({})).items.length;
    await page.goto(`${kiln.url}/#/trigger`);
    await page.selectOption('select[name=repo]', REPO);
    await page.click('[data-action=trigger]');
    await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: 30_000 });
    expect((await kiln.engine.listRuns({})).items.length).toBe(before + 1);
    const own = (await sent()).filter((r) => r.origin === kiln.url && r.url.startsWith(kiln.url));
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((r) => r.status >= 400)).toEqual([]);
  });
});
