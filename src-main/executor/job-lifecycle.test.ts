import { describe, expect, it } from 'vitest';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { StepSummary } from '../../shared/model/run.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { FakeStepRunner, type FakeStep } from '../../test/executor/fake-step-runner.js';
import type { JobContainer, JobDebug, JobHooks, JobResult, KeptJob } from '../core/job-contract.js';
import { runJobLifecycle, type JobBackend } from './job-lifecycle.js';

const EVENT: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40), ref: 'refs/heads/main' };

function job(names: string[], extra: Partial<PlannedJob> = {}): PlannedJob {
  return {
    id: 'unit-job', key: 'unit-job', name: 'unit-job', matrix: {}, image: 'any', needs: [], skipped: false, env: {}, secrets: [],
    timeoutMs: 60_000, services: [], ...extra,
    steps: names.map((name, index) => ({ index, name, run: `echo ${name}`, env: {}, if: '', continueOnError: false })),
  };
}

const puts: string[] = [];
const CONTAINER: JobContainer = {
  workspace: '/workspace',
  exec: async () => ({ exitCode: 0 }),
  putArchive: async (dir) => { puts.push(dir); },
  getArchive: async () => { throw new Error('no archive'); },
};

interface Lived {
  result: JobResult;
  /** Backend and hook calls, in order. */
  calls: string[];
  runner: FakeStepRunner;
  lines: string[];
  steps: StepSummary[];
  /** Kiln's annotations, as `level: message`. */
  annotations: string[];
}

/** Runs a job through the lifecycle with a FakeStepRunner; `upFails` makes bring-up fail (after its phase is set). */
async function live(planned: PlannedJob, o: {
  behaviours?: Record<number, FakeStep>;
  hooks?: JobHooks;
  upFails?: Error;
  /** Bring-up waits for this before it resolves (it rejects when stopped first). */
  upWaits?: Promise<void>;
  signal?: AbortSignal;
  onStep?(s: StepSummary): void;
  secrets?: Record<string, string>;
  /** Collects the timing marks (JobRunRequest.onPhase). */
  phases?: string[];
  /** Bring-up reports an image pull before it is up. */
  pulls?: boolean;
  debug?: JobDebug;
  /** The job's container as the hooks and keep-on-failure see it (default: one whose exec answers at once). */
  container?: JobContainer;
  execUserTimeoutMs?: number;
} = {}): Promise<Lived> {
  const calls: string[] = [];
  const lines: string[] = [];
  const steps: StepSummary[] = [];
  const annotations: string[] = [];
  const runner = new FakeStepRunner(o.behaviours);
  const backend: JobBackend = {
    async bringUp({ signal, setPhase, say }) {
      calls.push('bringUp');
      if (o.pulls) setPhase('pulling image any');
      setPhase('starting the sidecar');
      say('bringing up');
      if (o.upWaits) {
        await Promise.race([o.upWaits, new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))]);
      }
      if (o.upFails) throw o.upFails;
      await runner.setup(signal);
      return { runner, container: o.container ?? CONTAINER };
    },
    async teardown() {
      calls.push('teardown');
      await runner.destroy();
    },
    describeError: (err, phase) => ({ message: `backend error while ${phase}: ${(err as Error).message}`, infrastructure: true }),
  };
  const hooks: JobHooks | undefined = o.hooks && {
    beforeSteps: o.hooks.beforeSteps && (async (c, log) => { calls.push('beforeSteps'); await o.hooks?.beforeSteps?.(c, log); }),
    afterSteps: o.hooks.afterSteps && (async (c, status, log) => { calls.push(`afterSteps ${status}`); await o.hooks?.afterSteps?.(c, status, log); }),
  };
  const result = await runJobLifecycle(
    {
      runId: 'r1', jobId: planned.id, job: planned, event: EVENT, source: { kind: 'dir', path: '/nowhere' }, secrets: o.secrets ?? {},
      signal: o.signal ?? new AbortController().signal, hooks, debug: o.debug,
      onLog: (l) => void lines.push(l.text),
      onStep: (s) => { steps.push(s); o.onStep?.(s); },
      onPhase: (p) => o.phases?.push(p),
      onRecord: (r) => void (r.kind === 'annotation' && annotations.push(`${r.annotation.level}: ${r.annotation.message}`)),
    },
    backend,
    { killGraceMs: 50, maxStepOutputBytes: 1024 * 1024, execUserTimeoutMs: o.execUserTimeoutMs },
  );
  runner.expectNoViolations();
  return { result, calls, runner, lines, steps, annotations };
}

const NOOP_HOOKS: JobHooks = { beforeSteps: async () => undefined, afterSteps: async () => undefined };

describe('the job lifecycle', () => {
  it('brings up, runs beforeSteps, the steps, afterSteps with their outcome, then tears down', async () => {
    const l = await live(job(['build', 'test']), { hooks: NOOP_HOOKS, behaviours: { 1: { exitCode: 3 } } });
    expect(l.calls).toEqual(['bringUp', 'beforeSteps', 'afterSteps failed', 'teardown']);
    expect(l.runner.calls).toEqual(['setup', 'start 0', 'wait 0', 'readEnvFile 0', 'start 1', 'wait 1', 'destroy']);
    expect(l.result).toMatchObject({ status: 'failed', error: "step 'test' failed with exit code 3", infrastructure: undefined });
  });

  it('reports a bring-up failure in the backend\'s words, as infrastructure, with every step skipped and teardown run', async () => {
    const l = await live(job(['build']), { hooks: NOOP_HOOKS, upFails: new Error('port in use') });
    expect(l.calls).toEqual(['bringUp', 'teardown']);
    expect(l.result).toMatchObject({ status: 'failed', error: 'backend error while starting the sidecar: port in use', infrastructure: true });
    expect(l.result.steps.map((s) => s.status)).toEqual(['skipped']);
    expect(l.lines).toContain('error: backend error while starting the sidecar: port in use');
  });

  it('names the phase a cancel came in, skips the steps and afterSteps, and still tears down', async () => {
    const cancel = new AbortController();
    const l = await live(job(['build']), { hooks: NOOP_HOOKS, signal: cancel.signal, upWaits: new Promise(() => setTimeout(() => cancel.abort(), 20)) });
    expect(l.calls).toEqual(['bringUp', 'teardown']);
    expect(l.result).toMatchObject({ status: 'cancelled', error: 'job cancelled while starting the sidecar', infrastructure: undefined });
    expect(l.result.steps.map((s) => s.status)).toEqual(['skipped']);
    // Said once, as it happened.
    expect(l.lines.filter((t) => t.includes('cancel'))).toEqual(['job cancelled while starting the sidecar']);
    expect(l.annotations).toEqual(['warning: job cancelled while starting the sidecar']);
  });

  it('times a job out during its running step: that step timed_out, the later ones skipped, no afterSteps', async () => {
    const l = await live(job(['wait', 'never'], { timeoutMs: 100 }), { hooks: NOOP_HOOKS, behaviours: { 0: { runsUntilSignalled: true } } });
    expect(l.result).toMatchObject({ status: 'timed_out', error: "job timed out after 100 ms during step 'wait'" });
    expect(l.result.steps.map((s) => s.status)).toEqual(['timed_out', 'skipped']);
    expect(l.calls).toEqual(['bringUp', 'beforeSteps', 'teardown']);
    expect(l.runner.calls).toContain('signal 0 TERM');
    // Said once, when the timer fired: before the signal it sent, and not again by the step or at the end.
    expect(l.lines.slice(l.lines.indexOf("step 'wait'") + 1)).toEqual(["job timed out after 100 ms during step 'wait'", "sending SIGTERM to the step's processes (SIGKILL in 0 s)"]);
    expect(l.annotations).toEqual(["error: job timed out after 100 ms during step 'wait'"]);
  });

  it('fails a passing job whose afterSteps fails, saying so, but not as infrastructure', async () => {
    const l = await live(job(['build']), { hooks: { afterSteps: async () => { throw new Error('upload refused'); } } });
    expect(l.result).toMatchObject({ status: 'failed', error: 'after the steps: upload refused', infrastructure: undefined });
    expect(l.lines).toContain('error: upload refused');
  });

  it('reports a beforeSteps failure as the backend\'s error while restoring caches, and runs no step', async () => {
    const l = await live(job(['build']), { hooks: { beforeSteps: async () => { throw new Error('cache corrupt'); } } });
    expect(l.result).toMatchObject({ status: 'failed', error: 'backend error while restoring caches: cache corrupt', infrastructure: true });
    expect(l.runner.calls).toEqual(['setup', 'destroy']);
  });

  it('marks its phases for the timing view in order, the pull apart from the rest of the set-up', async () => {
    const phases: string[] = [];
    await live(job(['build']), { hooks: NOOP_HOOKS, phases, pulls: true });
    expect(phases).toEqual(['setting_up', 'pulling', 'setting_up', 'steps', 'after_steps', 'tearing_down', 'done']);
  });

  it('marks no steps phase when bring-up fails, and still the teardown and the end', async () => {
    const phases: string[] = [];
    await live(job(['build']), { hooks: NOOP_HOOKS, phases, upFails: new Error('port in use') });
    expect(phases).toEqual(['setting_up', 'tearing_down', 'done']);
  });

  it('masks secrets in the error sentence', async () => {
    const l = await live(job(['build']), { upFails: new Error('bad token hunter2'), secrets: { TOKEN: 'hunter2' } });
    expect(l.result.error).toBe('backend error while starting the sidecar: bad token ***');
  });
});

describe('keep-on-failure (debug)', () => {
  /** A JobDebug that records what it was asked and answers `verdict` once the test releases it. */
  function debugger_(keeps: boolean, verdict: 'remove' | 'leave') {
    const seen: { kept?: KeptJob; calls: string[] } = { calls: [] };
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => { release = r; });
    const debug: JobDebug = {
      keepsFailure: () => { seen.calls.push('keepsFailure'); return keeps; },
      hold: async (kept) => { seen.calls.push('hold'); seen.kept = kept; await released; return verdict; },
    };
    return { debug, seen, release: () => release() };
  }

  it('holds a failed job after afterSteps and before teardown, with the failing step and its environment file', async () => {
    const d = debugger_(true, 'remove');
    const lived = live(job(['build', 'test']), { hooks: NOOP_HOOKS, behaviours: { 1: { exitCode: 3 } }, debug: d.debug });
    for (let i = 0; i < 100 && !d.seen.kept; i++) await new Promise((r) => setTimeout(r, 5));
    expect(d.seen.kept).toMatchObject({ step: { index: 1, name: 'test' }, envFile: '/kiln/debug-env', jobKey: 'unit-job' });
    expect(puts).toContain('/kiln');
    d.release();
    const l = await lived;
    expect(l.calls).toEqual(['bringUp', 'beforeSteps', 'afterSteps failed', 'teardown']);
    expect(l.result).toMatchObject({ status: 'failed', error: "step 'test' failed with exit code 3" });
  });

  it('re-runs the failed step through the same runner into the job log', async () => {
    const d = debugger_(true, 'remove');
    const lived = live(job(['build', 'test']), { behaviours: { 1: { exitCode: 3 } }, debug: d.debug });
    for (let i = 0; i < 100 && !d.seen.kept; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await d.seen.kept!.rerunStep()).toBe(3);
    d.release();
    const l = await lived;
    expect(l.runner.calls.filter((c) => c === 'start 1')).toHaveLength(2);
    expect(l.lines).toContain("re-running step 'test' in the kept container (debug)");
    expect(l.lines).toContain("re-run of step 'test' ended failed with exit code 3 (a re-run adds no annotations to the run)");
  });

  it('skips teardown when hold answers leave (the engine is stopping and keeps the container)', async () => {
    const d = debugger_(true, 'leave');
    const lived = live(job(['build']), { behaviours: { 0: { exitCode: 1 } }, debug: d.debug });
    for (let i = 0; i < 100 && !d.seen.kept; i++) await new Promise((r) => setTimeout(r, 5));
    d.release();
    const l = await lived;
    expect(l.calls).toEqual(['bringUp']);
    expect(l.result.status).toBe('failed');
    await l.runner.destroy();
  });

  it('marks the hold as its own phase for the timing view, between the work after the steps and teardown', async () => {
    const d = debugger_(true, 'remove');
    const phases: string[] = [];
    const lived = live(job(['build']), { hooks: NOOP_HOOKS, behaviours: { 0: { exitCode: 1 } }, debug: d.debug, phases });
    for (let i = 0; i < 100 && !d.seen.kept; i++) await new Promise((r) => setTimeout(r, 5));
    expect(phases.at(-1)).toBe('kept_for_debug');
    d.release();
    await lived;
    expect(phases).toEqual(['setting_up', 'steps', 'after_steps', 'kept_for_debug', 'tearing_down', 'done']);
  });

  it('writes no teardown or end mark when hold answers leave: the hold goes on past this process', async () => {
    const d = debugger_(true, 'leave');
    const phases: string[] = [];
    const lived = live(job(['build']), { behaviours: { 0: { exitCode: 1 } }, debug: d.debug, phases });
    for (let i = 0; i < 100 && !d.seen.kept; i++) await new Promise((r) => setTimeout(r, 5));
    d.release();
    const l = await lived;
    expect(phases).toEqual(['setting_up', 'steps', 'kept_for_debug']);
    expect(l.lines).toContain('Kiln stopped: the job container stays up for debugging until its deadline; Kiln takes it back when it starts');
    await l.runner.destroy();
  });

  it('keeps the job with a root-owned environment file, saying so, when finding the container\'s user hangs', async () => {
    const d = debugger_(true, 'remove');
    const archives: Buffer[] = [];
    const stuck: JobContainer = {
      ...CONTAINER,
      exec: () => new Promise<never>(() => undefined), // a stuck engine: `id` never answers
      putArchive: async (_dir, tar) => { for await (const chunk of tar) archives.push(Buffer.from(chunk as Uint8Array)); },
    };
    const started = Date.now();
    const lived = live(job(['build']), { behaviours: { 0: { exitCode: 1 } }, debug: d.debug, container: stuck, execUserTimeoutMs: 200 });
    for (let i = 0; i < 400 && !d.seen.kept; i++) await new Promise((r) => setTimeout(r, 5));
    expect(d.seen.kept).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    d.release();
    const l = await lived;
    expect(l.lines).toContain("finding the container's user ('id') gave no answer in 0.2 s: the debug environment file is root's");
    // The tar header's uid and gid fields (octal, at 108 and 116): root's.
    const header = Buffer.concat(archives).subarray(0, 512);
    expect(parseInt(header.subarray(108, 116).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8)).toBe(0);
    expect(parseInt(header.subarray(116, 124).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8)).toBe(0);
  });

  it('keeps nothing when the job passed or keepsFailure says no', async () => {
    const passed = debugger_(true, 'remove');
    expect((await live(job(['build']), { debug: passed.debug })).calls).toEqual(['bringUp', 'teardown']);
    expect(passed.seen.calls).toEqual([]);
    const no = debugger_(false, 'remove');
    const l = await live(job(['build']), { behaviours: { 0: { exitCode: 1 } }, debug: no.debug });
    expect(no.seen.calls).toEqual(['keepsFailure']);
    expect(l.calls).toEqual(['bringUp', 'teardown']);
  });
});
