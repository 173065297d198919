/**
 * The world of the badge tests: one real Engine and server, every badge state made by real runs
 * (git, SQLite, the engine's queue; steps are programs of the fake executor), created once. One job at a time per repository, so a job that sleeps
 * keeps the later runs of its repository queued for as long as the tests need.
 *
 *   acme/web (default branch trunk)
 *     trunk    a failing run (first commit), then a passing one (second commit)
 *     other    a failing run, the newest of the repository's own runs on a branch
 *     dev      a passing manual run, then a failing pull-request run of the same commit (PR #3,
 *              dev → trunk, delivered as GitHub's signed webhook)
 *     <script>alert(1)</script>   a passing run
 *   acme/states
 *     failing  fails          timeout  its step times out           etag  passes
 *     running  a job that sleeps, holding the repository's only slot
 *     queued   waits behind it            cancelled  waited behind it and was cancelled
 */
import { randomUUID } from 'node:crypto';
import type { RunDetail } from '../../../shared/model/run.js';
import { git } from '../../helpers/git.js';
import { exits, prints, type StepProgram } from '../../helpers/fake-executor.js';
import { deliver, fixture } from '../../trigger/helpers/deliver.js';
import { startApiEngine, type ApiEngine } from './api-engine.js';

export const WEB = 'acme/web';
export const STATES = 'acme/states';
export const SCRIPT_BRANCH = '<script>alert(1)</script>';
const HOOK_SECRET = 'badge-hook-secret';
const PR_NUMBER = 3;

const pipeline = (steps: string, on = '  manual: true\n'): string => `name: ci
on:
${on}jobs:
  build:
    image: busybox
    steps:
${steps}`;

const PASS = pipeline('      - run: say-ok\n');
const FAIL = pipeline('      - run: fail\n');
const TIMEOUT = pipeline('      - name: hang\n        timeout: 1s\n        run: sleep-30\n');
const SLEEP = pipeline('      - run: sleep-600\n');
/** Passes as a push or manual run; fails as a pull request run (KILN_EVENT reaches the step as an environment variable). */
const DEV = pipeline(
  '      - run: fail-for-pull-requests\n',
  '  push: { branches: [dev] }\n  pull_request: { branches: [trunk] }\n  manual: true\n',
);

const sleeps = (ms: number): StepProgram => async (io) => {
  await io.sleep(ms);
  return io.signal.aborted ? 143 : 0;
};

/** What the steps do, by the program names their `run` gives. */
const PROGRAMS: Record<string, StepProgram> = {
  'say-ok': prints('ok'),
  'fail': exits(1, 'broken'),
  'sleep-30': sleeps(30_000),
  'sleep-600': sleeps(600_000),
  'fail-for-pull-requests': (io) => (io.env.KILN_EVENT === 'pull_request' ? exits(1, 'fails for pull requests')(io) : 0),
};

export interface BadgeWorld extends ApiEngine {
  /** acme/web's pull request run (the newest run of dev). */
  prRun: RunDetail;
  /** The run of each acme/states branch, by branch. */
  states: Record<'failing' | 'timeout' | 'etag' | 'running' | 'queued' | 'cancelled', RunDetail>;
}

export async function startBadgeWorld(): Promise<BadgeWorld> {
  const kiln = await startApiEngine({
    repos: {
      [WEB]: { trunk: FAIL, other: FAIL, dev: DEV, [SCRIPT_BRANCH]: PASS },
      [STATES]: { main: PASS, failing: FAIL, timeout: TIMEOUT, etag: PASS, running: SLEEP, queued: PASS, cancelled: PASS },
    },
    configure: (name) => (name === WEB ? { defaultBranch: 'trunk', webhookSecrets: [HOOK_SECRET] } : {}),
    concurrency: { jobs: 4, perRepository: 1 },
    programs: PROGRAMS,
  });
  try {
    const web = kiln.fixture.repos.find((r) => r.name === WEB);
    if (!web) throw new Error('no acme/web');
    const firstTrunk = kiln.headOf(WEB, 'trunk');
    git(web.dir, 'checkout', '-q', 'trunk');
    web.commit(PASS, 'fix the build', 'trunk');

    // In creation order: what "latest" means for each branch.
    const done: string[] = [
      await kiln.trigger(WEB, 'trunk', firstTrunk),
      await kiln.trigger(WEB, 'trunk'),
      await kiln.trigger(WEB, 'other'),
      await kiln.trigger(WEB, 'dev'),
      await kiln.trigger(WEB, SCRIPT_BRANCH),
    ];
    await new Promise((r) => setTimeout(r, 5)); // the pull request run is created in a later millisecond than dev's own
    const prRunId = await deliverPullRequest(kiln, kiln.headOf(WEB, 'dev'));
    done.push(prRunId);
    const states = {
      failing: await kiln.trigger(STATES, 'failing'),
      timeout: await kiln.trigger(STATES, 'timeout'),
      etag: await kiln.trigger(STATES, 'etag'),
    };
    await Promise.all([...done, ...Object.values(states)].map((id) => kiln.waitForRun(id)));

    // Now hold acme/states' only slot, and queue two runs behind it; cancel one of them.
    const running = await kiln.trigger(STATES, 'running');
    await kiln.waitForRun(running, ['running']);
    const queued = await kiln.trigger(STATES, 'queued');
    const cancelled = await kiln.trigger(STATES, 'cancelled');
    await kiln.engine.cancelRun(cancelled);
    await kiln.waitForRun(cancelled);
    const ids = { ...states, running, queued, cancelled };
    const runs = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([branch, id]) => [branch, await kiln.engine.getRun(id)] as const)));
    return { ...kiln, prRun: await kiln.engine.getRun(prRunId), states: runs as BadgeWorld['states'] };
  } catch (err) {
    await kiln.close();
    throw err;
  }
}

/**
 * GitHub's real "pull request opened" delivery, pointed at PR #3 from dev (at `sha`) into trunk of
 * acme/web and stamped with the current time (the receiver refuses stale events), signed. The local
 * repository gets GitHub's refs/pull/3/head too. Returns the run it started.
 */
async function deliverPullRequest(kiln: ApiEngine, sha: string): Promise<string> {
  const web = kiln.fixture.repos.find((r) => r.name === WEB);
  if (!web) throw new Error('no acme/web');
  git(web.dir, 'update-ref', `refs/pull/${PR_NUMBER}/head`, sha);
  const p = JSON.parse(fixture('github/pull_request.opened.json').toString('utf8')) as {
    number: number;
    pull_request: { id: number; number: number; updated_at: string; head: { ref: string; sha: string }; base: { ref: string } };
    repository: { full_name: string };
  };
  p.number = PR_NUMBER;
  p.pull_request.number = PR_NUMBER;
  p.pull_request.id = Date.now();
  p.pull_request.updated_at = new Date().toISOString();
  p.pull_request.head.ref = 'dev';
  p.pull_request.head.sha = sha;
  p.pull_request.base.ref = 'trunk';
  p.repository.full_name = WEB;
  const answer = await deliver(kiln.server.url, { event: 'pull_request', body: JSON.stringify(p), secret: HOOK_SECRET, deliveryId: randomUUID() });
  if (answer.status !== 202 || answer.json.runIds.length !== 1) throw new Error(`the pull request delivery was not accepted: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json.runIds[0];
}
