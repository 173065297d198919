import { describe, expect, it } from 'vitest';
import type { PlannedJob, PlannedStep } from '../../shared/model/plan.js';
import type { StepSummary } from '../../shared/model/run.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { FakeStepRunner } from '../../test/executor/fake-step-runner.js';
import type { FakeStep } from '../../test/executor/fake-step-runner.js';
import { runSteps } from './job-steps.js';
import type { StepsOutcome } from './job-steps.js';
import { JobLog } from './log-capture.js';
import { SecretMasker } from './secret-masker.js';
import type { StepStart } from './step-runner.js';
import { plannedJob } from '../../test/helpers/planned-job.js';

/** What the job's log receives per line (whatever numbering the log applies is not the step rules' concern). */
type LoggedLine = Parameters<ConstructorParameters<typeof JobLog>[1]>[0];

const EVENT: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40), ref: 'refs/heads/main' };

function step(name: string, extra: Partial<PlannedStep> = {}): Omit<PlannedStep, 'index'> {
  return { name, run: `echo ${name}`, env: {}, if: '', continueOnError: false, ...extra };
}

function job(steps: Array<Omit<PlannedStep, 'index'>>, extra: Partial<PlannedJob> = {}): PlannedJob {
  return plannedJob(steps, { id: 'unit-job', image: 'any' }, extra);
}

interface Ran {
  outcome: StepsOutcome;
  runner: FakeStepRunner;
  steps: StepSummary[];
  lines: LoggedLine[];
  /** stdout/stderr text of step `i`. */
  out(i: number): string;
  /** Kiln's own lines about step `i`. */
  notes(i: number): string[];
  /** Kiln's own annotations, as `level: message`. */
  annotations: string[];
  statuses(): string[];
}

async function run(
  planned: PlannedJob,
  behaviours: Record<number, FakeStep | ((step: StepStart) => FakeStep)> = {},
  options: { secrets?: Record<string, string>; killGraceMs?: number; signal?: AbortSignal; onStep?(s: StepSummary, runner: FakeStepRunner): void } = {},
): Promise<Ran> {
  const secrets = options.secrets ?? {};
  const lines: LoggedLine[] = [];
  const annotations: string[] = [];
  const log = new JobLog(new SecretMasker(Object.values(secrets)), (l) => void lines.push(l), 0, 1024 * 1024, (r) => {
    if (r.kind === 'annotation') annotations.push(`${r.annotation.level}: ${r.annotation.message}`);
  });
  const runner = new FakeStepRunner(behaviours);
  const steps: StepSummary[] = planned.steps.map((s) => ({ index: s.index, name: s.name, status: 'queued' }));
  await runner.setup(new AbortController().signal);
  const outcome = await runSteps({
    runner,
    runId: 'run-1',
    job: planned,
    event: EVENT,
    secrets,
    log,
    killGraceMs: options.killGraceMs ?? 50,
    jobSignal: options.signal ?? new AbortController().signal,
    steps,
    onStep: (s) => options.onStep?.(s, runner),
  });
  await runner.destroy();
  runner.expectNoViolations();
  const text = (i: number, system: boolean) => lines.filter((l) => l.step === i && (l.stream === 'system') === system).map((l) => l.text);
  return { outcome, runner, steps, lines, annotations, out: (i) => text(i, false).join('\n'), notes: (i) => text(i, true), statuses: () => steps.map((s) => s.status) };
}

describe('step conditions', () => {
  it('runs success() steps (the default) while nothing failed, and skips failure() steps', async () => {
    const r = await run(job([step('a'), step('b', { if: 'success()' }), step('c', { if: 'failure()' })]));
    expect(r.outcome).toEqual({ status: 'passed' });
    expect(r.statuses()).toEqual(['passed', 'passed', 'skipped']);
    expect(r.runner.started.has(2)).toBe(false);
  });

  it('after a failure runs only failure() and always() steps, and the job fails with the first failing step', async () => {
    const r = await run(
      job([step('breaks'), step('default'), step('on-failure', { if: 'failure()' }), step('always', { if: 'always()' }), step('on-success', { if: 'success()' })]),
      { 0: { exitCode: 2 } },
    );
    // The first failing step and its environment: where a debug session starts.
    expect(r.outcome).toEqual({
      status: 'failed', error: "step 'breaks' failed with exit code 2",
      failure: { index: 0, name: 'breaks', script: 'echo breaks', env: expect.objectContaining({ KILN_JOB: 'unit-job', KILN_ENV: '/fake/env-0' }) },
    });
    expect(r.statuses()).toEqual(['failed', 'skipped', 'passed', 'passed', 'skipped']);
    expect([...r.runner.started.keys()]).toEqual([0, 2, 3]);
    expect(r.steps[0].exitCode).toBe(2);
  });

  it('sees the event, the matrix and the environment in a condition', async () => {
    const r = await run(job([step('main-only', { if: "branch == 'main' && matrix.os == 'linux'" }), step('tags-only', { if: "event == 'tag'" })], { matrix: { os: 'linux' } }));
    expect(r.statuses()).toEqual(['passed', 'skipped']);
  });

  it('fails a step whose condition is invalid without starting it, and still runs always() steps', async () => {
    const r = await run(job([step('bad', { if: 'success(' }), step('cleanup', { if: 'always()' })]));
    expect(r.outcome.status).toBe('failed');
    expect(r.outcome.error).toBe("step 'bad' has an invalid condition");
    expect(r.statuses()).toEqual(['failed', 'passed']);
    expect(r.runner.started.has(0)).toBe(false);
    expect(r.notes(0)[0]).toMatch(/^step 'bad': invalid condition 'success\('/);
  });
});

describe('continue-on-error', () => {
  it('records the failing step as failed but lets the job pass and the next steps run', async () => {
    const r = await run(job([step('flaky', { continueOnError: true }), step('after')]), { 0: { exitCode: 1 } });
    expect(r.outcome).toEqual({ status: 'passed' });
    expect(r.statuses()).toEqual(['failed', 'passed']);
    expect(r.notes(0)).toContain("step 'flaky' failed with exit code 1; continuing (continue-on-error)");
  });

  it('without it, stops at the first failing step and never starts the rest', async () => {
    const r = await run(job([step('breaks'), step('never')]), { 0: { exitCode: 3 } });
    expect(r.statuses()).toEqual(['failed', 'skipped']);
    expect(r.runner.calls).not.toContain('start 1');
  });
});

describe('$KILN_ENV', () => {
  it('hands the variables a step wrote to every later step, never to itself, and later writes win', async () => {
    const r = await run(job([step('writes'), step('reads'), step('overrides'), step('last')]), {
      0: { envFile: 'DB_URL=postgres://db/test\nCERT<<EOF\nline one\nline two\nEOF\n' },
      2: { envFile: 'DB_URL=postgres://db/other\n' },
    });
    const env = (i: number) => r.runner.started.get(i)!.env;
    expect(env(0).DB_URL).toBeUndefined();
    expect(env(1).DB_URL).toBe('postgres://db/test');
    expect(env(1).CERT).toBe('line one\nline two');
    expect(env(3).DB_URL).toBe('postgres://db/other');
    expect(env(3).CERT).toBe('line one\nline two');
  });

  it('points each step at its own file and workspace through the runner', async () => {
    const r = await run(job([step('a'), step('b')]));
    expect(r.runner.started.get(1)!.env).toMatchObject({ KILN_ENV: '/fake/env-1', KILN_WORKSPACE: '/fake/workspace', KILN_RUN_ID: 'run-1', KILN_JOB: 'unit-job' });
  });

  it('does not let a step override the variables that locate Kiln’s files, and warns about it', async () => {
    const r = await run(job([step('sneaky'), step('next')]), { 0: { envFile: 'KILN_ENV=/etc/passwd\nOK=1\n' } });
    expect(r.runner.started.get(1)!.env).toMatchObject({ KILN_ENV: '/fake/env-1', OK: '1' });
    expect(r.notes(0).some((t) => t.includes('KILN_ENV is set by Kiln and cannot be changed'))).toBe(true);
  });

  it('takes no variables from a step that failed, and reads nothing after the last step', async () => {
    const r = await run(job([step('breaks'), step('cleanup', { if: 'always()' })]), { 0: { exitCode: 1, envFile: 'FROM_FAILED=1\n' } });
    expect(r.runner.started.get(1)!.env.FROM_FAILED).toBeUndefined();
    expect(r.runner.calls.filter((c) => c.startsWith('readEnvFile'))).toEqual([]);
  });

  it('takes variables from a failing continue-on-error step', async () => {
    const r = await run(job([step('flaky', { continueOnError: true }), step('next')]), { 0: { exitCode: 1, envFile: 'PARTIAL=yes\n' } });
    expect(r.runner.started.get(1)!.env.PARTIAL).toBe('yes');
  });
});

describe('environment and secrets', () => {
  it('layers job env, secrets, earlier $KILN_ENV, step env and built-ins, in that order of precedence', async () => {
    const r = await run(
      job([step('first'), step('second', { env: { WHO: 'step', FROM_ENV: 'step wins' } })], { env: { WHO: 'job', GREETING: 'hi' }, secrets: ['TOKEN'] }),
      { 0: { envFile: 'FROM_ENV=file\nTOKEN=overridden\n' } },
      { secrets: { TOKEN: 's3cr3t-value', OTHER: 'not-named' } },
    );
    const env = r.runner.started.get(1)!.env;
    expect(env).toMatchObject({ WHO: 'step', GREETING: 'hi', FROM_ENV: 'step wins', TOKEN: 'overridden', KILN_BRANCH: 'main', KILN_EVENT: 'push' });
    expect(r.runner.started.get(0)!.env.TOKEN).toBe('s3cr3t-value');
    expect('OTHER' in env).toBe(false);
  });

  it('warns when a named secret is not configured, and leaves the variable unset', async () => {
    const r = await run(job([step('a')], { secrets: ['MISSING'] }));
    expect('MISSING' in r.runner.started.get(0)!.env).toBe(false);
    expect(r.lines.some((l) => l.step === null && l.text === 'warning: secret MISSING is not configured; the variable is not set')).toBe(true);
  });

  it('masks a secret in a step’s output, even when it arrives split across chunks and streams', async () => {
    const r = await run(job([step('leaks', { continueOnError: true })], { secrets: ['TOKEN'] }), { 0: { stdout: ['token is s3cr', '3t-value\nok\n'], stderr: 'again: s3cr3t-value\n', exitCode: 1 } }, { secrets: { TOKEN: 's3cr3t-value' } });
    expect(r.out(0)).toBe('token is ***\nok\nagain: ***');
    expect(r.lines.some((l) => l.text.includes('s3cr3t'))).toBe(false);
  });
});

describe('a step timeout', () => {
  it('sends SIGTERM when the step overruns, records timed_out from the timer (not the exit code) and runs failure() steps', async () => {
    const r = await run(job([step('slow', { timeoutMs: 30 }), step('next'), step('cleanup', { if: 'failure()' })]), { 0: { runsUntilSignalled: true, onTerm: 0 } });
    expect(r.outcome).toMatchObject({ status: 'timed_out', error: "step 'slow' timed out after 30 ms", failure: { name: 'slow' } });
    expect(r.statuses()).toEqual(['timed_out', 'skipped', 'passed']);
    expect(r.steps[0].exitCode).toBe(0);
    expect(r.runner.calls.filter((c) => c.startsWith('signal'))).toEqual(['signal 0 TERM']);
    // Said once, when the timer fired, then the signal it sent.
    expect(r.notes(0).filter((t) => t.includes('timed out'))).toEqual(["step 'slow' timed out after 30 ms"]);
    expect(r.notes(0).slice(1, 3)).toEqual(["step 'slow' timed out after 30 ms", "sending SIGTERM to the step's processes (SIGKILL in 0 s)"]);
    expect(r.annotations).toEqual(["error: step 'slow' timed out after 30 ms"]);
  });

  it('says a continue-on-error step\'s timeout once, as a warning, and goes on', async () => {
    const r = await run(job([step('slow', { timeoutMs: 30, continueOnError: true }), step('next')]), { 0: { runsUntilSignalled: true } });
    expect(r.outcome.status).toBe('passed');
    expect(r.notes(0).filter((t) => t.includes('timed out'))).toEqual(["step 'slow' timed out after 30 ms; continuing (continue-on-error)"]);
    expect(r.annotations).toEqual(["warning: step 'slow' timed out after 30 ms; continuing (continue-on-error)"]);
  });

  it('sends SIGKILL after the grace period to a step that ignores SIGTERM', async () => {
    const r = await run(job([step('stubborn', { timeoutMs: 20 })]), { 0: { runsUntilSignalled: true, onTerm: 'ignore' } }, { killGraceMs: 60 });
    expect(r.outcome.status).toBe('timed_out');
    expect(r.steps[0].exitCode).toBe(137);
    expect(r.runner.calls.filter((c) => c.startsWith('signal') || c.startsWith('detach'))).toEqual(['signal 0 TERM', 'signal 0 KILL']);
    expect(r.notes(0)).toContain('step still running after the grace period: sending SIGKILL');
    expect(r.steps[0].durationMs).toBeGreaterThanOrEqual(75);
  });

  it('stops waiting for a step whose processes escaped the signals, shortly after SIGKILL', async () => {
    const r = await run(job([step('escapes', { timeoutMs: 10 })]), { 0: { runsUntilSignalled: true, onTerm: 'ignore', onKill: 'escape' } }, { killGraceMs: 10 });
    expect(r.outcome.status).toBe('timed_out');
    expect(r.steps[0].exitCode).toBeUndefined();
    expect(r.runner.calls.filter((c) => /^(signal|detach)/.test(c))).toEqual(['signal 0 TERM', 'signal 0 KILL', 'detach 0']);
  });

  it('does not fire once the step has ended in time', async () => {
    const r = await run(job([step('quick', { timeoutMs: 200 })]), { 0: { runsForMs: 5 } });
    expect(r.outcome.status).toBe('passed');
    await new Promise((res) => setTimeout(res, 250));
    expect(r.runner.calls.some((c) => c.startsWith('signal'))).toBe(false);
  });
});

describe('cancellation through the job signal', () => {
  it('sends SIGTERM to the running step, records it cancelled and starts nothing more, not even always() steps', async () => {
    const stop = new AbortController();
    const r = await run(
      job([step('first'), step('long'), step('never'), step('cleanup', { if: 'always()' })]),
      { 1: { runsUntilSignalled: true, stdout: 'working\n' } },
      {
        signal: stop.signal,
        onStep: (s) => {
          if (s.index === 1 && s.status === 'running') setTimeout(() => stop.abort('cancelled'), 20);
        },
      },
    );
    expect(r.statuses()).toEqual(['passed', 'cancelled', 'queued', 'queued']);
    expect(r.steps[1].exitCode).toBe(143);
    expect(r.out(1)).toBe('working');
    expect(r.runner.calls).toEqual(['setup', 'start 0', 'wait 0', 'readEnvFile 0', 'start 1', 'wait 1', 'signal 1 TERM', 'destroy']);
    // The cancel is the job's to say (job-lifecycle.ts): the step says only what it sent.
    expect(r.notes(1)).toEqual(["step 'long'", "sending SIGTERM to the step's processes (SIGKILL in 0 s)"]);
    expect(r.annotations).toEqual([]);
  });

  it('records timed_out for the running step when the job’s own timer stopped it', async () => {
    const stop = new AbortController();
    const r = await run(job([step('slow')]), { 0: { runsUntilSignalled: true } }, { signal: stop.signal, onStep: (s) => s.status === 'running' && setTimeout(() => stop.abort('timed_out'), 10) });
    expect(r.statuses()).toEqual(['timed_out']);
    expect(r.notes(0)).toEqual(["step 'slow'", "sending SIGTERM to the step's processes (SIGKILL in 0 s)"]);
    expect(r.annotations).toEqual([]);
  });

  it('starts no step when the job was already stopped', async () => {
    const stop = new AbortController();
    stop.abort('cancelled');
    const r = await run(job([step('a'), step('b', { if: 'always()' })]), {}, { signal: stop.signal });
    expect(r.runner.calls).toEqual(['setup', 'destroy']);
    expect(r.statuses()).toEqual(['queued', 'queued']);
  });
});

describe('a broken runner', () => {
  it('rejects (an infrastructure error, not a red step) when the engine fails while a step runs', async () => {
    const runner = new FakeStepRunner({ 0: { waitError: new Error('lost the connection to the Docker engine during a step') } });
    await runner.setup(new AbortController().signal);
    const log = new JobLog(new SecretMasker([]), () => undefined, 0, 1024);
    const planned = job([step('a')]);
    const steps: StepSummary[] = [{ index: 0, name: 'a', status: 'queued' }];
    const running = runSteps({ runner, runId: 'r', job: planned, event: EVENT, secrets: {}, log, killGraceMs: 10, jobSignal: new AbortController().signal, steps, onStep: () => undefined });
    await expect(running).rejects.toThrow('lost the connection to the Docker engine during a step');
    runner.expectNoViolations();
  });

  it('warns and goes on when a step’s $KILN_ENV file cannot be read', async () => {
    const r = await run(job([step('huge'), step('next')]), { 0: { envFile: `BIG=${'x'.repeat(1024 * 1024)}\n` } });
    expect(r.outcome.status).toBe('passed');
    expect(r.notes(0).some((t) => t.startsWith("warning: could not read $KILN_ENV of step 'huge': file larger than"))).toBe(true);
  });
});

describe('the fake step runner', () => {
  it('rejects a step started before setup, a second wait and a read before the wait, and records each', async () => {
    const runner = new FakeStepRunner();
    const noop = () => undefined;
    await expect(runner.startStep({ index: 0, script: '', env: {}, onOutput: noop })).rejects.toThrow('startStep(0) while new');
    await runner.setup(new AbortController().signal);
    const s = await runner.startStep({ index: 1, script: '', env: {}, onOutput: noop });
    await expect(runner.readEnvFile({ index: 1, maxBytes: 10 })).rejects.toThrow("before the step's wait settled");
    await expect(runner.startStep({ index: 2, script: '', env: {}, onOutput: noop })).rejects.toThrow("before step 1's wait settled");
    await s.wait();
    await expect(s.wait()).rejects.toThrow('a second time');
    await runner.destroy();
    await runner.destroy();
    await expect(runner.readEnvFile({ index: 1, maxBytes: 10 })).rejects.toThrow('while destroyed');
    expect(runner.violations).toHaveLength(5);
    expect(() => runner.expectNoViolations()).toThrow('step runner used out of order');
  });
});
