/**
 * A kept container ends by itself when no Kiln removes it, with real Docker: its keep-alive reads
 * the keep-until time the engine writes when the job is kept and on each extension (deadline plus
 * a margin, by the container's own clock), then removes the kept environment file (the step's
 * secrets) and exits. Another Kiln instance's reaper honours that time past its 24 h rule.
 */
import { execFileSync } from 'node:child_process';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../src-main/executor/containers.js';
import { setKeepUntil } from '../../src-main/executor/debug-session.js';
import { reapOrphans } from '../../src-main/executor/reaper.js';
import { DEBUG_ENV_FILE, KEEP_ALIVE, KEEP_MARGIN_MS, KEEP_UNTIL_FILE } from '../../src-main/executor/step-script.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { until } from './debug-fixture.js';

const docker = new Dockerode();
const DAY_AND_AN_HOUR = 25 * 60 * 60_000;

/** A container as the executor makes a job's, with a kept environment file, labelled as `instance`'s. */
async function keptLike(o: { role?: 'job' | 'service'; instance: string; runId: string }): Promise<Dockerode.Container> {
  const c = await docker.createContainer({
    Image: TEST_IMAGE, Entrypoint: KEEP_ALIVE.slice(0, 1), Cmd: KEEP_ALIVE.slice(1), HostConfig: { Init: true },
    Labels: {
      [LABEL.instance]: o.instance, [LABEL.run]: o.runId, [LABEL.job]: 'j1', [LABEL.role]: o.role ?? 'job',
      [LABEL.created]: String(Date.now()),
    },
  });
  await c.start();
  execFileSync('docker', ['exec', c.id, 'sh', '-c', `mkdir -p /kiln && echo "export TOKEN='s3cret'" > ${DEBUG_ENV_FILE}`]);
  return c;
}

const running = async (c: Dockerode.Container): Promise<boolean | undefined> => {
  try {
    return (await c.inspect()).State.Running;
  } catch {
    return undefined; // removed
  }
};

/** Seconds from the container's now to its keep-until time. */
function secondsLeft(containerId: string): number {
  return Number(execFileSync('docker', ['exec', containerId, 'sh', '-c', `[ -s ${KEEP_UNTIL_FILE} ] && echo $(( $(cat ${KEEP_UNTIL_FILE}) - $(date +%s) ))`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
}

describe('a kept container with no Kiln to remove it', () => {
  const made: Dockerode.Container[] = [];
  const runId = `keep-alive-${process.pid}-${Date.now()}`;
  afterAll(async () => {
    for (const c of made) await c.remove({ force: true }).catch(() => undefined);
  });

  it('stops at its keep-until time, taking the environment file with it, unless extended first', async () => {
    const [expiring, extended] = await Promise.all([keptLike({ instance: 'keep-alive-test', runId }), keptLike({ instance: 'keep-alive-test', runId })]);
    made.push(expiring, extended);
    // Deadlines one second away (the margin taken off); the second is then extended by an hour, as Extend does.
    await Promise.all([setKeepUntil(docker, expiring.id, 1000 - KEEP_MARGIN_MS), setKeepUntil(docker, extended.id, 1000 - KEEP_MARGIN_MS)]);
    await setKeepUntil(docker, extended.id, 3_600_000 - KEEP_MARGIN_MS);
    await until(async () => ((await running(expiring)) === false ? true : undefined), 'the expired container to stop', 30_000);
    await expect(expiring.getArchive({ path: DEBUG_ENV_FILE })).rejects.toMatchObject({ statusCode: 404 });
    expect(await running(extended)).toBe(true);
    expect(secondsLeft(extended.id)).toBeGreaterThan(3500);
  });

  it("is spared by another instance's reaper past 24 h while its keep-until time lies ahead, with its service", async () => {
    const foreign = { instance: 'another-kiln', runId: `${runId}-r` };
    const kept = await keptLike(foreign);
    const service = await keptLike({ ...foreign, role: 'service' });
    const stale = await keptLike({ ...foreign, runId: `${runId}-stale` });
    made.push(kept, service, stale);
    await setKeepUntil(docker, kept.id, 3_600_000);
    // A day and an hour later for this reaper; every other instance's resources on this shared Docker count as live.
    const counts = await reapOrphans(docker, { instanceId: `reaper-${runId}`, isJobLive: (run) => !run.startsWith(runId), now: Date.now() + DAY_AND_AN_HOUR });
    expect(counts.containers).toBeGreaterThanOrEqual(1);
    expect([await running(kept), await running(service), await running(stale)]).toEqual([true, true, undefined]);
  });
});

describe('a job kept by the engine', () => {
  let kiln: EngineFixture;
  let jobId: string;
  let containerId: string;
  const KEEP_MS = 90_000;

  beforeAll(async () => {
    kiln = await startEngine({ options: { debug: { keepMs: KEEP_MS }, onError: () => undefined } });
    kiln.repos[0].commit(`name: k\non:\n  manual: true\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    steps:\n      - run: exit 3\n`);
    const [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    jobId = (await kiln.waitFor(async () => (await kiln.engine.listKeptJobs()).find((k) => k.runId === runId), 90_000, 'the failed job to be kept')).jobId;
    containerId = execFileSync('docker', ['ps', '-q', '--filter', `label=kiln.run=${runId}`, '--filter', 'label=kiln.role=job'], { encoding: 'utf8' }).trim();
  });

  afterAll(async () => {
    await kiln?.close();
  });

  it('gives its container its deadline plus the margin as its own end, and moves it on Extend', async () => {
    const margin = KEEP_MARGIN_MS / 1000;
    const first = await until(async () => { try { return secondsLeft(containerId); } catch { return undefined; } }, 'the keep-until file', 10_000);
    expect(first).toBeGreaterThan(KEEP_MS / 1000 + margin - 15);
    expect(first).toBeLessThanOrEqual(KEEP_MS / 1000 + margin + 1);
    await kiln.engine.extendDebug(jobId, 60);
    const after = await until(async () => { const s = secondsLeft(containerId); return s > first + 3000 ? s : undefined; }, 'the extended keep-until', 10_000);
    expect(after).toBeLessThanOrEqual(KEEP_MS / 1000 + 3600 + margin + 1);
  });
});
