/**
 * A run held by an approval gate, reported by the real engine to the GitHub stand-in: its commit
 * status stays pending and says what it waits for; once approved it ends in success.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { startStandIn, type StandIn } from '../forge/github-stand-in.js';

const TOKEN = 'ghp_flowTestToken0123456789abcd';

let f: EngineFixture | undefined;
let standIn: StandIn | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
  if (standIn) expect(standIn.violations, 'requests GitHub would refuse').toEqual([]);
  await standIn?.close();
  standIn = undefined;
});

const PIPELINE = `name: web
on:
  push: { branches: [main] }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps: [{ run: echo built }]
  deploy:
    image: ${TEST_IMAGE}
    needs: build
    when: manual
    steps: [{ run: echo deployed }]
`;

describe('when a pushed run waits for approval', () => {
  it("reports pending 'Waiting for approval: deploy', then success once approved", async () => {
    standIn = await startStandIn({ token: TOKEN });
    const url = standIn.url;
    f = await startEngine({
      configure: () => ({ forge: { apiUrl: url, token: TOKEN, jobStatuses: false } }),
      options: { forge: { client: { writePaceMs: 20, retries: 1, retryBaseMs: 20 }, backoff: { baseMs: 100, maxMs: 500 } } },
    });
    const s = standIn;
    const sha = f.repos[0].commit(PIPELINE);
    const { runIds } = await f.engine.handleEvent({ kind: 'push', repo: 'acme/web', branch: 'main', sha, ref: 'refs/heads/main', triggeredBy: 'ada' });
    const held = await f.waitFor(async () => { const r = await f!.engine.getRun(runIds[0]); return r.waitingForApproval ? r : undefined; }, 90_000, 'the run to wait');
    await f.waitFor(() => s.statuses.some((x) => x.description === 'Waiting for approval: deploy') || undefined, 10_000, 'the waiting status');
    expect(s.statuses.filter((x) => x.context === 'kiln/web').at(-1)).toMatchObject({ state: 'pending', description: 'Waiting for approval: deploy' });

    await f.engine.approveJob(held.jobs.find((j) => j.name === 'deploy')!.id);
    expect((await f.waitForRun(runIds[0], undefined, 90_000)).status).toBe('passed');
    await f.waitFor(() => s.statuses.some((x) => x.state === 'success') || undefined, 10_000, 'the success status');
    expect(s.statuses.filter((x) => x.context === 'kiln/web').at(-1)).toMatchObject({ state: 'success' });
  });
});
