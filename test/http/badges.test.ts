import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src-main/http/app.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { StubEngine, testConfig } from './helpers/stub-engine.js';

describe('GET /badges/:owner/:repo.svg', () => {
  let engine: StubEngine;
  let server: RunningServer;

  beforeEach(async () => {
    engine = new StubEngine(testConfig([{ name: 'acme/web', defaultBranch: 'trunk' }]));
    server = await startServer({ engine, port: 0 });
  });

  afterEach(async () => {
    await server.close();
    await engine.stop();
  });

  const badge = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${server.url}/badges/${path}`, { headers });
  const message = (svg: string): string | undefined => /aria-label="build: ([^"]+)"/.exec(svg)?.[1];

  it('shows the latest run of the default branch when no branch is given', async () => {
    engine.addRun({ repo: 'acme/web', branch: 'trunk' }, 'failed');
    engine.addRun({ repo: 'acme/web', branch: 'trunk' }, 'passed');
    engine.addRun({ repo: 'acme/web', branch: 'other' }, 'failed');
    const res = await badge('acme/web.svg');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const svg = await res.text();
    expect(message(svg)).toBe('passing');
    expect(svg).toContain('fill="#4c1"');
  });

  it.each([
    ['failed', 'failing', '#e05d44'],
    ['timed_out', 'failing', '#e05d44'],
    ['running', 'running', '#dfb317'],
    ['queued', 'running', '#dfb317'],
  ] as const)('shows a %s run as %s', async (status, text, color) => {
    engine.addRun({ repo: 'acme/web', branch: 'dev' }, status);
    const svg = await (await badge('acme/web.svg?branch=dev')).text();
    expect(message(svg)).toBe(text);
    expect(svg).toContain(`fill="${color}"`);
  });

  it('does not let a pull request run of the branch decide its badge', async () => {
    engine.addRun({ repo: 'acme/web', branch: 'dev' }, 'passed');
    engine.addRun({ repo: 'acme/web', branch: 'dev', event: 'pull_request', prNumber: 3 }, 'failed');
    expect(message(await (await badge('acme/web.svg?branch=dev')).text())).toBe('passing');
  });

  it('shows unknown for a branch without runs and for an unconfigured repository', async () => {
    expect(message(await (await badge('acme/web.svg?branch=nothing')).text())).toBe('unknown');
    const res = await badge('someone/else.svg');
    expect(res.status).toBe(200);
    expect(message(await res.text())).toBe('unknown');
  });

  it('cannot be made to inject markup through the branch or label', async () => {
    engine.addRun({ repo: 'acme/web', branch: '<script>alert(1)</script>' }, 'passed');
    const res = await badge(`acme/web.svg?branch=${encodeURIComponent('<script>alert(1)</script>')}&label=${encodeURIComponent('<script>x</script>')}`);
    const svg = await res.text();
    expect(svg).not.toMatch(/<script/i);
    expect(svg).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(svg).toContain('aria-label="&lt;script&gt;x&lt;/script&gt;: passing"');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
  });

  it('answers a matching If-None-Match with 304 and a changed status with a new ETag', async () => {
    engine.addRun({ repo: 'acme/web', branch: 'trunk' }, 'running');
    const first = await badge('acme/web.svg');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await badge('acme/web.svg', { 'if-none-match': etag ?? '' });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('no-cache');
    expect(await again.text()).toBe('');
    engine.runs[0].status = 'passed';
    const changed = await badge('acme/web.svg', { 'if-none-match': etag ?? '' });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('answers a path that is not an .svg with 404', async () => {
    expect((await badge('acme/web.png')).status).toBe(404);
  });
});
