/**
 * End to end through the real Engine (its step run by the fake executor, which gets the branch and
 * commit from the engine like a container would): a signed GitHub push delivery for a local git
 * repository starts its pipeline, the job's log streams over SSE to the end, the run passes, and
 * the badge turns green.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogLine, RunDetail } from '../../shared/model/run.js';
import { startServer } from '../../src-main/http/app.js';
import type { RunningServer } from '../../src-main/http/app.js';
import type { StepProgram } from '../helpers/fake-executor.js';
import { startFakeEngine, type Engine, type FakeEngine } from '../helpers/fake-engine.js';
import { deliver, fixture } from '../trigger/helpers/deliver.js';
import { readSse } from './helpers/sse-client.js';

const SECRET = 'e2e-secret';
const REPO = 'acme/e2e';


/** The real push payload, pointed at the test repository and commit. */
function pushPayloadFor(sha: string, pushedAtSeconds: number): Buffer {
  const p = JSON.parse(fixture('github/push.branch-commits.json').toString('utf8')) as {
    ref: string; after: string; repository: { full_name: string; pushed_at: number }; head_commit: { id: string; message: string };
  };
  p.ref = 'refs/heads/main';
  p.after = sha;
  p.repository.full_name = REPO;
  p.repository.pushed_at = pushedAtSeconds;
  p.head_commit.id = sha;
  p.head_commit.message = 'Add the pipeline';
  return Buffer.from(JSON.stringify(p));
}

const PIPELINE = [
  'name: e2e',
  'on:',
  '  push: { branches: [main] }',
  '  manual: true',
  'jobs:',
  '  hello:',
  '    image: busybox',
  '    steps:',
  '      - name: Greet',
  '        run: greet',
  '',
].join('\n');

/** Greets with the branch and commit the engine handed the step, then ticks 30 times over 1.5 s. */
const GREET: StepProgram = async (io) => {
  io.out(`hello from ${io.env.KILN_BRANCH}`);
  io.out(`sha ${io.env.KILN_SHA}`);
  for (let i = 0; i < 30; i++) {
    io.out(`tick ${i}`);
    await io.sleep(50);
  }
  return 0;
};

describe('a webhook delivery for a local repository', () => {
  let kiln: FakeEngine;
  let engine: Engine;
  let server: RunningServer;
  let sha: string;

  beforeEach(async () => {
    kiln = await startFakeEngine({
      repos: { [REPO]: { main: PIPELINE } },
      programs: { greet: GREET },
      configure: () => ({ webhookSecrets: [SECRET] }),
    });
    engine = kiln.engine;
    sha = kiln.headOf(REPO, 'main');
    server = await startServer({ engine, port: 0 });
  });

  afterEach(async () => {
    await server?.close();
    await kiln?.close();
  });

  it('runs the pipeline to completion, streams its log live and turns the badge green', async () => {
    const body = pushPayloadFor(sha, Math.floor(Date.now() / 1000));
    const answer = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: randomUUID() });
    expect(answer.status).toBe(202);
    expect(answer.json.outcome).toBe('accepted');
    expect(answer.json.runIds).toHaveLength(1);
    const runId = answer.json.runIds[0];

    const run = (await (await fetch(`${server.url}/api/runs/${runId}`)).json()) as RunDetail;
    expect(run).toMatchObject({ repo: REPO, branch: 'main', sha, event: 'push', commitMessage: 'Add the pipeline', triggeredBy: 'ailisp' });
    expect(run.jobs).toHaveLength(1);

    const sse = await readSse(`${server.url}/api/jobs/${run.jobs[0].id}/log/stream`);
    await sse.waitFor((e) => e.some((x) => x.event === 'end'), 'the job to finish', 90_000);
    const lines = sse.events.filter((e) => !e.event).map((e) => JSON.parse(e.data) as LogLine);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i));
    expect(lines.map((l) => l.text)).toContain('hello from main');
    expect(lines.map((l) => l.text)).toContain(`sha ${sha}`);

    let final: RunDetail = run;
    for (let i = 0; i < 100 && final.status !== 'passed'; i++) {
      final = (await (await fetch(`${server.url}/api/runs/${runId}`)).json()) as RunDetail;
      if (final.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(final.status).toBe('passed');

    const badge = await (await fetch(`${server.url}/badges/${REPO}.svg`)).text();
    expect(badge).toContain('aria-label="build: passing"');

    const [delivery] = (await (await fetch(`${server.url}/api/deliveries`)).json()) as { outcome: string; runIds: string[] }[];
    expect(delivery).toMatchObject({ outcome: 'accepted', runIds: [runId] });
  });

  it('refuses the same delivery a second time and starts no second run', async () => {
    const body = pushPayloadFor(sha, Math.floor(Date.now() / 1000));
    const id = randomUUID();
    expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id })).status).toBe(202);
    expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id })).status).toBe(409);
    expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: randomUUID() })).status).toBe(409);
    const runs = (await (await fetch(`${server.url}/api/runs?repo=${encodeURIComponent(REPO)}`)).json()) as { items: unknown[] };
    expect(runs.items).toHaveLength(1);
  });

  it('resumes a live container log after Last-Event-ID with no gap and no duplicate', async () => {
    const res = await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: REPO, sha }) });
    expect(res.status).toBe(201);
    // The step prints its greeting, then 30 lines over 1.5 s: the client leaves mid-way and comes back.
    const { runIds } = (await res.json()) as { runIds: string[] };
    const run = (await (await fetch(`${server.url}/api/runs/${runIds[0]}`)).json()) as RunDetail;
    const jobId = run.jobs[0].id;
    const first = await readSse(`${server.url}/api/jobs/${jobId}/log/stream`);
    await first.waitFor((e) => e.some((x) => !x.event && (JSON.parse(x.data) as LogLine).text.startsWith('hello from')), 'the first step output', 90_000);
    first.close();
    await first.ended;
    const got = first.events.filter((e) => !e.event).map((e) => JSON.parse(e.data) as LogLine);
    const resumed = await readSse(`${server.url}/api/jobs/${jobId}/log/stream`, { 'last-event-id': String(got[got.length - 1].seq) });
    await resumed.waitFor((e) => e.some((x) => x.event === 'end'), 'the end of the job', 90_000);
    const rest = resumed.events.filter((e) => !e.event).map((e) => JSON.parse(e.data) as LogLine);
    expect(rest.map((l) => l.text)).toContain('tick 29');
    const all = [...got, ...rest];
    expect(all.map((l) => l.seq)).toEqual(all.map((_, i) => i));
    const full = (await (await fetch(`${server.url}/api/jobs/${jobId}/log?offset=0&limit=10000`)).json()) as { lines: LogLine[] };
    expect(all).toEqual(full.lines);
  });
});
