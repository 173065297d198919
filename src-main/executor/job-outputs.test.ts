import { describe, expect, it } from 'vitest';
import type { PlannedJob, PlannedStep } from '../../shared/model/plan.js';
import type { StepSummary } from '../../shared/model/run.js';
import { FakeStepRunner } from '../../test/executor/fake-step-runner.js';
import type { FakeStep } from '../../test/executor/fake-step-runner.js';
import { plannedJob } from '../../test/helpers/planned-job.js';
import { runSteps } from './job-steps.js';
import { JobLog } from './log-capture.js';
import { SecretMasker } from './secret-masker.js';

function step(name: string, extra: Partial<PlannedStep> = {}): Omit<PlannedStep, 'index'> {
  return { name, run: `echo ${name}`, env: {}, if: '', continueOnError: false, ...extra };
}

async function run(job: PlannedJob, behaviours: Record<number, FakeStep>, secrets: Record<string, string> = {}) {
  const lines: string[] = [];
  const log = new JobLog(new SecretMasker(Object.values(secrets)), (l) => void lines.push(l.text), 0, 1024 * 1024);
  const runner = new FakeStepRunner(behaviours);
  const steps: StepSummary[] = job.steps.map((s) => ({ index: s.index, name: s.name, status: 'queued' }));
  await runner.setup(new AbortController().signal);
  const outcome = await runSteps({
    runner, runId: 'run-1', job, event: { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40) }, secrets, log,
    killGraceMs: 50, jobSignal: new AbortController().signal, steps, onStep: () => undefined,
  });
  return { outcome, runner, lines };
}

describe('$KILN_OUTPUT and job outputs', () => {
  it('renders the job outputs from the lines a step with an id wrote, in both forms', async () => {
    const job = plannedJob([step('version', { id: 'ver' }), step('notes', { id: 'notes' })], { id: 'build', image: 'any' }, {
      outputs: { version: '${{ steps.ver.outputs.version }}', notes: '${{ steps.notes.outputs.text }}' },
    });
    const r = await run(job, { 0: { outputFile: 'version=1.2.3\n' }, 1: { outputFile: 'text<<EOF\nline one\nline two\nEOF\n' } });
    expect(r.outcome).toEqual({ status: 'passed', outputs: { version: '1.2.3', notes: 'line one\nline two' } });
    expect(r.runner.started.get(0)!.env.KILN_OUTPUT).toBe('/fake/output-0');
    expect(r.lines).toContain('outputs: version (5 B), notes (17 B)');
  });

  it('hands a step output to a later step condition in the same job', async () => {
    const job = plannedJob([step('probe', { id: 'probe' }), step('only-if-changed', { if: "steps.probe.outputs.changed == 'yes'" }), step('never', { if: "steps.probe.outputs.changed == 'no'" })], { id: 'b', image: 'any' });
    const r = await run(job, { 0: { outputFile: 'changed=yes\n' } });
    expect(r.runner.calls).toContain('start 1');
    expect(r.runner.calls).not.toContain('start 2');
  });

  it('reads the output file only of steps with an id', async () => {
    const job = plannedJob([step('plain'), step('named', { id: 'n' })], { id: 'b', image: 'any' });
    const r = await run(job, {});
    expect(r.runner.calls.filter((c) => c.startsWith('readOutputFile'))).toEqual(['readOutputFile 1']);
  });

  it('masks a secret that reaches an output, as in the log', async () => {
    const job = plannedJob([step('leak', { id: 'leak' })], { id: 'b', image: 'any' }, { secrets: ['TOKEN'], outputs: { url: '${{ steps.leak.outputs.url }}' } });
    const r = await run(job, { 0: { outputFile: 'url=https://user:s3cr3t-value@example.com\n' } }, { TOKEN: 's3cr3t-value' });
    expect(r.outcome.outputs).toEqual({ url: 'https://user:***@example.com' });
  });

  it('fails the job with a clear sentence when its outputs exceed 1 MB', async () => {
    const job = plannedJob([step('a', { id: 'a' }), step('b', { id: 'b' })], { id: 'big', image: 'any' }, {
      outputs: { a: '${{ steps.a.outputs.v }}', b: '${{ steps.b.outputs.v }}' },
    });
    const half = 'x'.repeat(600 * 1024);
    const r = await run(job, { 0: { outputFile: `v=${half}\n` }, 1: { outputFile: `v=${half}\n` } });
    expect(r.outcome.status).toBe('failed');
    expect(r.outcome.error).toBe("the job's outputs are 1.2 MB, more than the 1 MiB a job may hand on; write large values to an artifact and pass its name instead");
    expect(r.outcome.outputs).toBeUndefined();
  });

  it('warns about a malformed line and keeps the good ones', async () => {
    const job = plannedJob([step('a', { id: 'a' })], { id: 'b', image: 'any' }, { outputs: { ok: '${{ steps.a.outputs.ok }}' } });
    const r = await run(job, { 0: { outputFile: 'not a line\nok=1\n' } });
    expect(r.outcome.outputs).toEqual({ ok: '1' });
    expect(r.lines).toContain("warning: $KILN_OUTPUT of step 'a', line 1: expected KEY=value or KEY<<DELIMITER");
  });
});

describe('steps.<id>.outputs in a later step of the same job', () => {
  it('reaches its env and its script as environment, rendered when the step starts', async () => {
    const { parsePipeline } = await import('../pipeline/parse.js');
    const { planPipeline } = await import('../pipeline/plan.js');
    const text = `jobs:
  b:
    image: any
    steps:
      - id: probe
        run: probe
      - env: { FOUND: '\${{ steps.probe.outputs.found }}' }
        run: echo "\${{ steps.probe.outputs.found }}"
`;
    const parsed = parsePipeline(text, '.kiln.yml');
    expect(parsed.diagnostics).toEqual([]);
    const planned = planPipeline(parsed.pipeline!, { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40) }).plan!.jobs[0];
    expect(planned.steps[1].env).toEqual({ FOUND: '${{ steps.probe.outputs.found }}', KILN_EXPR_0: '${{ steps.probe.outputs.found }}' });
    const r = await run(planned, { 0: { outputFile: 'found=$(id)\n' } });
    expect(r.runner.started.get(1)!.env).toMatchObject({ FOUND: '$(id)', KILN_EXPR_0: '$(id)' });
    expect(r.runner.started.get(1)!.script).toBe('echo "${KILN_EXPR_0}"');
  });
});
