import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { evaluateCondition } from './expressions.js';
import { outputBytes, renderJobOutputs, withNeedsOutputs } from './flow.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';
import { decideJob } from './readiness.js';

const push: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'abc123', ref: 'refs/heads/main' };

const errorsOf = (text: string): string[] => parsePipeline(text, '.kiln.yml').diagnostics.map(formatDiagnostic);

const GOOD = `
on:
  schedule:
    - cron: '30 3 * * 1-5'
      timezone: Europe/Paris
      branches: [main, release]
jobs:
  build:
    image: alpine
    outputs:
      version: \${{ steps.ver.outputs.version }}
    steps:
      - id: ver
        run: echo "version=1.2.3" >> "$KILN_OUTPUT"
  deploy:
    image: alpine
    needs: build
    when: manual
    approval-timeout: 2h
    if: needs.build.outputs.version != ''
    env:
      VERSION: \${{ needs.build.outputs.version }}
    steps:
      - run: echo "deploying \${{ needs.build.outputs.version }}"
`;

function planGood() {
  const parsed = parsePipeline(GOOD, '.kiln.yml');
  expect(parsed.diagnostics.map(formatDiagnostic)).toEqual([]);
  const planned = planPipeline(parsed.pipeline!, push);
  expect(planned.diagnostics).toEqual([]);
  return { pipeline: parsed.pipeline!, plan: planned.plan! };
}

describe('a pipeline with outputs, an approval gate and a schedule', () => {
  it('keeps the schedule, the step id, the outputs and the gate in the model', () => {
    const { pipeline } = planGood();
    expect(pipeline.on.schedule).toEqual([{ cron: '30 3 * * 1-5', timezone: 'Europe/Paris', branches: ['main', 'release'] }]);
    expect(pipeline.jobs[0].steps[0].id).toBe('ver');
    expect(pipeline.jobs[0].outputs).toEqual({ version: '${{ steps.ver.outputs.version }}' });
    expect(pipeline.jobs[1].manual).toEqual({ timeoutMs: 2 * 3600_000 });
  });

  it('leaves needs outputs for run time: the if undecided, the env and the script variable as templates', () => {
    const { plan } = planGood();
    const deploy = plan.jobs[1];
    expect(deploy.skipped).toBe(false);
    expect(deploy.readsNeedsOutputs).toBe(true);
    expect(deploy.env.VERSION).toBe('${{ needs.build.outputs.version }}');
    expect(deploy.steps[0].run).toBe('echo "deploying ${KILN_EXPR_0}"');
    expect(deploy.steps[0].env.KILN_EXPR_0).toBe('${{ needs.build.outputs.version }}');
    expect(plan.jobs[0].readsNeedsOutputs).toBeUndefined();
  });

  it('renders them with the needs outputs just before the job runs, as environment only', () => {
    const { plan } = planGood();
    const value = '1.2.3"; rm -rf / #';
    const ready = withNeedsOutputs(plan.jobs[1], { event: 'push', sha: 'abc', repo: 'acme/web', matrix: {}, env: {}, needs: { build: { outputs: { version: value } } } });
    expect(ready.env.VERSION).toBe(value);
    expect(ready.steps[0].env.KILN_EXPR_0).toBe(value);
    expect(ready.steps[0].run).toBe('echo "deploying ${KILN_EXPR_0}"');
  });

  it('decides the job condition over needs outputs once the needs are done', () => {
    const { plan } = planGood();
    const ctx = (version: string) => ({ event: 'push', sha: 'abc', repo: 'acme/web', matrix: {}, env: {}, needs: { build: { outputs: { version } } } });
    expect(decideJob(plan.jobs[1], ['passed'], ctx('1.2.3'))).toBe('run');
    expect(decideJob(plan.jobs[1], ['passed'], ctx(''))).toBe('skip');
    expect(decideJob(plan.jobs[1], ['failed'], ctx('1.2.3'))).toBe('skip');
  });

  it('renders job outputs from step outputs and counts their bytes', () => {
    const outputs = renderJobOutputs({ version: 'v${{ steps.ver.outputs.version }}', missing: '${{ steps.nope.outputs.x }}' }, {
      event: 'push', sha: 'abc', repo: 'r', matrix: {}, env: {}, steps: { ver: { outputs: { version: '1.2.3' } } },
    });
    expect(outputs).toEqual({ version: 'v1.2.3', missing: '' });
    expect(outputBytes({ a: 'é' })).toBe(3);
  });

  it('never reads inherited properties as outputs', () => {
    const ctx = { event: 'push', sha: 'abc', repo: 'r', matrix: {}, env: {}, needs: { build: { outputs: {} } } };
    expect(evaluateCondition("needs.build.outputs.constructor == ''", ctx)).toBe(true);
    expect(evaluateCondition("needs.toString.outputs.x == ''", ctx)).toBe(true);
  });
});

describe('diagnostics of outputs, gates and schedules', () => {
  const base = (deploy: string, build = '') => `jobs:
  build:
    image: alpine
    outputs:
      version: \${{ steps.ver.outputs.version }}
    steps:
      - id: ver
        run: echo${build}
  deploy:
    image: alpine
    needs: build
${deploy}`;
  const cases: Array<{ name: string; text: string; expect: string }> = [
    {
      name: 'an output name a need does not declare, with a suggestion',
      text: base("    if: needs.build.outputs.versoin == '1'\n    steps: [{ run: echo }]\n"),
      expect: ".kiln.yml:12:9: job 'deploy' if: job 'build' has no output 'versoin' (did you mean 'version'?); its outputs are version",
    },
    {
      name: 'a job it does not need',
      text: `${base('    steps: [{ run: echo }]\n')}  other:\n    image: alpine\n    env: { V: "\${{ needs.build.outputs.version }}" }\n    steps: [{ run: echo }]\n`,
      expect: ".kiln.yml:15:15: job 'other' env V: reads needs.build, but job 'other' does not need 'build'; add it to needs",
    },
    {
      name: 'needs outputs where their value cannot arrive (the image is pulled before)',
      text: base('    image: "alpine:${{ needs.build.outputs.version }}"\n    steps: [{ run: echo }]\n').replace('    image: alpine\n    needs', '    needs'),
      expect: "needs.build.outputs.version can only be read in a job's if:, env: and its steps' env: and run",
    },
    {
      name: 'an unknown step id in outputs',
      text: base('    steps: [{ run: echo }]\n').replace('steps.ver.outputs', 'steps.vr.outputs'),
      expect: ".kiln.yml:5:16: job 'build' outputs.version: no step with id 'vr' (did you mean 'ver'?); step ids here are ver",
    },
    {
      name: 'two steps with one id',
      text: base('    steps: [{ run: echo }]\n', '\n      - id: ver\n        run: echo'),
      expect: ".kiln.yml:9:13: job 'build': two steps have the id 'ver'; step ids must be unique in a job",
    },
    {
      name: 'a bad approval timeout',
      text: base('    when: manual\n    approval-timeout: soon\n    steps: [{ run: echo }]\n'),
      expect: ".kiln.yml:13:23: job 'deploy' approval-timeout: 'soon' is not a valid duration",
    },
    {
      name: 'an unknown when',
      text: base('    when: manul\n    steps: [{ run: echo }]\n'),
      expect: '.kiln.yml:12:11:',
    },
    {
      name: 'a cron expression with six fields',
      text: `on:\n  schedule:\n    - cron: '0 0 * * * *'\n${base('    steps: [{ run: echo }]\n')}`,
      expect: ".kiln.yml:3:13: on.schedule[0]: '0 0 * * * *' has 6 fields; a schedule has five",
    },
    {
      name: 'an unknown time zone, at the timezone',
      text: `on:\n  schedule:\n    - cron: '0 3 * * *'\n      timezone: Europe/Pariss\n${base('    steps: [{ run: echo }]\n')}`,
      expect: ".kiln.yml:4:17: on.schedule[0]: 'Europe/Pariss' is not a time zone",
    },
    {
      name: 'a step id that is not a name',
      text: base('    steps: [{ id: "1st", run: echo }]\n'),
      expect: '.kiln.yml:12:',
    },
  ];
  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const found = errorsOf(c.text);
      expect(found.some((d) => d.includes(c.expect)), `${c.expect}\nnot in:\n${found.join('\n')}`).toBe(true);
    });
  }
});
