/**
 * The Docker StepRunner against the real engine: the lifecycle its interface promises
 * (step-runner.ts), and most of all that destroy is safe in every state.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerStepRunner } from '../../src-main/executor/docker-step-runner.js';
import type { StepStart } from '../../src-main/executor/step-runner.js';
import type { WorkspaceSource } from '../../src-main/core/job-contract.js';
import { docker, harness, job, leftovers, NONE, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.cleanup();
});

function runner(source: WorkspaceSource = h.source): { runner: DockerStepRunner; said: string[]; phases: string[] } {
  const said: string[] = [];
  const phases: string[] = [];
  const r = new DockerStepRunner({
    docker,
    instanceId: h.instanceId,
    runId: 'run-seam',
    jobId: 'job-seam',
    job: job([step('true')]),
    source,
    mirrorsDir: join(h.dir, 'mirrors'),
    suffix: randomBytes(4).toString('hex'),
    say: (t) => said.push(t),
    setPhase: (p) => phases.push(p),
  });
  return { runner: r, said, phases };
}

function collect(): { onOutput: StepStart['onOutput']; text(stream: 'stdout' | 'stderr'): string } {
  const chunks: Array<{ stream: 'stdout' | 'stderr'; chunk: Buffer }> = [];
  return {
    onOutput: (stream, chunk) => chunks.push({ stream, chunk }),
    text: (stream) => Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.chunk)).toString(),
  };
}

describe('the Docker step runner', () => {
  it('sets up the job container with the workspace, runs a step with its env, streams its output and reads its $KILN_ENV', async () => {
    const { runner: r } = runner();
    await r.setup(new AbortController().signal);
    const where = r.locations(0);
    const out = collect();
    const started = await r.startStep({
      index: 0,
      script: 'cat hello.txt; echo "$GREETING from $PWD"; echo oops >&2; echo "NEXT=value" >> "$KILN_ENV"; exit 4',
      env: { GREETING: 'hi', KILN_ENV: where.envFile },
      onOutput: out.onOutput,
    });
    expect(await started.wait()).toBe(4);
    expect(out.text('stdout')).toBe(`hello from the workspace\nhi from ${where.workspace}\n`);
    expect(out.text('stderr')).toBe('oops\n');
    expect(await r.readEnvFile({ index: 0, maxBytes: 1024 })).toBe('NEXT=value\n');
    // A signal to a step that already ended is nothing to signal, not an error.
    await expect(started.signal('TERM')).resolves.toBeUndefined();

    const quiet = await r.startStep({ index: 1, script: 'true', env: { KILN_ENV: r.locations(1).envFile }, onOutput: () => undefined });
    expect(await quiet.wait()).toBe(0);
    expect(await r.readEnvFile({ index: 1, maxBytes: 1024 })).toBe('');
    await r.destroy();
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('signals every process of a running step, background processes included', async () => {
    const { runner: r } = runner();
    await r.setup(new AbortController().signal);
    const out = collect();
    const started = await r.startStep({
      index: 0,
      script: `sleep 60 &\necho $! > bg.pid\ntrap 'echo got TERM; exit 7' TERM\nwhile :; do sleep 0.05; done`,
      env: { KILN_ENV: r.locations(0).envFile },
      onOutput: out.onOutput,
    });
    const waited = started.wait();
    await new Promise((res) => setTimeout(res, 300));
    await started.signal('TERM');
    expect(await waited).toBe(7);
    expect(out.text('stdout')).toBe('got TERM\n');
    const check = collect();
    const probe = await r.startStep({ index: 1, script: 'sleep 0.2; if kill -0 "$(cat bg.pid)" 2>/dev/null; then echo alive; else echo gone; fi', env: { KILN_ENV: r.locations(1).envFile }, onOutput: check.onOutput });
    expect(await probe.wait()).toBe(0);
    expect(check.text('stdout')).toBe('gone\n');
    await r.destroy();
  });

  it('can be destroyed before setup, twice, and is unusable afterwards', async () => {
    const { runner: r } = runner();
    await r.destroy();
    await r.destroy();
    await expect(r.setup(new AbortController().signal)).rejects.toThrow('called twice or after destroy');
    await expect(r.startStep({ index: 0, script: 'true', env: {}, onOutput: () => undefined })).rejects.toThrow('used after destroy');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('removes the container it created when setup failed part-way (the workspace could not be prepared)', async () => {
    const { runner: r, phases } = runner({ kind: 'dir', path: join(h.dir, 'does-not-exist') });
    await expect(r.setup(new AbortController().signal)).rejects.toThrow();
    expect(phases).toContain('preparing the workspace');
    expect((await leftovers(h.instanceId)).containers).toBe(1);
    await r.destroy();
    await r.destroy();
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('removes a step that is still running when destroyed', async () => {
    const { runner: r } = runner();
    await r.setup(new AbortController().signal);
    const started = await r.startStep({ index: 0, script: 'sleep 60', env: { KILN_ENV: r.locations(0).envFile }, onOutput: () => undefined });
    const waited = started.wait().catch((err: Error) => err);
    await r.destroy();
    // The output ends with the container: the wait settles, one way or the other, at once.
    await waited;
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});
