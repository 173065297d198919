/**
 * The real engine on real Docker reporting to the GitHub stand-in: pushed runs post their statuses
 * as they queue, start and finish; a failing step is named with its exit code; a run superseded by
 * a newer push ends as `error`, never a `pending` that would block a pull request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { startStandIn, type StandIn } from './github-stand-in.js';

const TOKEN = 'ghp_engineTestToken0123456789';

let f: EngineFixture | undefined;
let standIn: StandIn | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
  if (standIn) expect(standIn.violations, 'requests GitHub would refuse').toEqual([]);
  await standIn?.close();
  standIn = undefined;
});

const pipeline = (script: string) => `name: web
on:
  push: { branches: [main] }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: compile
        run: echo compiling
  test:
    image: ${TEST_IMAGE}
    needs: [build]
    steps:
      - name: Unit
        run: ${script}
`;

async function start(jobStatuses = false) {
  standIn = await startStandIn({ token: TOKEN });
  const url = standIn.url;
  f = await startEngine({
    configure: () => ({ forge: { apiUrl: url, token: TOKEN, jobStatuses } }),
    options: { forge: { client: { writePaceMs: 20, retries: 1, retryBaseMs: 20 }, backoff: { baseMs: 100, maxMs: 500 } } },
  });
  return { s: standIn, f };
}

const push = (fx: EngineFixture, sha: string) =>
  fx.engine.handleEvent({ kind: 'push', repo: 'acme/web', branch: 'main', sha, ref: 'refs/heads/main', triggeredBy: 'ada' });

describe('when a pushed run passes on the real engine', () => {
  it('posts pending when queued and when started, then success, to kiln/web on its commit', async () => {
    const { s, f: fx } = await start();
    const sha = fx.repos[0].commit(pipeline('echo ok'));
    const { runIds } = await push(fx, sha);
    await fx.waitForRun(runIds[0]);
    await fx.waitFor(() => s.statuses.some((x) => x.state === 'success') || undefined, 10_000, 'the success status');
    await fx.engine.forge.idle();
    const mine = s.statuses.filter((x) => x.context === 'kiln/web');
    expect(mine.every((x) => x.sha === sha)).toBe(true);
    expect(mine[0]).toMatchObject({ state: 'pending', description: expect.stringMatching(/^Queued/) });
    expect(mine.some((x) => x.state === 'pending' && x.description === 'Running')).toBe(true);
    expect(mine.at(-1)).toMatchObject({ state: 'success', description: expect.stringMatching(/^Passed in \d+ s$/) });
    expect(mine.filter((x) => x.state === 'success')).toHaveLength(1);
    const reporting = await fx.engine.getRunReporting(runIds[0]);
    expect(reporting).toMatchObject({ enabled: true, summary: 'statuses posted' });
  });
});

describe('when a step fails on the real engine', () => {
  it('posts failure naming the job, the step and its exit code, and per-job statuses when asked', async () => {
    const { s, f: fx } = await start(true);
    const sha = fx.repos[0].commit(pipeline('exit 3'));
    const { runIds } = await push(fx, sha);
    const run = await fx.waitForRun(runIds[0]);
    expect(run.status).toBe('failed');
    await fx.waitFor(() => s.statuses.some((x) => x.context === 'kiln/web' && x.state === 'failure') || undefined, 10_000, 'the failure status');
    await fx.engine.forge.idle();
    const last = new Map(s.statuses.map((x) => [x.context, x]));
    expect(last.get('kiln/web')).toMatchObject({ state: 'failure', description: expect.stringMatching(/^Failed: test › Unit \(exit 3\) after \d+ s$/) });
    expect(last.get('kiln/web/build')).toMatchObject({ state: 'success' });
    expect(last.get('kiln/web/test')).toMatchObject({ state: 'failure', description: expect.stringMatching(/^Failed: Unit \(exit 3\)/) });
  });
});

describe('when a newer push supersedes a running run', () => {
  it('ends the older commit with error "Cancelled (superseded by <sha>)", not a pending that stays', async () => {
    const { s, f: fx } = await start();
    const old = fx.repos[0].commit(pipeline('sleep 30'));
    const first = await push(fx, old);
    await fx.waitForRun(first.runIds[0], ['running']);
    const newer = fx.repos[0].commit(pipeline('echo ok'), 'fix');
    const second = await push(fx, newer);
    expect((await fx.waitForRun(first.runIds[0])).status).toBe('cancelled');
    await fx.waitForRun(second.runIds[0]);
    await fx.waitFor(() => s.statuses.some((x) => x.sha === old && x.state === 'error') || undefined, 10_000, 'the error status of the old commit');
    const oldLast = s.statuses.filter((x) => x.sha === old).at(-1);
    expect(oldLast).toMatchObject({ state: 'error', description: `Cancelled (superseded by ${newer.slice(0, 7)})` });
  });
});
