/**
 * The pull-request failure comment, on the real engine and Docker against the GitHub stand-in: one
 * comment per pull request, updated in place by later runs, naming the failed job, step and exit
 * code with the last log lines (secrets masked); none when the dashboard has a public URL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { startStandIn, type StandIn } from './github-stand-in.js';

const TOKEN = 'ghp_commentTESTtoken24680';
/** With a `%`, which a workflow command escapes to `%25`: the annotation below prints it so. */
const SECRET = 'hunter2-deploy%key-1357';

let f: EngineFixture | undefined;
let standIn: StandIn | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
  if (standIn) expect(standIn.violations, 'requests GitHub would refuse').toEqual([]);
  await standIn?.close();
  standIn = undefined;
});

const pipeline = (script: string) => `name: ci
on:
  pull_request: {}
jobs:
  test:
    image: ${TEST_IMAGE}
    secrets: [DEPLOY_KEY]
    steps:
      - name: Unit
        run: |
          for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo "line $i"; done
          echo "key is $DEPLOY_KEY"
          ${script}
`;

async function start(publicUrl?: string) {
  standIn = await startStandIn({ token: TOKEN });
  const url = standIn.url;
  f = await startEngine({
    configure: () => ({ secrets: { DEPLOY_KEY: SECRET }, forge: { apiUrl: url, token: TOKEN, jobStatuses: false } }),
    options: { forge: { client: { writePaceMs: 20, retries: 1, retryBaseMs: 20 } } },
  });
  if (publicUrl) f.engine.config.server.publicUrl = publicUrl;
  return { s: standIn, fx: f };
}

async function prRun(fx: EngineFixture, script: string, message: string): Promise<string> {
  const sha = fx.repos[0].commit(pipeline(script), message, 'feature');
  const { runIds } = await fx.engine.handleEvent({ kind: 'pull_request', repo: 'acme/web', branch: 'feature', baseBranch: 'main', sha, ref: 'refs/pull/7/head', prNumber: 7, prTitle: 'Feature' });
  expect(runIds).toHaveLength(1);
  await fx.waitForRun(runIds[0]);
  return runIds[0];
}

describe('when a pull request run fails and the dashboard has no public URL', () => {
  it('writes one comment with the job, step, exit code, annotations and masked last lines, and updates it on later runs', async () => {
    const { s, fx } = await start();
    const first = await prRun(fx, 'echo "::error file=src/app.ts,line=3::bad type near $(printf %s "$DEPLOY_KEY" | sed s/%/%25/g)"; exit 4', 'first try');
    const comment = await fx.waitFor(() => [...s.comments.values()][0], 10_000, 'the comment');
    expect(comment).toMatchObject({ owner: 'acme', repo: 'web', issueNumber: 7 });
    expect(comment.body).toContain('❌ **kiln/ci** failed');
    expect(comment.body).toContain('job **test**, step **Unit** (exit code 4)');
    expect(comment.body).toContain('key is ***');
    expect(comment.body).not.toContain(SECRET);
    expect(comment.body).not.toContain('hunter2');
    expect(comment.body).not.toContain('line 5\n');
    expect(comment.body).toContain('line 25');
    // The run's annotations, errors first: the step's own (masked, with its place) and Kiln's, once.
    expect(comment.body).toContain('**Annotations** (2)');
    expect(comment.body).toContain('- ❌ **test**: bad type near \\*\\*\\* (`src/app.ts:3`)');
    // Once among the annotations and once in the log's last lines (the log no longer repeats it at the end).
    expect(comment.body.split("step 'Unit' failed with exit code 4")).toHaveLength(3);
    await fx.waitFor(async () => (await fx.engine.getRunReporting(first)).comment?.posted || undefined, 5_000, 'the comment state');

    await prRun(fx, 'exit 9', 'second try');
    await fx.waitFor(() => (comment.body.includes('exit code 9') ? true : undefined), 10_000, 'the updated comment');
    expect(s.comments.size).toBe(1);
    expect(comment.updates).toBe(1);

    await prRun(fx, 'true', 'fixed');
    await fx.waitFor(() => (comment.body.includes('passed') ? true : undefined), 10_000, 'the resolved comment');
    expect(comment.body).toMatch(/✅ \*\*kiln\/ci\*\* passed at [0-9a-f]{7}/);
    expect(s.comments.size).toBe(1);
  });
});

describe('when the dashboard has a public URL', () => {
  it('links the statuses to the run and writes no comment', async () => {
    const { s, fx } = await start('https://kiln.team.example');
    const runId = await prRun(fx, 'exit 1', 'broken');
    await fx.waitFor(() => s.statuses.some((x) => x.state === 'failure') || undefined, 10_000, 'the failure status');
    await fx.engine.forge.idle();
    expect(s.statuses.at(-1)?.target_url).toBe(`https://kiln.team.example/#/runs/${runId}`);
    expect(s.comments.size).toBe(0);
  });
});
