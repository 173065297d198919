import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerExecutor } from '../../src-main/executor/docker-executor.js';
import { reapOrphans } from '../../src-main/executor/reaper.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { docker, harness, job, leftovers, NONE, run, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

/** A unix-socket proxy in front of the Docker socket whose connections the test can cut. */
class EngineProxy {
  readonly path: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(dir: string) {
    this.path = join(dir, 'docker-proxy.sock');
    this.server = createServer((client) => {
      const upstream = connect('/var/run/docker.sock');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  /** Cuts every open connection (new ones still work). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** The engine becomes unreachable: no new connections, open ones cut. */
  async shutDown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.cut();
    });
    rmSync(this.path, { force: true });
  }
}

let h: Harness;
let proxy: EngineProxy;
beforeEach(async () => {
  h = harness();
  proxy = new EngineProxy(h.dir);
  await proxy.listen();
  h.executor = new DockerExecutor({ instanceId: h.instanceId, mirrorsDir: join(h.dir, 'mirrors'), killGraceMs: 1000, docker: new Dockerode({ socketPath: proxy.path }) });
});
afterEach(async () => {
  await proxy.shutDown().catch(() => undefined);
  await h.cleanup();
});

describe('when the engine connection breaks mid-job', () => {
  it('fails the job as an infrastructure error and still removes its containers', async () => {
    const r = await run(h, job([step('echo started; sleep 30', { name: 'long' }), step('echo never')]), {
      onStep: (s) => {
        if (s.status === 'running') setTimeout(() => proxy.cut(), 600);
      },
    });
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toMatch(/lost the connection to the Docker engine/);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('leaves labelled leftovers when the engine stays unreachable, and the reaper removes them', async () => {
    const r = await run(
      h,
      job([step('sleep 30')], { services: [{ key: 'side', image: TEST_IMAGE, env: {}, ports: [], command: ['sh', '-c', 'while :; do sleep 1; done'] }] }),
      {
        onStep: (s) => {
          if (s.status === 'running') setTimeout(() => void proxy.shutDown(), 600);
        },
      },
    );
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.all()).toContain('the reaper will remove it');
    expect(await leftovers(h.instanceId)).toEqual({ containers: 2, networks: 1, volumes: 0 });
    // As after a restart: a fresh executor on the real socket, with no live jobs.
    const restarted = new DockerExecutor({ instanceId: h.instanceId, mirrorsDir: join(h.dir, 'mirrors') });
    expect(await restarted.reapOrphans(() => false)).toEqual({ containers: 2, networks: 1, volumes: 0 });
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});

describe('the reaper', () => {
  const HOUR = 60 * 60 * 1000;
  const labels = (instance: string, run: string, createdMs: number) => ({
    'kiln.instance': instance,
    'kiln.run': run,
    'kiln.job': 'build',
    'kiln.role': 'job',
    'kiln.created': String(createdMs),
  });

  it('removes its own resources of jobs that are not live, and only old ones of other instances', async () => {
    const own = h.instanceId;
    const foreign = `${own}-other`;
    // This pass runs 5 minutes ahead: to it the old container is just over 24 h old, while to the
    // engines of test files running beside this one (their start-up reap lists every kiln container)
    // it is still under 24 h — they leave it to this pass, which then counts it.
    const now = Date.now() + 5 * 60_000;
    const make = async (instance: string, runId: string, created: number) => {
      await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: labels(instance, runId, created) });
    };
    await make(own, 'live-run', now);
    await make(own, 'dead-run', now);
    await make(foreign, 'young-run', now - HOUR);
    await make(foreign, 'old-run', now - 24 * HOUR - 60_000);
    await docker.createNetwork({ Name: `kiln-test-${randomBytes(4).toString('hex')}`, Labels: labels(own, 'dead-run', now) });
    await docker.createVolume({ Name: `kiln-test-${randomBytes(4).toString('hex')}`, Labels: labels(own, 'dead-run', now) });
    await docker.createVolume({ Name: `kiln-test-${randomBytes(4).toString('hex')}`, Labels: labels(own, 'live-run', now) });

    const counts = await reapOrphans(docker, { instanceId: own, isJobLive: (runId) => runId === 'live-run', now });
    expect(counts).toEqual({ containers: 1 + 1, networks: 1, volumes: 1 });
    expect(await leftovers(own)).toEqual({ containers: 1, networks: 0, volumes: 1 });
    expect(await leftovers(foreign)).toEqual({ containers: 1, networks: 0, volumes: 0 });

    // A second pass is a no-op; then nothing is live and our own instance is cleaned.
    expect(await reapOrphans(docker, { instanceId: own, isJobLive: (runId) => runId === 'live-run' })).toEqual(NONE);
    await reapOrphans(docker, { instanceId: own, isJobLive: () => false });
    await reapOrphans(docker, { instanceId: foreign, isJobLive: () => false });
    expect(await leftovers(own)).toEqual(NONE);
    expect(await leftovers(foreign)).toEqual(NONE);
  });
});

describe('the scheduled reaper', () => {
  it('reaps at start and again periodically, until stopped', async () => {
    const { scheduleReaper } = await import('../../src-main/executor/reaper.js');
    const reaper = new DockerExecutor({ instanceId: h.instanceId, mirrorsDir: join(h.dir, 'mirrors') });
    const passes: number[] = [];
    await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { 'kiln.instance': h.instanceId, 'kiln.run': 'r1', 'kiln.job': 'j' } });
    const stop = scheduleReaper(() => reaper.reapOrphans(() => false), { intervalMs: 300, onResult: (c) => passes.push(c.containers) });
    await new Promise((r) => setTimeout(r, 500));
    // An orphan appearing later is removed by a later pass.
    await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { 'kiln.instance': h.instanceId, 'kiln.run': 'r2', 'kiln.job': 'j' } });
    // Wait for the pass that reports it (the container can vanish from Docker's list a moment before
    // the pass that removed it returns its counts).
    const removed = (): number => passes.reduce((a, b) => a + b, 0);
    const deadline = Date.now() + 10_000;
    while (removed() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    stop();
    expect(passes[0]).toBe(1);
    expect(passes.reduce((a, b) => a + b, 0)).toBe(2);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});
