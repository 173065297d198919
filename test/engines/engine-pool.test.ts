/**
 * Several real Docker engines as one worker pool: two extra dockerds of the test's own (each in a
 * network namespace of its own), 'near' reached over its Unix socket and 'far' over TCP with TLS.
 * The shared engine on /var/run/docker.sock is not used here, so stopping an engine hurts no one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import type { EngineConfig, KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine } from '../../src-main/engine/engine.js';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { createRepo, repoConfig, TERMINAL, type TestRepo } from '../engine/engine-fixture.js';
import { releaseJobs, untilReleased } from '../helpers/release-jobs.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

let near: ExtraEngine;
let far: ExtraEngine;
let root: string;

beforeAll(async () => {
  [near, far] = await Promise.all([startExtraEngine('near'), startExtraEngine('far')]);
  root = mkdtempSync(join(tmpdir(), 'kiln-pool-'));
}, 180_000);
afterAll(async () => {
  await Promise.all([near?.close(), far?.close()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Harness {
  engine: Engine;
  repo: TestRepo;
  push(pipeline: string): Promise<string>;
  waitForRun(runId: string, timeoutMs?: number): Promise<RunDetail>;
  waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

let harnesses = 0;
async function start(engines: EngineConfig[], jobs = 8): Promise<Harness> {
  const dir = join(root, `h${++harnesses}`);
  const repo = createRepo(dir, 'acme/web');
  const config: KilnConfig = { ...defaultConfig(), concurrency: { jobs, perRepository: jobs }, repositories: [repoConfig(repo)], engines };
  const engine = await Engine.start({ config, dataDir: join(dir, 'data'), engineHealth: { pingIntervalMs: 500, pingTimeoutMs: 1500 } });
  const waitFor = async <T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 90_000, what = 'condition'): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    engine, repo, waitFor,
    async push(pipeline) {
      const sha = repo.commit(pipeline);
      const outcome = await engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
      expect(outcome.runIds, outcome.reason).toHaveLength(1);
      return outcome.runIds[0];
    },
    waitForRun: (runId, timeoutMs = 90_000) => waitFor(async () => {
      const run = await engine.getRun(runId);
      return TERMINAL.includes(run.status) ? run : undefined;
    }, timeoutMs, `run ${runId} to end`),
    close: () => engine.stop(),
  };
}

const nearConfig = (extra: Partial<EngineConfig> = {}): EngineConfig => ({ name: 'near', address: `unix://${near.socket}`, limit: 2, labels: [], ...extra });
const farConfig = (extra: Partial<EngineConfig> = {}): EngineConfig => ({ name: 'far', address: far.address, tls: far.tls, limit: 2, labels: [], ...extra });

function pipeline(jobs: Record<string, { run: string; runsOn?: string[] }>): string {
  const body = Object.entries(jobs).map(([key, j]) => `  ${key}:
    image: ${TEST_IMAGE}
${j.runsOn ? `    runs-on: [${j.runsOn.join(', ')}]\n` : ''}    steps: [{ name: work, run: '${j.run}' }]`).join('\n');
  return `name: pool\non: { push: { branches: ['*'] } }\njobs:\n${body}\n`;
}

/** This Kiln's labelled containers, networks and volumes on an engine. */
async function leftovers(docker: Dockerode, instanceId: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`kiln.instance=${instanceId}`] });
  const [containers, networks, volumes] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters }), docker.listVolumes({ filters })]);
  return [...containers.map((c) => `container ${c.Names[0]}`), ...networks.map((n) => `network ${n.Name}`), ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`)];
}

/** Nothing of this Kiln on the engine within 15 s (what is left is named when it is not). */
async function expectNoLeftovers(docker: Dockerode, instanceId: string): Promise<void> {
  let left: string[] = [];
  for (let i = 0; i < 150; i++) {
    left = await leftovers(docker, instanceId);
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(left).toEqual([]);
}

describe('two engines as one pool', () => {
  it('spreads independent jobs over both engines, each within its limit, and records the engine per job', async () => {
    const h = await start([nearConfig(), farConfig()]);
    try {
      const jobs = Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, { run: 'sleep 2; echo done' }]));
      const run = await h.waitForRun(await h.push(pipeline(jobs)));
      expect(run.status).toBe('passed');
      const byEngine = run.jobs.map((j) => j.engine).sort();
      expect(byEngine).toEqual(['far', 'far', 'near', 'near']);
      const health = await h.engine.health();
      expect(health.engines?.map((e) => [e.name, e.state])).toEqual([['near', 'up'], ['far', 'up']]);
      expect(health.engines?.[1]).toMatchObject({ address: far.address, source: 'kiln.config.yml', limit: 2, running: [] });
      expect(health.engines?.[1].version).toMatch(/^\d+\.\d+/);
    } finally {
      await h.close();
    }
  });

  it('routes jobs by runs-on labels, and fails at plan time a job no engine can take, naming the labels', async () => {
    const h = await start([nearConfig({ labels: ['gpu'] }), farConfig({ labels: ['arch=amd64'] })]);
    try {
      const run = await h.waitForRun(await h.push(pipeline({ g1: { run: 'true', runsOn: ['gpu'] }, g2: { run: 'true', runsOn: ['gpu'] }, g3: { run: 'true', runsOn: ['gpu'] }, x: { run: 'true', runsOn: ['arch=amd64'] } })));
      expect(run.status).toBe('passed');
      expect(Object.fromEntries(run.jobs.map((j) => [j.name, j.engine]))).toEqual({ g1: 'near', g2: 'near', g3: 'near', x: 'far' });

      const bad = await h.waitForRun(await h.push(pipeline({ train: { run: 'true', runsOn: ['tpu'] } })));
      expect(bad.status).toBe('failed');
      expect(bad.error).toMatch(/^\.kiln\.yml:\d+:\d+: job 'train' runs-on \[tpu\], which no engine has \(engines: near \[gpu\], far \[arch=amd64\]\)/);
    } finally {
      await h.close();
    }
  });

  it('shows an engine with a bad address as down and keeps running jobs on the others', async () => {
    const h = await start([{ name: 'nowhere', address: 'tcp://127.0.0.1:9', limit: 2, labels: [] }, farConfig()]);
    try {
      await h.waitFor(async () => (await h.engine.health()).engines?.find((e) => e.name === 'nowhere')?.state === 'down', 10_000, 'the bad engine to be down');
      const run = await h.waitForRun(await h.push(pipeline({ a: { run: 'true' }, b: { run: 'true' }, c: { run: 'true' } })));
      expect(run.status).toBe('passed');
      expect(run.jobs.map((j) => j.engine)).toEqual(['far', 'far', 'far']);
      const health = await h.engine.health();
      expect(health.engines?.[0]).toMatchObject({ name: 'nowhere', state: 'down', lastError: 'Docker engine not reachable: connect ECONNREFUSED 127.0.0.1:9' });
      expect(health.docker.ok).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('when an engine goes away mid-job', () => {
  it('re-queues the job of an engine whose link is cut, passes it on the other engine, and reaps the leftovers once the link is back', async () => {
    // far only first, so the job starts there.
    const h = await start([farConfig({ labels: ['first'] }), nearConfig()]);
    try {
      // It runs until released: the first attempt is still going when the link is cut, however slow the machine.
      const runId = await h.push(pipeline({ long: { run: `echo started; ${untilReleased()}; echo finished` } }));
      await h.waitFor(async () => (await h.engine.getRun(runId)).jobs[0].engine === 'far' && (await leftovers(far.docker, h.engine.instanceId)).length > 0, 60_000, 'the job to run on far');
      const cutAt = Date.now();
      far.cut();
      try {
        await h.waitFor(async () => (await h.engine.health()).engines?.find((e) => e.name === 'far')?.state === 'down', 10_000, 'far to be down');
        expect(Date.now() - cutAt).toBeLessThan(10_000);
        await h.waitFor(async () => (await h.engine.getRun(runId)).jobs[0].engine === 'near' && await releaseJobs(near.docker, h.engine.instanceId) > 0, 60_000, 'the second attempt to run on near');
        const run = await h.waitForRun(runId);
        expect(run.status).toBe('passed');
        expect(run.jobs[0]).toMatchObject({ engine: 'near', attempt: 2 });
        const log = (await h.engine.getLog(run.jobs[0].id, 0, 1000)).lines.map((l) => l.text);
        expect(log).toContainEqual(expect.stringMatching(/^\[kiln\] attempt 1: the Docker engine 'far' stopped answering \(.*\); the job is queued again \(attempt 2 of 3\)\.$/));
        expect(log).toContain('finished');
      } finally {
        far.heal();
      }
      // Back: its leftovers (the first attempt's container) are reaped before it takes work. The
      // first attempt's own teardown may still be finishing over the healed link: allow it a moment.
      await h.waitFor(async () => (await h.engine.health()).engines?.find((e) => e.name === 'far')?.state === 'up', 30_000, 'far to be up again');
      await expectNoLeftovers(far.docker, h.engine.instanceId);
      await expectNoLeftovers(near.docker, h.engine.instanceId);
    } finally {
      await h.close();
    }
  });

  it('keeps nothing the lost attempt streams once the link is back: no log line, annotation or summary of it after the job was queued again', async () => {
    const h = await start([farConfig({ labels: ['first'] }), nearConfig()]);
    try {
      // Each attempt tags what it writes with its container's hostname.
      // Each ticks until released: the first attempt goes on ticking behind the cut until it is reaped.
      const script = `h=$(hostname); echo "start $h"; echo "summary of $h" >> $KILN_SUMMARY; ${untilReleased({ body: 'echo "tick $h $n"; echo "::warning::tick $h $n"', everyS: 0.3 })}; echo "finished $h"`;
      const runId = await h.push(pipeline({ long: { run: script } }));
      const jobId = (await h.engine.getRun(runId)).jobs[0].id;
      const lines = async (): Promise<{ seq: number; text: string }[]> => (await h.engine.getLog(jobId, 0, 5000)).lines;
      const first = await h.waitFor(async () => (await h.engine.getRun(runId)).jobs[0].engine === 'far'
        && (await lines()).find((l) => l.text.startsWith('tick '))?.text.split(' ')[1], 60_000, 'the step to tick on far');
      far.cut();
      try {
        // The second attempt runs on near, while the first one's container goes on ticking behind the cut.
        await h.waitFor(async () => (await lines()).some((l) => l.text.startsWith('tick ') && l.text.split(' ')[1] !== first), 60_000, 'the second attempt to tick');
      } finally {
        far.heal();
      }
      // The first attempt's teardown over the healed link is over once its container is gone; the
      // second attempt is released only then, so whatever the first streams after the heal arrives
      // while the job is still running.
      await h.waitFor(async () => (await h.engine.health()).engines?.find((e) => e.name === 'far')?.state === 'up', 30_000, 'far to be up again');
      await expectNoLeftovers(far.docker, h.engine.instanceId);
      expect(await releaseJobs(near.docker, h.engine.instanceId)).toBe(1);
      const run = await h.waitForRun(runId);
      expect(run.status).toBe('passed');
      expect(run.jobs[0]).toMatchObject({ engine: 'near', attempt: 2 });
      const log = await lines();
      const requeued = log.find((l) => /^\[kiln\] attempt 1: the Docker engine 'far' stopped answering/.test(l.text));
      expect(requeued, log.map((l) => l.text).join('\n')).toBeDefined();
      const stale = log.filter((l) => l.seq > requeued!.seq && l.text.includes(first));
      expect(stale.map((l) => l.text)).toEqual([]);
      const second = log.find((l) => l.seq > requeued!.seq && l.text.startsWith('start '))!.text.split(' ')[1];
      expect(log.map((l) => l.text)).toContain(`finished ${second}`);
      const records = await h.engine.getRunRecords(runId);
      expect(records.annotations.filter((a) => (a.seq ?? Infinity) > requeued!.seq && a.message.includes(first)).map((a) => a.message)).toEqual([]);
      expect(records.summaries.map((s) => s.markdown.trim())).toEqual([`summary of ${second}`]);
    } finally {
      await h.close();
    }
  });

  it('treats a stopped local engine as an infrastructure failure, not exit code 137, and passes the job on the other engine', async () => {
    const h = await start([nearConfig(), farConfig()], 1);
    try {
      const runId = await h.push(pipeline({ long: { run: `echo started; ${untilReleased()}; echo finished` } }));
      const first = await h.waitFor(async () => {
        const job = (await h.engine.getRun(runId)).jobs[0];
        return job.steps[0]?.status === 'running' && job.engine ? job.engine : undefined;
      }, 60_000, 'the step to run');
      const victim = first === 'near' ? near : far;
      const other = first === 'near' ? far : near;
      await victim.kill();
      let restarted: Promise<void> | undefined;
      try {
        // Once the second attempt runs on the other engine, the victim starts again while it runs.
        await h.waitFor(async () => {
          const job = (await h.engine.getRun(runId)).jobs[0];
          return job.attempt === 2 && job.engine === other.name && job.steps[0]?.status === 'running';
        }, 60_000, 'the second attempt to run on the other engine');
        restarted = victim.start();
        expect(await releaseJobs(other.docker, h.engine.instanceId)).toBe(1);
        const run = await h.waitForRun(runId);
        expect(run.status).toBe('passed');
        expect(run.jobs[0].engine).toBe(other.name);
        expect(run.jobs[0].attempt).toBe(2);
        const log = (await h.engine.getLog(run.jobs[0].id, 0, 1000)).lines.map((l) => l.text);
        expect(log.join('\n')).not.toMatch(/exit code 137/);
        expect(log).toContainEqual(expect.stringMatching(new RegExp(`^\\[kiln\\] attempt 1: .*the Docker engine '${first}'.*; the job is queued again \\(attempt 2 of 3\\)\\.$`)));
      } finally {
        await (restarted ?? victim.start());
      }
      await h.waitFor(async () => (await h.engine.health()).engines?.every((e) => e.state === 'up'), 30_000, 'both engines up again');
      await expectNoLeftovers(victim.docker, h.engine.instanceId);
    } finally {
      await h.close();
    }
  });

  it('with one engine: re-queues the job when that engine stops mid-step, and runs it there again once it is back', async () => {
    const h = await start([nearConfig()], 1);
    try {
      const runId = await h.push(pipeline({ long: { run: `echo started; ${untilReleased()}; echo finished` } }));
      await h.waitFor(async () => (await h.engine.getRun(runId)).jobs[0].steps[0]?.status === 'running', 60_000, 'the step to run');
      await near.kill();
      await h.waitFor(async () => (await h.engine.getRun(runId)).jobs[0].status === 'queued', 15_000, 'the job to be queued again');
      expect((await h.engine.health()).engines?.[0]).toMatchObject({ name: 'near', state: 'down' });
      await near.start();
      await h.waitFor(async () => (await h.engine.getRun(runId)).jobs[0].attempt === 2 && await releaseJobs(near.docker, h.engine.instanceId) > 0, 60_000, 'the second attempt to run');
      const run = await h.waitForRun(runId);
      expect(run.status).toBe('passed');
      expect(run.jobs[0]).toMatchObject({ engine: 'near', attempt: 2 });
      const log = (await h.engine.getLog(run.jobs[0].id, 0, 1000)).lines.map((l) => l.text);
      expect(log.join('\n')).not.toMatch(/exit code 137/);
      expect(log).toContain('finished');
      await expectNoLeftovers(near.docker, h.engine.instanceId);
    } finally {
      await h.close();
    }
  });
});
