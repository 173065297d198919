/**
 * An adopted debug job whose engine Settings removed: its slot is the last one of a retiring engine,
 * whose Docker client closes when that slot is freed. Ending the job must still remove its container
 * — found through the engine that holds the job — before the slot goes. Real SQLite, real Docker.
 */
import Dockerode from 'dockerode';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { DebugService } from '../../src-main/engine/debug-service.js';
import { EnginePool, type EngineExecutor } from '../../src-main/executor/engines/engine-pool.js';
import { LABEL } from '../../src-main/executor/containers.js';
import { DebugStore } from '../../src-main/storage/debug-store.js';
import { queueFixture, type QueueFixture } from '../helpers/queue-fixture.js';
import { TEST_IMAGE, ensureTestImages } from '../helpers/test-image.js';

const INSTANCE = `kiln-adopted-removed-${process.pid}`;

/** An engine over the local Docker daemon whose client is gone once closed, as a real engine's is. */
function localEngine(): EngineExecutor & { docker: Dockerode | undefined } {
  return {
    docker: new Dockerode(),
    async ping() { return { ok: true }; },
    async reapOrphans() { return { containers: 0, networks: 0, volumes: 0 }; },
    runJob: () => Promise.reject(new Error('no job runs here')),
    close() { this.docker = undefined; },
  };
}

let q: QueueFixture | undefined;
let pool: EnginePool | undefined;
beforeAll(() => ensureTestImages());
afterEach(async () => {
  pool?.stop();
  q?.close();
  const docker = new Dockerode();
  for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.instance}=${INSTANCE}`] }) })) {
    await docker.getContainer(c.Id).remove({ force: true });
  }
});

it('removes the kept container of an adopted job whose engine was removed in Settings when debugging ends', async () => {
  q = queueFixture();
  const { runId, jobs } = q.addRun({});
  const claim = q.scheduler.claim('w', 1);
  if (!claim) throw new Error('the job was not claimed');
  const docker = new Dockerode();
  const container = await docker.createContainer({
    Image: TEST_IMAGE, Cmd: ['sleep', '60'], Labels: { [LABEL.instance]: INSTANCE, [LABEL.run]: runId, [LABEL.job]: jobs.build },
  });
  await container.start();
  const store = new DebugStore(q.db);
  store.keep({
    job_id: jobs.build, run_id: runId, container_id: container.id, job_key: jobs.build, step_index: 0, step_name: 'run',
    kept_at: q.now.t, deadline: q.now.t + 60_000, claim_token: claim.token, attempt: claim.attempt, error: null,
  });
  const [a, b] = [localEngine(), localEngine()];
  const p = new EnginePool([{ name: 'a', address: 'unix:///var/run/docker.sock', source: 'test', limit: 1, labels: [], executor: a, connection: 'a' }], {
    onDown: () => undefined, onUp: () => undefined, onError: () => undefined,
  });
  pool = p;
  const errors: unknown[] = [];
  const notes: string[] = [];
  const debug = new DebugService({
    logs: { append: (_jobId: string, line: { text: string }) => { notes.push(line.text); return { seq: notes.length, ...line }; } },
    bus: { events: { emit: () => undefined } },
    scheduler: q.scheduler, store, clock: () => q!.now.t, life: { stopping: false }, instanceId: INSTANCE,
    onError: (_m: string, err: unknown) => errors.push(err), repository: () => undefined,
    // As parts.ts does: the engine that holds the job, else the engine of its name.
    dockerOf: (jobId: string) => ((p.executorOfJob(jobId) ?? p.executorOf('a')) as ReturnType<typeof localEngine> | undefined)?.docker,
    slots: { hold: (jobId: string) => p.hold(jobId, 'a'), free: (jobId: string) => p.release(jobId) },
  } as unknown as ConstructorParameters<typeof DebugService>[0]);
  debug.recover();
  expect(debug.adoptedCount).toBe(1);

  p.reconfigure([{ name: 'b', address: 'unix:///var/run/docker.sock', source: 'test', limit: 1, labels: [], connection: 'b', connect: () => b }]);
  await debug.end(jobs.build);

  expect(errors).toEqual([]);
  expect(notes).toEqual(['[kiln] debugging ended through the HTTP API: the kept container was removed']);
  expect(a.docker).toBeUndefined(); // the retiring engine was closed with its last slot
  expect(p.engineOf(jobs.build)).toBeUndefined();
  await expect(docker.getContainer(container.id).inspect()).rejects.toThrow(/no such container/i);
});
