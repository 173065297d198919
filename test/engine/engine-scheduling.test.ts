import Dockerode from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { releaseJobs, untilReleased } from '../helpers/release-jobs.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from './engine-fixture.js';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

function pipeline(o: { name?: string; jobs: Record<string, string>; needs?: Record<string, string>; extra?: string; branches?: string }): string {
  const jobs = Object.entries(o.jobs).map(([key, script]) => `  ${key}:
    image: ${TEST_IMAGE}
${o.needs?.[key] ? `    needs: [${o.needs[key]}]\n` : ''}    steps:
      - name: ${key}-step
        run: ${JSON.stringify(script)}`).join('\n');
  return `name: ${o.name ?? 'p'}\non:\n  push: { branches: [${o.branches ?? 'main'}] }\n${o.extra ?? ''}jobs:\n${jobs}\n`;
}

function push(f: EngineFixture, sha: string, branch = 'main', repo = f.repos[0].name): TriggerEvent {
  return { kind: 'push', repo, branch, sha, ref: `refs/heads/${branch}` };
}

/** Resolves once a job's log contains `text` (the step is really running). */
async function logShows(f: EngineFixture, runId: string, text: string): Promise<string> {
  return f.waitFor(async () => {
    for (const job of (await f.engine.getRun(runId)).jobs) {
      if ((await f.engine.getLog(job.id, 0)).lines.some((l) => l.text === text)) return job.id;
    }
    return undefined;
  }, 60_000, `'${text}' in the log of run ${runId}`);
}

/** Max number of simultaneously running jobs seen in the events, overall and per run's repo. */
function concurrencyOf(events: EngineEvent[], repoOfRun: (runId: string) => string): { total: number; perRepo: Record<string, number> } {
  const running = new Map<string, string>();
  let total = 0;
  const perRepo: Record<string, number> = {};
  for (const e of events) {
    if (e.type !== 'job') continue;
    if (e.status === 'running') running.set(e.jobId, repoOfRun(e.runId));
    else running.delete(e.jobId);
    total = Math.max(total, running.size);
    const counts: Record<string, number> = {};
    for (const repo of running.values()) counts[repo] = (counts[repo] ?? 0) + 1;
    for (const [repo, n] of Object.entries(counts)) perRepo[repo] = Math.max(perRepo[repo] ?? 0, n);
  }
  return { total, perRepo };
}

describe('when a run is cancelled', () => {
  it('stops the running step within a second and cancels the jobs still waiting', async () => {
    f = await startEngine({ concurrency: { jobs: 1, perRepository: 1 } });
    const sha = f.repos[0].commit(pipeline({ jobs: { long: 'echo started; sleep 30; echo never', after: 'echo after' }, needs: { after: 'long' } }));
    const { runIds: [runId] } = await f.engine.handleEvent(push(f, sha));
    const jobId = await logShows(f, runId, 'started');
    const cancelledAt = Date.now();
    await f.engine.cancelRun(runId);
    const run = await f.waitForRun(runId, ['cancelled', 'failed', 'passed'], 30_000);
    expect(run.status).toBe('cancelled');
    const long = run.jobs.find((j) => j.id === jobId)!;
    expect(long.status).toBe('cancelled');
    expect(long.steps[0].status).toBe('cancelled');
    expect(long.steps[0].finishedAt! - cancelledAt).toBeLessThan(1_500);
    expect(run.jobs.find((j) => j.name === 'after')!.status).toBe('cancelled');
    expect((await f.engine.getLog(jobId, 0)).lines.some((l) => l.text === 'never')).toBe(false);
  });

  it('cancels a queued run at once, before any of its jobs starts', async () => {
    f = await startEngine({ concurrency: { jobs: 1, perRepository: 1 } });
    const blockSha = f.repos[0].commit(pipeline({ name: 'blocker', jobs: { block: 'echo blocking; sleep 30' } }));
    const { runIds: [blocker] } = await f.engine.handleEvent(push(f, blockSha));
    await logShows(f, blocker, 'blocking');
    const { runIds: [queued] } = await f.engine.handleEvent(push(f, blockSha, 'main'));
    expect((await f.engine.getRun(queued)).status).toBe('queued');
    await f.engine.cancelRun(queued);
    const run = await f.engine.getRun(queued);
    expect(run.status).toBe('cancelled');
    expect(run.jobs.map((j) => [j.status, j.attempt])).toEqual([['cancelled', 0]]);
    await f.engine.cancelRun(blocker);
    expect((await f.waitForRun(blocker)).status).toBe('cancelled');
    await expect(f.engine.cancelRun('no-such-run')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('when a new commit is pushed to the same branch', () => {
  it('cancels the queued and running runs of the earlier commits of its concurrency group', async () => {
    f = await startEngine({ concurrency: { jobs: 1, perRepository: 1 } });
    const extra = 'concurrency: { group: "${KILN_REPO}/${KILN_BRANCH}", cancel-in-progress: true }\n';
    const repo = f.repos[0];
    const shaA = repo.commit(pipeline({ name: 'a', extra, jobs: { work: 'echo A running; sleep 30' } }), 'A');
    const { runIds: [runA] } = await f.engine.handleEvent(push(f, shaA));
    await logShows(f, runA, 'A running');
    const shaB = repo.commit(pipeline({ name: 'b', extra, jobs: { work: 'echo B running; sleep 30' } }), 'B');
    const { runIds: [runB] } = await f.engine.handleEvent(push(f, shaB));
    const shaC = repo.commit(pipeline({ name: 'c', extra, jobs: { work: 'echo C done' } }), 'C');
    const { runIds: [runC] } = await f.engine.handleEvent(push(f, shaC));
    const [a, b, c] = [await f.waitForRun(runA), await f.waitForRun(runB), await f.waitForRun(runC)];
    expect(a.status).toBe('cancelled');
    expect(b.status).toBe('cancelled');
    expect(c.status).toBe('passed');
    expect(c.sha).toBe(shaC);
  });

  it('supersedes the earlier commit by default, without a concurrency block', async () => {
    f = await startEngine({ concurrency: { jobs: 1, perRepository: 1 } });
    const repo = f.repos[0];
    const shaA = repo.commit(pipeline({ name: 'a', jobs: { work: 'echo A running; sleep 30' } }), 'A');
    const { runIds: [runA] } = await f.engine.handleEvent(push(f, shaA));
    await logShows(f, runA, 'A running');
    const shaB = repo.commit(pipeline({ name: 'b', jobs: { work: 'echo B done' } }), 'B');
    const { runIds: [runB] } = await f.engine.handleEvent(push(f, shaB));
    expect((await f.waitForRun(runA)).status).toBe('cancelled');
    expect((await f.waitForRun(runB)).status).toBe('passed');
  });

  it('a burst of pushes to one branch, stored in one group commit, leaves only the newest run going', async () => {
    f = await startEngine({ concurrency: { jobs: 1, perRepository: 1 } });
    const repo = f.repos[0];
    const shas = ['1', '2', '3', '4', '5'].map((n) => repo.commit(pipeline({ name: `p${n}`, jobs: { work: `echo run ${n}` } }), n));
    // All at once, as a webhook burst arrives: their inserts share group commits.
    const outcomes = await Promise.all(shas.map((sha) => f!.engine.handleEvent(push(f!, sha))));
    const runIds = outcomes.map((o) => o.runIds[0]);
    const runs = await Promise.all(runIds.map((id) => f!.waitForRun(id)));
    expect(runs.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled', 'passed']);
    expect(runs[4].sha).toBe(shas[4]);
    // Each earlier run was cancelled once, by its successor (not again by every later push).
    const cancelledEvents = f.events.filter((e) => e.type === 'job' && e.status === 'cancelled');
    expect(cancelledEvents).toHaveLength(4);
  });

  it('lets the earlier commit finish when the pipeline says cancel-in-progress: false', async () => {
    f = await startEngine({ concurrency: { jobs: 2, perRepository: 2 } });
    const extra = 'concurrency: { cancel-in-progress: false }\n';
    const repo = f.repos[0];
    // A runs until released: it is still running when B is pushed and when B has passed.
    const shaA = repo.commit(pipeline({ name: 'a', extra, jobs: { work: `echo A running; ${untilReleased()}` } }), 'A');
    const { runIds: [runA] } = await f.engine.handleEvent(push(f, shaA));
    await logShows(f, runA, 'A running');
    const shaB = repo.commit(pipeline({ name: 'b', extra, jobs: { work: 'echo B done' } }), 'B');
    const { runIds: [runB] } = await f.engine.handleEvent(push(f, shaB));
    expect((await f.waitForRun(runB)).status).toBe('passed');
    expect((await f.engine.getRun(runA)).status).toBe('running');
    expect(await releaseJobs(new Dockerode(), f.engine.instanceId)).toBe(1);
    expect((await f.waitForRun(runA)).status).toBe('passed');
  });

  it('leaves runs of other branches alone', async () => {
    f = await startEngine({ concurrency: { jobs: 2, perRepository: 2 } });
    const extra = 'concurrency: { group: "${KILN_REPO}/${KILN_BRANCH}", cancel-in-progress: true }\n';
    const repo = f.repos[0];
    const text = pipeline({ extra, branches: "'**'", jobs: { work: `echo working; ${untilReleased()}` } });
    const shaMain = repo.commit(text, 'main');
    const { runIds: [onMain] } = await f.engine.handleEvent(push(f, shaMain));
    const shaDev = repo.commit(text, 'dev', 'dev');
    const { runIds: [onDev] } = await f.engine.handleEvent(push(f, shaDev, 'dev'));
    // Both run at once (each until released): the push to dev cancelled nothing on main.
    await logShows(f, onMain, 'working');
    await logShows(f, onDev, 'working');
    expect(await releaseJobs(new Dockerode(), f.engine.instanceId)).toBe(2);
    expect((await f.waitForRun(onMain)).status).toBe('passed');
    expect((await f.waitForRun(onDev)).status).toBe('passed');
  });
});

describe('when more jobs are ready than the limits allow', () => {
  it('never runs more than the global and per-repository limits, and runs everything eventually', async () => {
    f = await startEngine({ repos: ['acme/a', 'acme/b'], concurrency: { jobs: 2, perRepository: 1 } });
    const runs: string[] = [];
    for (const repo of f.repos) {
      const sha = repo.commit(pipeline({ jobs: { one: 'sleep 1', two: 'sleep 1', three: 'sleep 1' } }));
      runs.push(...(await f.engine.handleEvent(push(f, sha, 'main', repo.name))).runIds);
    }
    const done = await Promise.all(runs.map((id) => f!.waitForRun(id, undefined, 90_000)));
    expect(done.map((r) => r.status)).toEqual(['passed', 'passed']);
    const repoOf = new Map(done.map((r) => [r.id, r.repo]));
    const seen = concurrencyOf(f.events, (runId) => repoOf.get(runId)!);
    expect(seen.perRepo).toEqual({ 'acme/a': 1, 'acme/b': 1 });
    expect(seen.total).toBe(2);
  });
});

describe('when the repository configuration raises a branch\'s priority', () => {
  it('starts the overridden run before an earlier run of normal priority', async () => {
    f = await startEngine({ concurrency: { jobs: 1, perRepository: 1 }, configure: () => ({ priority: { 'release/*': 'critical' } }) });
    const repo = f.repos[0];
    // The second push of main must wait behind the first, not supersede it: else it could be claimed
    // while the release run is still being planned, and the test would measure that race.
    const text = pipeline({ branches: "main, 'release/*'", extra: 'concurrency: { cancel-in-progress: false }\n', jobs: { work: 'echo "on $KILN_BRANCH"; sleep 30' } });
    const shaMain = repo.commit(text, 'main');
    const { runIds: [blocker] } = await f.engine.handleEvent(push(f, shaMain));
    await logShows(f, blocker, 'on main');
    const { runIds: [normal] } = await f.engine.handleEvent(push(f, shaMain));
    const shaRelease = repo.commit(text, 'release', 'release/1.0');
    const { runIds: [release] } = await f.engine.handleEvent(push(f, shaRelease, 'release/1.0'));
    expect((await f.engine.getRun(release)).priority).toBe('critical');
    await f.engine.cancelRun(blocker);
    await logShows(f, release, 'on release/1.0');
    expect((await f.engine.getRun(normal)).status).toBe('queued');
    await f.engine.cancelRun(release);
    await f.engine.cancelRun(normal);
  });
});
