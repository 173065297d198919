/**
 * The executor's own judgement of a failed step: a step whose engine stopped under it is an
 * infrastructure failure marked engineLost (the worker pool re-queues it), never "exit code 137";
 * a step that really exits 137 on a healthy engine stays the step's failure.
 */
import Dockerode from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { harness, job, run, step, type Harness } from '../executor/executor-helpers.js';

let engine: ExtraEngine;
let h: Harness;

beforeAll(async () => {
  engine = await startExtraEngine('lossy');
}, 120_000);
afterAll(async () => {
  await engine?.close();
});
afterEach(async () => {
  if (!engine.docker) return;
  await h?.executor.reapOrphans(() => false).catch(() => undefined);
});

/** Waits until the step has printed its first line. */
async function whenStarted(started: () => boolean): Promise<void> {
  const until = Date.now() + 60_000;
  while (!started()) {
    if (Date.now() > until) throw new Error('the step never printed its first line');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('when the engine stops in the middle of a step', () => {
  for (const how of ['stop', 'kill'] as const) {
    it(`(dockerd ${how === 'stop' ? 'stopped with SIGTERM' : 'killed with SIGKILL'}) fails the job as the infrastructure's, marked engine-lost, not exit code 137`, async () => {
      h = harness({ docker: new Dockerode({ socketPath: engine.socket }) });
      let started = false;
      const pending = run(h, job([step('echo started; sleep 30; echo finished')]), {}, (l) => void (started ||= l.text === 'started'));
      await whenStarted(() => started);
      await (how === 'stop' ? engine.stop() : engine.kill());
      try {
        const { result, all } = await pending;
        expect(result).toMatchObject({ status: 'failed', infrastructure: true, engineLost: true });
        expect(result.error).toMatch(/^(the Docker engine 'local' went away during the job|the job's container was stopped under the job|the job's container disappeared|lost the connection to the Docker engine during a step)/);
        expect(all()).toContain('started');
        expect(all()).not.toMatch(/exit code 137/);
      } finally {
        await engine.start();
      }
    });
  }

  it('leaves a step that itself exits 137 on a healthy engine as the step\'s failure', async () => {
    h = harness({ docker: new Dockerode({ socketPath: engine.socket }) });
    const { result } = await run(h, job([step('echo started; kill -9 $$')]));
    expect(result.status).toBe('failed');
    expect(result.engineLost).toBeUndefined();
    expect(result.infrastructure).toBeUndefined();
    expect(result.error).toMatch(/exit code 137/);
  });
});
