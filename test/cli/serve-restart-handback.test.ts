/**
 * `kiln serve` (the built CLI, a real child process, real Docker) stopped with SIGTERM while a job
 * runs, then started again: the job goes back to the queue and runs again, and everything a person
 * reads about it says so — the serve output, the job's log, its log groups (the viewer's sections),
 * its annotations and its timing. A hand-back is not a cancel.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LogChunk, RunRecords } from '../../shared/api/engine-api.js';
import type { LogGroup } from '../../shared/model/job-records.js';
import type { RunDetail } from '../../shared/model/run.js';
import type { RunTiming } from '../../shared/model/test-report.js';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ListeningServe } from '../helpers/serve-child.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, type TestRepo } from '../engine/engine-fixture.js';

let root: string;
let repo: TestRepo;
let config: string;
const served: ListeningServe[] = [];

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-handback-'));
  repo = createRepo(root, 'acme/web');
  config = join(root, 'kiln.config.yml');
  writeFileSync(config, [
    'server: { host: 127.0.0.1, port: 7070 }',
    'repositories:',
    `  - { name: acme/web, url: ${JSON.stringify(repo.dir)} }`,
    '',
  ].join('\n'));
});
afterEach(() => {
  for (const s of served.splice(0)) s.kill();
  rmSync(root, { recursive: true, force: true });
});

async function serve(): Promise<ListeningServe> {
  const s = await startServe({ args: ['--config', config, '--data', join(root, 'data'), '--port', '0'], timeoutMs: 30_000 });
  served.push(s);
  return s;
}

async function get<T>(s: ListeningServe, path: string): Promise<T> {
  const res = await fetch(`${s.url}${path}`);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const logOf = async (s: ListeningServe, jobId: string): Promise<string[]> =>
  (await get<LogChunk>(s, `/api/jobs/${jobId}/log?offset=0&limit=1000`)).lines.map((l) => l.text);

describe('when kiln serve is stopped with SIGTERM while a job runs', () => {
  it('hands the job back and says so: serve names it, the log and its groups mark the interrupted attempt, no cancel annotation stays, and the timing shows the queued gap', async () => {
    repo.commit(`name: count
on: { push: { branches: [main] } }
jobs:
  count:
    image: ${TEST_IMAGE}
    steps:
      - name: Count
        run: i=0; while [ $i -lt 6 ]; do echo tick $i; i=$((i+1)); sleep 1; done
`);
    const first = await serve();
    const res = await fetch(`${first.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: 'acme/web', branch: 'main' }) });
    expect(res.status).toBe(201);
    const runId = ((await res.json()) as { runIds: string[] }).runIds[0];
    const jobId = (await get<RunDetail>(first, `/api/runs/${runId}`)).jobs[0].id;
    await waitFor(async () => (await logOf(first, jobId)).includes('tick 1'), 'the step to be counting');

    expect(await first.stop(60_000)).toBe(0);
    expect(first.out()).toContain('kiln serve: SIGTERM, stopping…\n');
    expect(first.out()).toContain('kiln serve: 1 job running: handed back to the queue, it starts again when Kiln starts\n');
    expect(first.out()).toMatch(/kiln serve: stopped\n$/);

    const second = await serve();
    const done = await waitFor(async () => {
      const r = await get<RunDetail>(second, `/api/runs/${runId}`);
      return r.status === 'passed' || r.status === 'failed' ? r : undefined;
    }, 'the run to end after the restart', 120_000);
    expect(done.status).toBe('passed');
    expect(done.jobs[0].attempt).toBe(1);

    const log = await logOf(second, jobId);
    const stopLine = log.indexOf("Kiln is stopping during step 'Count': this attempt ends here; the job goes back to the queue and starts again when Kiln starts");
    const handedBack = log.indexOf('Kiln stopped: the job was handed back to the queue and starts again when Kiln starts');
    const again = log.indexOf("[kiln] attempt 1 starts again after Kiln restarted (the interrupted attempt's lines are above)");
    expect(stopLine).toBeGreaterThan(0);
    expect(handedBack).toBeGreaterThan(stopLine);
    expect(again).toBeGreaterThan(handedBack);
    expect(log.some((l) => /cancelled/.test(l))).toBe(false);
    expect(log.slice(again)).toContain('tick 5');

    // The viewer's section for the earlier attempt: a top-level group from the first line to the restart.
    const groups = await get<LogGroup[]>(second, `/api/jobs/${jobId}/log/groups`);
    expect(groups).toContainEqual({ start: 0, end: again, endMarker: false, depth: 0, step: null, title: 'Interrupted attempt — Kiln stopped' });

    const records = await get<RunRecords>(second, `/api/runs/${runId}/records`);
    expect(records.annotations).toEqual([]);

    const timing = await get<RunTiming>(second, `/api/runs/${runId}/timing`);
    const phases = timing.jobs[0].segments.map((s) => s.phase);
    // Queued, the first attempt, queued again (across the restart), the second attempt.
    expect(phases.filter((p) => p === 'queued')).toHaveLength(2);
    const gap = timing.jobs[0].segments.filter((s) => s.phase === 'queued')[1];
    expect(gap.end! - gap.start).toBeGreaterThan(0);
    expect(phases.lastIndexOf('steps')).toBeGreaterThan(phases.lastIndexOf('queued'));

    expect(await second.stop(60_000)).toBe(0);
    expect(second.out()).not.toContain('handed back');
  }, 300_000);
});
