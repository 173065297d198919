import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';
import type { PlanOptions } from './plan.js';

const push: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'abc123', ref: 'refs/heads/main' };

function plan(text: string, event: TriggerEvent = push, options?: PlanOptions) {
  const parsed = parsePipeline(text, '.kiln.yml');
  expect(parsed.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  if (!parsed.pipeline) throw new Error('no pipeline');
  return planPipeline(parsed.pipeline, event, options);
}

describe('planning the product example (testdata/product-example.kiln.yml)', () => {
  const text = readFileSync(join(import.meta.dirname, 'testdata', 'product-example.kiln.yml'), 'utf8');

  it('expands the matrix, names instances in definition order and lists jobs topologically', () => {
    const { plan: p, diagnostics } = plan(text);
    expect(diagnostics).toEqual([]);
    expect(p?.jobs.map((j) => j.id)).toEqual([
      'build',
      'test (node=18, os=bookworm)',
      'test (node=20, os=alpine)',
      'test (node=20, os=bookworm)',
      'test (node=22, os=alpine)',
      'test (node=22, os=bookworm, experimental=true)',
      'deploy',
    ]);
    expect(p?.jobs[1]).toMatchObject({ name: 'test (node=18, os=bookworm)', image: 'node:18', needs: ['build'], matrix: { node: '18', os: 'bookworm' } });
    expect(p?.jobs[6].needs).toHaveLength(5);
  });

  it('renders the concurrency group and keeps the cache key hashFiles for run time', () => {
    const { plan: p } = plan(text);
    expect(p?.concurrency).toEqual({ group: 'acme/web/main', cancelInProgress: true });
    expect(p?.jobs[1].cache?.key).toBe("npm-${{ hashFiles('package-lock.json') }}");
    expect(p?.priority).toBe('normal');
  });

  it('skips jobs whose condition is false and keeps them in the plan', () => {
    const { plan: p } = plan(text, { ...push, branch: 'feature/x', ref: 'refs/heads/feature/x' });
    const test = p?.jobs.filter((j) => j.key === 'test') ?? [];
    expect(test.every((j) => j.skipped && j.skipReason === "condition `branch == 'main' || event == 'pull_request'` is false")).toBe(true);
    const deploy = p?.jobs.find((j) => j.key === 'deploy');
    expect(deploy?.skipped).toBe(true);
  });

  it('runs deploy for a tag event and skips dependants of a skipped job', () => {
    const { plan: p } = plan(text, { kind: 'tag', repo: 'acme/web', tag: 'v1.0.0', sha: 'abc', ref: 'refs/tags/v1.0.0' });
    const deploy = p?.jobs.find((j) => j.key === 'deploy');
    expect(deploy?.skipped).toBe(true);
    expect(deploy?.skipReason).toBe("needs 'test (node=18, os=bookworm)', which is skipped");
  });
});

describe('the injection rule', () => {
  it('puts a hostile branch name only into the step environment, never into run', () => {
    const hostile = 'x;$(touch${IFS}/tmp/pwned)';
    const { plan: p } = plan('jobs:\n  a:\n    image: alpine\n    steps:\n      - run: echo "${{ branch }}" && git checkout ${{ branch }}\n', { ...push, branch: hostile });
    const step = p?.jobs[0].steps[0];
    expect(step?.run).toBe('echo "${KILN_EXPR_0}" && git checkout ${KILN_EXPR_1}');
    expect(step?.run).not.toContain('pwned');
    expect(step?.env).toEqual({ KILN_EXPR_0: hostile, KILN_EXPR_1: hostile });
    expect(p?.jobs[0].env.KILN_BRANCH).toBe(hostile);
  });

  it('leaves $VAR and $$ in scripts for the shell', () => {
    const { plan: p } = plan('env: {A: one}\njobs:\n  a:\n    image: alpine\n    steps:\n      - run: echo $A ${A} $$ ${UNKNOWN:-x}\n');
    expect(p?.jobs[0].steps[0].run).toBe('echo $A ${A} $$ ${UNKNOWN:-x}');
    expect(p?.jobs[0].steps[0].env).toEqual({});
  });
});

describe('variables outside run', () => {
  const text = [
    'env: { REGISTRY: "registry.local", TAG: "${KILN_BRANCH:-none}" }',
    'jobs:',
    '  deploy:',
    '    image: "$REGISTRY/app:${TAG}"',
    '    env: { TARGET: "${DEPLOY_HOST:-staging}", COST: "$$5" }',
    '    services:',
    '      db: { image: "postgres:${PG:-16}", ports: ["5432", "8080:80"], command: "postgres -c \'fsync=off\'" }',
    '    artifacts: { paths: ["out/$KILN_SHA/**"] }',
    '    steps:',
    '      - run: deploy',
    '        env: { WHERE: "${TARGET}-x" }',
  ].join('\n');

  it('substitutes built-ins, pipeline env, job env, defaults and $$', () => {
    const job = plan(text).plan?.jobs[0];
    expect(job?.image).toBe('registry.local/app:main');
    expect(job?.env).toMatchObject({ REGISTRY: 'registry.local', TAG: 'main', TARGET: 'staging', COST: '$5', KILN_JOB: 'deploy', KILN_SHA: 'abc123', KILN_EVENT: 'push' });
    expect(job?.services).toEqual([{ key: 'db', image: 'postgres:16', env: {}, ports: ['5432', '8080:80'], command: ['postgres', '-c', 'fsync=off'] }]);
    expect(job?.artifacts?.paths).toEqual(['out/abc123/**']);
    expect(job?.steps[0].env).toEqual({ WHERE: 'staging-x' });
  });

  it('lets the caller env override pipeline env but never the built-ins', () => {
    const job = plan(text, push, { env: { DEPLOY_HOST: 'prod', REGISTRY: 'other', KILN_BRANCH: 'evil' } }).plan?.jobs[0];
    expect(job?.env.TARGET).toBe('prod');
    expect(job?.image).toBe('other/app:main');
    expect(job?.env.KILN_BRANCH).toBe('main');
  });

  it('fails planning when ${VAR:?message} names an unknown variable, naming the field', () => {
    const parsed = parsePipeline('jobs:\n  deploy:\n    image: "${IMAGE:?set IMAGE to the image to deploy}"\n    steps: [{run: x}]\n', '.kiln.yml');
    const r = planPipeline(parsed.pipeline!, push);
    expect(r.plan).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(['.kiln.yml:3:12: jobs.deploy.image: ${IMAGE} is required: set IMAGE to the image to deploy']);
    expect(planPipeline(parsed.pipeline!, push, { env: { IMAGE: 'alpine' } }).plan?.jobs[0].image).toBe('alpine');
  });

  it('warns about unknown variables and substitutes them with nothing', () => {
    const r = plan('jobs:\n  a:\n    image: "node:$VERSION"\n    steps: [{run: x}]\n');
    expect(r.plan?.jobs[0].image).toBe('node:');
    expect(r.plan?.warnings.map(formatDiagnostic)).toEqual(['.kiln.yml:3:12: warning: jobs.a.image: variable VERSION is not defined; it was replaced by an empty string']);
  });
});

describe('stages and needs', () => {
  const text = [
    'stages: [build, test, deploy]',
    'jobs:',
    '  compile: { stage: build, image: x, matrix: { os: [a, b] }, steps: [{run: x}] }',
    '  assets: { stage: build, image: x, steps: [{run: x}] }',
    '  unit: { stage: test, image: x, steps: [{run: x}] }',
    '  e2e: { stage: test, image: x, needs: [assets], steps: [{run: x}] }',
    '  release: { stage: deploy, image: x, steps: [{run: x}] }',
    '  early: { stage: deploy, image: x, needs: [], steps: [{run: x}] }',
    '  loose: { image: x, steps: [{run: x}] }',
  ].join('\n');

  it('makes a job without needs wait for every job (and matrix instance) of the previous stage', () => {
    const jobs = plan(text).plan?.jobs ?? [];
    const needs = Object.fromEntries(jobs.map((j) => [j.id, j.needs]));
    expect(needs).toEqual({
      'compile (os=a)': [],
      'compile (os=b)': [],
      assets: [],
      unit: ['compile (os=a)', 'compile (os=b)', 'assets'],
      e2e: ['assets'],
      release: ['unit', 'e2e'],
      early: [],
      loose: [],
    });
    expect(jobs.map((j) => j.id)).toEqual(['compile (os=a)', 'compile (os=b)', 'assets', 'unit', 'e2e', 'release', 'early', 'loose']);
  });
});

describe('conditions at plan time', () => {
  const text = [
    'jobs:',
    "  build: { image: x, if: \"event == 'tag'\", steps: [{run: x}] }",
    '  report: { image: x, needs: [build], if: always(), steps: [{run: x}] }',
    '  notify: { image: x, needs: [build], if: failure(), steps: [{run: x}] }',
    '  test: { image: x, needs: [build], steps: [{run: x}] }',
    '  per-os:',
    '    image: x',
    "    if: matrix.os != 'windows'",
    '    matrix: { os: [linux, windows] }',
    '    steps: [{run: x, if: "failure()"}]',
  ].join('\n');

  it('decides conditions without status functions and leaves the rest for run time', () => {
    const jobs = plan(text).plan?.jobs ?? [];
    const view = Object.fromEntries(jobs.map((j) => [j.id, j.skipped]));
    expect(view).toEqual({ build: true, report: false, notify: false, test: true, 'per-os (os=linux)': false, 'per-os (os=windows)': true });
    expect(jobs.find((j) => j.id === 'report')?.if).toBe('always()');
    expect(jobs.find((j) => j.id === 'per-os (os=linux)')?.steps[0].if).toBe('failure()');
  });
});

describe('matrix limits at plan time', () => {
  it('applies a smaller cap given by the caller', () => {
    const r = plan('jobs:\n  t:\n    image: x\n    matrix: { a: [1, 2, 3], b: [1, 2] }\n    steps: [{run: x}]\n', push, { matrixCap: 4, matrixWarnAt: 2 });
    expect(r.plan).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toEqual(['MATRIX_TOO_LARGE']);
    expect(r.diagnostics[0].message).toContain("job 't': matrix expands to 6 jobs, more than the cap of 4");
  });

  it('flattens object matrix values into dotted keys usable in expressions', () => {
    const r = plan('jobs:\n  t:\n    image: "node:${{ matrix.node.version }}"\n    matrix:\n      node: [{version: 14}, {version: 20, env: X}]\n    steps: [{run: x}]\n');
    expect(r.plan?.jobs.map((j) => [j.id, j.image])).toEqual([
      ['t (node.version=14)', 'node:14'],
      ['t (node.version=20, node.env=X)', 'node:20'],
    ]);
  });
});
