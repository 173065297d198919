/**
 * Status badges against the real Engine and server: every state a badge shows is the state of a
 * real run (helpers/badge-world.ts makes them once; only the ETag test adds a run, on a branch no
 * other test looks at).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page, RunSummary } from '../../shared/model/run.js';
import { SCRIPT_BRANCH, startBadgeWorld, STATES, WEB, type BadgeWorld } from './helpers/badge-world.js';

describe('GET /badges/:owner/:repo.svg', () => {
  let w: BadgeWorld;

  beforeAll(async () => { w = await startBadgeWorld(); });
  afterAll(async () => { await w?.close(); });

  const badge = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${w.server.url}/badges/${path}`, { headers });
  const message = (svg: string): string | undefined => /aria-label="build: ([^"]+)"/.exec(svg)?.[1];
  /** The runs of a branch, newest first, as the API lists them. */
  const runsOf = async (repo: string, branch: string): Promise<RunSummary[]> =>
    (await w.getJson<Page<RunSummary>>(`/api/runs?repo=${repo}&branch=${encodeURIComponent(branch)}`)).items;

  it('shows the latest run of the default branch when no branch is given', async () => {
    expect((await runsOf(WEB, 'trunk')).map((r) => r.status)).toEqual(['passed', 'failed']);
    // The repository's newest run is another branch's failure: it must not count.
    expect((await w.getJson<Page<RunSummary>>(`/api/runs?repo=${WEB}&limit=200`)).items.find((r) => r.event !== 'pull_request' && r.branch !== SCRIPT_BRANCH && r.branch !== 'dev'))
      .toMatchObject({ branch: 'other', status: 'failed' });
    const res = await badge('acme/web.svg');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const svg = await res.text();
    expect(message(svg)).toBe('passing');
    expect(svg).toContain('fill="#4c1"');
    expect(message(await (await badge('acme/web.svg?branch=other')).text())).toBe('failing');
  });

  it.each([
    ['failed', 'failing', '#e05d44', 'failing'],
    ['running', 'running', '#dfb317', 'running'],
    ['queued', 'running', '#dfb317', 'queued'],
    ['cancelled', 'cancelled', '#9f9f9f', 'cancelled'],
  ] as const)('shows a %s run as %s', async (status, text, color, branch) => {
    expect(w.states[branch].status).toBe(status);
    expect((await runsOf(STATES, branch)).map((r) => r.status)).toEqual([status]);
    const svg = await (await badge(`acme/states.svg?branch=${branch}`)).text();
    expect(message(svg)).toBe(text);
    expect(svg).toContain(`fill="${color}"`);
  });

  it('shows a run whose step timed out as failing', async () => {
    // The engine records the job and so the run as timed_out; the badge reads that as failing.
    expect(w.states.timeout.jobs.map((j) => j.status)).toEqual(['timed_out']);
    expect(w.states.timeout.status).toBe('timed_out');
    const svg = await (await badge('acme/states.svg?branch=timeout')).text();
    expect(message(svg)).toBe('failing');
    expect(svg).toContain('fill="#e05d44"');
  });

  it('does not let a pull request run of the branch decide its badge', async () => {
    const runs = await runsOf(WEB, 'dev');
    expect(runs.map((r) => [r.event, r.status])).toEqual([['pull_request', 'failed'], ['manual', 'passed']]);
    expect(runs[0]).toMatchObject({ id: w.prRun.id, prNumber: 3 });
    expect(message(await (await badge('acme/web.svg?branch=dev')).text())).toBe('passing');
  });

  it('shows unknown for a branch without runs and for an unconfigured repository', async () => {
    expect(await runsOf(WEB, 'nothing')).toEqual([]);
    expect(message(await (await badge('acme/web.svg?branch=nothing')).text())).toBe('unknown');
    const res = await badge('someone/else.svg');
    expect(res.status).toBe(200);
    expect(message(await res.text())).toBe('unknown');
  });

  it('cannot be made to inject markup through the branch or label', async () => {
    expect((await runsOf(WEB, SCRIPT_BRANCH)).map((r) => r.status)).toEqual(['passed']);
    const branchOnly = await (await badge(`acme/web.svg?branch=${encodeURIComponent(SCRIPT_BRANCH)}`)).text();
    expect(message(branchOnly)).toBe('passing');
    const res = await badge(`acme/web.svg?branch=${encodeURIComponent(SCRIPT_BRANCH)}&label=${encodeURIComponent('<script>x</script>')}`);
    const svg = await res.text();
    expect(svg).not.toMatch(/<script/i);
    expect(svg).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(svg).toContain('aria-label="&lt;script&gt;x&lt;/script&gt;: passing"');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
  });

  it('answers a matching If-None-Match with 304 and a changed status with a new ETag', async () => {
    const path = 'acme/states.svg?branch=etag';
    const first = await badge(path);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(message(await first.text())).toBe('passing');
    const again = await badge(path, { 'if-none-match': etag ?? '' });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('no-cache');
    expect(await again.text()).toBe('');

    // A new run of the branch waits behind the job that holds the repository: the badge turns to running.
    const runId = await w.trigger(STATES, 'etag');
    expect((await w.engine.getRun(runId)).status).toBe('queued');
    const changed = await badge(path, { 'if-none-match': etag ?? '' });
    expect(changed.status).toBe(200);
    expect(message(await changed.text())).toBe('running');
    const runningTag = changed.headers.get('etag');
    expect(runningTag).not.toBe(etag);
    expect((await badge(path, { 'if-none-match': runningTag ?? '' })).status).toBe(304);

    await w.engine.cancelRun(runId);
    await w.waitForRun(runId);
    const cancelled = await badge(path, { 'if-none-match': runningTag ?? '' });
    expect(cancelled.status).toBe(200);
    expect(message(await cancelled.text())).toBe('cancelled');
    expect([etag, runningTag]).not.toContain(cancelled.headers.get('etag'));
  });

  it('answers a path that is not an .svg with 404', async () => {
    expect((await badge('acme/web.png')).status).toBe(404);
  });
});
