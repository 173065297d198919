import { afterEach, describe, expect, it } from 'vitest';
import type { JobResult, JobRunRequest, ReapCounts } from '../../core/job-contract.js';
import { EnginePool, normaliseImage, type EngineExecutor, type PoolEngine } from './engine-pool.js';

/** An engine executor whose answers the test sets; pure logic, no Docker. */
class Scripted implements EngineExecutor {
  up = true;
  held: string[] = [];
  reaped = 0;
  async ping(): Promise<{ ok: boolean; message?: string }> {
    return this.up ? { ok: true } : { ok: false, message: 'Docker engine not reachable: connect ECONNREFUSED' };
  }
  async version(): Promise<string> { return '20.10.24 (API 1.41, linux/amd64)'; }
  async images(): Promise<string[]> { return this.held; }
  async reapOrphans(): Promise<ReapCounts> {
    this.reaped++;
    return { containers: 1, networks: 0, volumes: 0 };
  }
  runJob(request: JobRunRequest): Promise<JobResult> {
    return Promise.resolve({ status: 'passed', steps: [], logOffset: request.logOffset ?? 0 });
  }
}

function engine(name: string, extra: Partial<Omit<PoolEngine, 'executor'>> = {}): PoolEngine & { executor: Scripted } {
  const executor = new Scripted();
  return { name, address: `tcp://${name}:2376`, source: 'kiln.config.yml', limit: 2, labels: [], executor, ...extra };
}

const pools: EnginePool[] = [];
afterEach(() => { for (const p of pools.splice(0)) p.stop(); });

async function upPool(engines: PoolEngine[], events: string[] = []): Promise<EnginePool> {
  const pool = new EnginePool(engines, {
    pingIntervalMs: 60_000,
    onDown: (name, jobs, reason) => events.push(`down ${name} [${jobs.join(',')}] ${reason}`),
    onUp: (name) => events.push(`up ${name}`),
    onError: (m) => events.push(`error ${m}`),
  });
  pools.push(pool);
  pool.start();
  await waitUntil(() => pool.statuses().every((s) => s.state === 'up'));
  return pool;
}

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ok()) throw new Error('condition never held');
}

describe('placing a job', () => {
  it('takes no job before an engine first answers', () => {
    const pool = new EnginePool([engine('a')], { onDown: () => undefined, onUp: () => undefined, onError: () => undefined });
    expect(pool.canTake(undefined)).toBe(false);
    expect(pool.reserve({ jobId: 'j', repo: 'r' })).toBeUndefined();
  });

  it('goes to an engine with every label the job asks for, within each engine\'s limit', async () => {
    const pool = await upPool([engine('plain'), engine('gpu', { labels: ['gpu', 'arch=amd64'], limit: 1 })]);
    expect(pool.reserve({ jobId: 'j1', repo: 'r', runsOn: ['gpu'] })).toBe('gpu');
    expect(pool.canTake(['gpu'])).toBe(false);
    expect(pool.reserve({ jobId: 'j2', repo: 'r', runsOn: ['gpu'] })).toBeUndefined();
    expect(pool.reserve({ jobId: 'j3', repo: 'r', runsOn: ['gpu', 'arch=arm64'] })).toBeUndefined();
    pool.release('j1');
    expect(pool.reserve({ jobId: 'j2', repo: 'r', runsOn: ['arch=amd64', 'gpu'] })).toBe('gpu');
  });

  it.each([
    ['the engine that ran the same repository last', { last: 'b', image: undefined }, 'b'],
    ['an engine that holds the image', { last: undefined, image: 'kiln-test/busybox:1' }, 'c'],
    ['the most free slots otherwise', { last: undefined, image: 'other:1' }, 'a'],
  ])('prefers %s', async (_what, o, expected) => {
    const [a, b, c] = [engine('a', { limit: 3 }), engine('b'), engine('c')];
    c.executor.held = ['kiln-test/busybox:1'];
    const pool = await upPool([a, b, c]);
    if (o.last) {
      expect(pool.reserve({ jobId: 'earlier', repo: 'acme/web', engine: o.last })).toBe(o.last);
      pool.release('earlier');
    }
    expect(pool.reserve({ jobId: 'j', repo: 'acme/web', image: o.image })).toBe(expected);
  });

  it('reads busybox and docker.io/library/busybox:latest as one image', () => {
    expect(normaliseImage('busybox')).toBe('busybox:latest');
    expect(normaliseImage('docker.io/library/busybox:latest')).toBe('busybox:latest');
    expect(normaliseImage('registry:5000/team/app')).toBe('registry:5000/team/app:latest');
  });
});

describe('when an engine stops answering', () => {
  it('marks it down at the next ping, hands back its running jobs, and reaps it before it takes jobs again', async () => {
    const events: string[] = [];
    const [a, b] = [engine('a'), engine('b')];
    const pool = await upPool([a, b], events);
    expect(pool.reserve({ jobId: 'j1', repo: 'r' })).toBe('a');
    a.executor.up = false;
    (pool as unknown as { pingAll(): void }).pingAll();
    await waitUntil(() => pool.statuses()[0].state === 'down');
    expect(events).toContain('down a [j1] Docker engine not reachable: connect ECONNREFUSED');
    expect(pool.statuses()[0]).toMatchObject({ running: [], lastError: 'Docker engine not reachable: connect ECONNREFUSED' });
    expect(pool.reserve({ jobId: 'j2', repo: 'x' })).toBe('b');
    const reapedBefore = a.executor.reaped;
    a.executor.up = true;
    (pool as unknown as { pingAll(): void }).pingAll();
    await waitUntil(() => pool.statuses()[0].state === 'up');
    expect(a.executor.reaped).toBe(reapedBefore + 1);
    expect(events.at(-1)).toBe('up a');
  });

  it('treats an engine a job found gone as down at once', async () => {
    const events: string[] = [];
    const pool = await upPool([engine('a'), engine('b')], events);
    pool.reserve({ jobId: 'j1', repo: 'r', engine: 'a' });
    pool.reserve({ jobId: 'j2', repo: 'r', engine: 'a' });
    pool.release('j1');
    pool.suspect('a', 'the job container was stopped under the job');
    expect(pool.statuses()[0].state).toBe('down');
    expect(events).toContain('down a [j2] the job container was stopped under the job');
    expect(pool.canTake(undefined)).toBe(true);
    expect(pool.reserve({ jobId: 'j3', repo: 'r' })).toBe('b');
  });
});

describe('when the configured engines change', () => {
  const spec = (e: PoolEngine & { executor: Scripted }, connection: string) => ({ ...e, connection, connect: () => e.executor });

  it('keeps an unchanged engine with its running jobs and takes its new limit and labels at once', async () => {
    const a = engine('a', { connection: 'tcp://a' });
    const pool = await upPool([a]);
    expect(pool.reserve({ jobId: 'j1', repo: 'r' })).toBe('a');
    pool.reconfigure([spec(engine('a', { executor: a.executor, limit: 5, labels: ['gpu'] } as Partial<PoolEngine>), 'tcp://a')]);
    expect(pool.statuses()[0]).toMatchObject({ name: 'a', state: 'up', limit: 5, labels: ['gpu'], running: ['j1'] });
    expect(pool.reserve({ jobId: 'j2', repo: 'r', runsOn: ['gpu'] })).toBe('a');
  });

  it('pings an added engine at once and places jobs on it once it answers', async () => {
    const events: string[] = [];
    const a = engine('a', { connection: 'tcp://a' });
    const pool = await upPool([a], events);
    const b = engine('b', { labels: ['big'] });
    pool.reconfigure([spec(a, 'tcp://a'), spec(b, 'tcp://b')]);
    expect(pool.canTake(['big'])).toBe(false);
    await waitUntil(() => pool.statuses().every((s) => s.state === 'up'));
    expect(events).toContain('up b');
    expect(pool.reserve({ jobId: 'j', repo: 'r', runsOn: ['big'] })).toBe('b');
  });

  it('gives a removed engine no new job, lets its running job finish on it, and closes it when that job ends', async () => {
    const a = engine('a', { connection: 'tcp://a' });
    const b = engine('b', { connection: 'tcp://b' });
    let closed = 0;
    b.executor.close = () => { closed++; };
    const pool = await upPool([a, b]);
    expect(pool.reserve({ jobId: 'on-b', repo: 'r', engine: 'b' } as Parameters<EnginePool['reserve']>[0])).toBe('b');
    pool.reconfigure([spec(a, 'tcp://a')]);
    expect(pool.names).toEqual(['a']);
    expect(pool.reserve({ jobId: 'next', repo: 'r', engine: 'b' } as Parameters<EnginePool['reserve']>[0])).toBeUndefined();
    expect(pool.engineOf('on-b')).toBe('b');
    expect((await pool.runJob({ jobId: 'on-b', logOffset: 0 } as JobRunRequest)).status).toBe('passed');
    expect(closed).toBe(0);
    pool.release('on-b');
    expect(closed).toBe(1);
  });

  it('replaces an engine whose connection changed: new jobs go to the new executor', async () => {
    const old = engine('a', { connection: 'tcp://a old-ca' });
    const pool = await upPool([old]);
    const fresh = engine('a');
    pool.reconfigure([spec(fresh, 'tcp://a new-ca')]);
    expect(pool.statuses()[0].state).toBe('starting');
    await waitUntil(() => pool.statuses()[0].state === 'up');
    expect(pool.reserve({ jobId: 'j', repo: 'r' })).toBe('a');
    expect(pool.executorOf('a')).toBe(fresh.executor);
  });

  it('reaches a job kept on a replaced engine through the old connection, and the new engine through the name', async () => {
    const old = engine('a', { connection: 'tcp://a:2376' });
    const pool = await upPool([old]);
    pool.hold('kept', 'a');
    const fresh = engine('a', { address: 'tcp://a2:2376' });
    pool.reconfigure([spec(fresh, 'tcp://a2:2376')]);
    await waitUntil(() => pool.statuses()[0].state === 'up');
    expect(pool.executorOfJob('kept')).toBe(old.executor);
    expect(pool.executorOf('a')).toBe(fresh.executor);
    expect(pool.executorOfJob('unknown')).toBeUndefined();
    // The kept job counts on the old engine, not against the new one's limit.
    expect(pool.reserve({ jobId: 'j1', repo: 'r' })).toBe('a');
    expect(pool.reserve({ jobId: 'j2', repo: 'r' })).toBe('a');
    expect(pool.statuses()[0].running).toEqual(['j1', 'j2']);
  });

  it('ignores a lost job of a replaced engine: the new engine of the same name stays up with its jobs', async () => {
    const events: string[] = [];
    const old = engine('a', { connection: 'tcp://a:2376' });
    const pool = await upPool([old], events);
    pool.reserve({ jobId: 'on-old', repo: 'r' });
    const fresh = engine('a', { address: 'tcp://a2:2376' });
    pool.reconfigure([spec(fresh, 'tcp://a2:2376')]);
    await waitUntil(() => pool.statuses()[0].state === 'up');
    expect(pool.reserve({ jobId: 'on-new', repo: 'r' })).toBe('a');
    pool.suspect('a', 'the Docker engine went away', 'on-old');
    pool.release('on-old');
    expect(pool.statuses()[0]).toMatchObject({ state: 'up', running: ['on-new'] });
    expect(events.filter((e) => e.startsWith('down'))).toEqual([]);
  });

  it('marks down the engine a lost job ran on, handing back its other jobs but not the reporting one', async () => {
    const events: string[] = [];
    const pool = await upPool([engine('a'), engine('b')], events);
    pool.reserve({ jobId: 'j1', repo: 'r', engine: 'b' });
    pool.reserve({ jobId: 'j2', repo: 'r', engine: 'b' });
    pool.suspect('b', 'the job container was stopped under the job', 'j1');
    expect(pool.statuses()[1].state).toBe('down');
    expect(events).toContain('down b [j2] the job container was stopped under the job');
  });

  it('pings a retiring engine: when it stops answering its running jobs are handed back and it is closed', async () => {
    const events: string[] = [];
    const a = engine('a', { connection: 'tcp://a' });
    const b = engine('b', { connection: 'tcp://b' });
    let closed = 0;
    b.executor.close = () => { closed++; };
    const pool = await upPool([a, b], events);
    pool.reserve({ jobId: 'on-b', repo: 'r', engine: 'b' });
    b.executor.up = false;
    pool.reconfigure([spec(a, 'tcp://a')]);
    await waitUntil(() => events.some((e) => e.startsWith('down b')));
    expect(events).toContain('down b [on-b] Docker engine not reachable: connect ECONNREFUSED');
    expect(closed).toBe(1);
    expect(pool.engineOf('on-b')).toBeUndefined();
  });

  it('lists a removed engine as retiring with its running jobs until the last ends, then drops it', async () => {
    const a = engine('a', { connection: 'tcp://a' });
    const b = engine('b', { connection: 'tcp://b' });
    const pool = await upPool([a, b]);
    pool.reserve({ jobId: 'j1', repo: 'r', engine: 'b' });
    pool.reserve({ jobId: 'j2', repo: 'r', engine: 'b' });
    pool.reconfigure([spec(a, 'tcp://a')]);
    expect(pool.statuses().map((s) => [s.name, s.retiring, s.running])).toEqual([['a', undefined, []], ['b', 'removed', ['j1', 'j2']]]);
    pool.release('j1');
    expect(pool.statuses()[1]).toMatchObject({ name: 'b', retiring: 'removed', running: ['j2'] });
    pool.release('j2');
    expect(pool.statuses().map((s) => s.name)).toEqual(['a']);
  });

  it('lists the old connection of a replaced engine beside the new one, marked replaced', async () => {
    const old = engine('a', { connection: 'tcp://a:2376' });
    const pool = await upPool([old]);
    pool.reserve({ jobId: 'on-old', repo: 'r' });
    pool.reconfigure([spec(engine('a', { address: 'tcp://a2:2376' }), 'tcp://a2:2376')]);
    expect(pool.statuses().map((s) => [s.address, s.retiring ?? 'configured', s.running])).toEqual([['tcp://a2:2376', 'configured', []], ['tcp://a:2376', 'replaced', ['on-old']]]);
  });

  it('renames an engine in place: its connection, running jobs and repository preference follow the new name', async () => {
    const a = engine('a', { connection: 'tcp://a' });
    const b = engine('b', { connection: 'tcp://b' });
    let closed = 0;
    a.executor.close = () => { closed++; };
    const renamedTo: string[] = [];
    a.executor.rename = (name) => { renamedTo.push(name); };
    const pool = await upPool([a, b]);
    expect(pool.reserve({ jobId: 'j1', repo: 'acme/web', engine: 'a' })).toBe('a');
    pool.rename('a', 'fast');
    pool.reconfigure([spec(engine('fast', { executor: a.executor } as Partial<PoolEngine>), 'tcp://a'), spec(b, 'tcp://b')]);
    expect(closed).toBe(0);
    expect(renamedTo).toEqual(['fast']);
    expect(pool.statuses()).toHaveLength(2);
    expect(pool.statuses()[0]).toMatchObject({ name: 'fast', state: 'up', running: ['j1'] });
    expect(pool.engineOf('j1')).toBe('fast');
    expect(pool.executorOf('fast')).toBe(a.executor);
    // It ran acme/web last: under its new name it is still preferred for that repository.
    expect(pool.reserve({ jobId: 'j2', repo: 'acme/web' })).toBe('fast');
  });
});
