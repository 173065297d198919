import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import { parsePipeline } from './parse.js';

const lines = (text: string) => parsePipeline(text, '.kiln.yml').diagnostics.map(formatDiagnostic);
const codes = (text: string) => parsePipeline(text, '.kiln.yml').diagnostics.map((d) => d.code);

describe('parsePipeline on a valid file', () => {
  const text = readFileSync(join(import.meta.dirname, 'testdata', 'product-example.kiln.yml'), 'utf8');
  const { pipeline, diagnostics } = parsePipeline(text, '.kiln.yml');

  it('accepts the product example (testdata/product-example.kiln.yml) without diagnostics', () => {
    expect(diagnostics).toEqual([]);
    expect(pipeline?.name).toBe('web-app');
  });

  it("reads 'on' as a key and keeps its branch and tag globs", () => {
    expect(pipeline?.on).toEqual({ push: { branches: ['main', 'release/*'], tags: ['v*'] }, pullRequest: { branches: ['main'] }, manual: true });
  });

  it('reads every job key, in dependency order, with stages turned into dependencies', () => {
    expect(pipeline?.jobs.map((j) => [j.key, j.dependsOn])).toEqual([
      ['build', []],
      ['test', ['build']],
      ['deploy', ['test']],
    ]);
  });

  it('reads timeouts, services, cache and artifacts', () => {
    const test = pipeline?.jobs[1];
    expect(test?.timeoutMs).toBe(15 * 60_000);
    expect(test?.services).toEqual([{ key: 'db', image: 'postgres:16', env: { POSTGRES_PASSWORD: 'pw' }, ports: [] }]);
    expect(test?.cache).toEqual({ key: "npm-${{ hashFiles('package-lock.json') }}", restoreKeys: ['npm-'], paths: ['node_modules'] });
    expect(test?.artifacts).toEqual({ paths: ['dist/**'], when: 'on_success', expireInMs: 30 * 86_400_000 });
    expect(test?.steps[1]).toMatchObject({ name: 'Test', if: 'success()', continueOnError: false, timeoutMs: 300_000 });
    expect(pipeline?.jobs[0].timeoutMs).toBe(60 * 60_000);
  });
});

describe('YAML type coercion', () => {
  const { pipeline, diagnostics } = parsePipeline(
    [
      'on:',
      '  push: { branches: [yes, no, on, off, 1.10] }',
      'env: { PY: 3.10, PORT: 5432, DEBUG: true, EMPTY: }',
      'jobs:',
      '  t:',
      '    image: python:3.10',
      '    matrix: { python: [3.10, 3.9, "3.11"], flag: [on, off] }',
      '    steps: [{ run: echo }]',
    ].join('\n'),
    'x.yml',
  );

  it('keeps yes/no/on/off as strings where a string is expected', () => {
    expect(diagnostics).toEqual([]);
    expect(pipeline?.on.push?.branches).toEqual(['yes', 'no', 'on', 'off', '1.10']);
  });

  it('keeps numeric-looking values as their source text', () => {
    expect(pipeline?.env).toEqual({ PY: '3.10', PORT: '5432', DEBUG: 'true', EMPTY: '' });
    expect(pipeline?.jobs[0].matrix).toEqual({ python: ['3.10', '3.9', '3.11'], flag: ['on', 'off'] });
  });
});

describe('anchors and merge keys', () => {
  const text = 'jobs:\n  a: &base\n    image: node\n    timeout: 5m\n    steps: [{run: x}]\n  b:\n    <<: *base\n    image: alpine\n';

  it('merges the anchored mapping and lets local keys override it', () => {
    const { pipeline, diagnostics } = parsePipeline(text, 'f.yml');
    expect(diagnostics).toEqual([]);
    expect(pipeline?.jobs.map((j) => [j.key, j.image, j.timeoutMs, j.steps.length])).toEqual([
      ['a', 'node', 300_000, 1],
      ['b', 'alpine', 300_000, 1],
    ]);
  });

  it('points problems in merged values at the anchored source', () => {
    const bad = text.replace('timeout: 5m', 'timeout: 5 min');
    expect(lines(bad)).toEqual([
      ".kiln.yml:4:14: job 'a' timeout: '5 min' is not a valid duration: use a duration like 90s, 15m, 1h30m or 30d",
      ".kiln.yml:4:14: job 'b' timeout: '5 min' is not a valid duration: use a duration like 90s, 15m, 1h30m or 30d",
    ]);
  });
});

describe('schema errors with positions', () => {
  it('reports an unknown key with a did-you-mean at the key', () => {
    expect(lines('jobs:\n  a:\n    imgae: x\n    image: y\n    steps: [{run: x}]\n')).toEqual([
      ".kiln.yml:3:5: unknown key 'imgae' in job 'a' (did you mean 'image'?)",
    ]);
  });

  it('lists the known keys when nothing is close', () => {
    expect(lines('jobs: {a: {image: y, steps: [{run: x}]}}\nwhatever: 1\n')[0]).toBe(
      ".kiln.yml:2:1: unknown key 'whatever' at the top level (known keys: name, on, priority, concurrency, env, stages, jobs, include)",
    );
  });

  it('reports wrong types at the value', () => {
    expect(lines('jobs:\n  a:\n    image: y\n    steps:\n      - run: [x]\n        continue-on-error: yes\n')).toEqual([
      ".kiln.yml:5:14: job 'a': steps[0].run must be a string, got a list",
      ".kiln.yml:6:28: job 'a': steps[0].continue-on-error must be a boolean (true or false), got 'yes'",
    ]);
  });

  it('reports a missing required key at the job', () => {
    expect(lines('jobs:\n  deploy:\n    steps: [{run: x}]\n')).toEqual([".kiln.yml:2:3: job 'deploy' is missing required key 'image'"]);
  });

  it('reports bad enum values with a suggestion', () => {
    expect(lines('priority: hihg\njobs: {a: {image: y, steps: [{run: x}]}}\n')).toEqual([
      ".kiln.yml:1:11: priority must be one of low, normal, high, critical, got 'hihg' (did you mean 'high'?)",
    ]);
  });

  it('reports invalid job names at the key', () => {
    expect(lines('jobs:\n  "bad name":\n    image: y\n    steps: [{run: x}]\n')).toEqual([
      ".kiln.yml:2:3: invalid job name 'bad name': use letters, digits, _ and -, starting with a letter or _",
    ]);
  });

  it('reports a document that is not a mapping', () => {
    expect(codes('- a\n- b\n')).toEqual(['WRONG_TYPE']);
    expect(codes('')).toEqual(['WRONG_TYPE']);
  });

  it('reports YAML syntax errors with their position', () => {
    const out = parsePipeline('jobs:\n  a: [unclosed\n', 'f.yml').diagnostics;
    expect(out.length).toBeGreaterThan(0);
    expect(out[0]).toMatchObject({ code: 'YAML_SYNTAX', file: 'f.yml', severity: 'error' });
    expect(out[0].line).toBeGreaterThan(0);
  });

  it('reports a duplicated job key as a duplicate job', () => {
    const out = parsePipeline('jobs:\n  a: {image: x, steps: [{run: x}]}\n  a: {image: y, steps: [{run: y}]}\n', 'f.yml').diagnostics;
    expect(out.map(formatDiagnostic)).toEqual(['f.yml:3:3: duplicate job name: job keys under jobs must be unique']);
    expect(out[0].code).toBe('DUPLICATE_JOB');
  });
});

describe('semantic errors', () => {
  it('reports needs naming a missing job, with a suggestion', () => {
    expect(lines('jobs:\n  build: {image: x, steps: [{run: x}]}\n  deploy:\n    image: x\n    needs: [biuld]\n    steps: [{run: x}]\n')).toEqual([
      ".kiln.yml:5:13: job 'deploy' needs 'biuld', which does not exist (did you mean 'build'?)",
    ]);
  });

  it('names a cycle in needs order', () => {
    const text = 'jobs:\n  lint: {image: x, needs: [build], steps: [{run: x}]}\n  build: {image: x, needs: test, steps: [{run: x}]}\n  test: {image: x, needs: [lint], steps: [{run: x}]}\n';
    expect(lines(text)).toEqual(['.kiln.yml:2:28: cycle: lint -> build -> test -> lint (each job needs the next)']);
  });

  it('rejects a self-dependency', () => {
    expect(lines('jobs:\n  lint: {image: x, needs: [lint], steps: [{run: x}]}\n')).toEqual([
      ".kiln.yml:2:28: cycle: lint -> lint (job 'lint' needs itself)",
    ]);
  });

  it('finds cycles created by a needs against the stage order', () => {
    const text = 'stages: [a, b]\njobs:\n  one: {stage: a, image: x, needs: [two], steps: [{run: x}]}\n  two: {stage: b, image: x, steps: [{run: x}]}\n';
    expect(lines(text)).toEqual(['.kiln.yml:3:37: cycle: one -> two -> one (each job needs the next)']);
  });

  it('reports an unknown stage with a suggestion', () => {
    expect(lines('stages: [build, test]\njobs:\n  a: {stage: tset, image: x, steps: [{run: x}]}\n')).toEqual([
      ".kiln.yml:3:14: job 'a' is in stage 'tset', which does not exist (did you mean 'test'?); stages are build, test",
    ]);
  });

  it('reports a stage listed twice', () => {
    expect(codes('stages: [a, a]\njobs: {j: {image: x, steps: [{run: x}]}}\n')).toEqual(['INVALID_VALUE']);
  });

  it('points into a malformed if expression', () => {
    expect(lines("jobs:\n  a:\n    image: x\n    if: branch == 'main' &&\n    steps: [{run: x}]\n")).toEqual([
      ".kiln.yml:4:28: job 'a': invalid if expression: expected a value, found end of expression (column 20)",
    ]);
    expect(lines('jobs:\n  a:\n    image: x\n    steps:\n      - run: x\n        if: "brnch == \'x\'"\n')).toEqual([
      ".kiln.yml:6:14: job 'a' steps[0]: invalid if expression: unknown identifier 'brnch' (did you mean 'branch'?) (column 1)",
    ]);
  });

  it('reports bad durations', () => {
    expect(lines('jobs:\n  a:\n    image: x\n    timeout: 15 minutes\n    steps: [{run: x, timeout: 1.5h}]\n')).toEqual([
      ".kiln.yml:4:14: job 'a' timeout: '15 minutes' is not a valid duration: use a duration like 90s, 15m, 1h30m or 30d",
      ".kiln.yml:5:31: job 'a' steps[0] timeout: '1.5h' is not a valid duration: use a duration like 90s, 15m, 1h30m or 30d",
    ]);
  });

  it('reports malformed templates in fields outside run', () => {
    expect(lines('jobs:\n  a:\n    image: "node:${{ matrx.node }}"\n    steps: [{run: x}]\n')).toEqual([
      ".kiln.yml:3:22: job 'a' image: unknown identifier 'matrx' (did you mean 'matrix'?) (column 10)",
    ]);
  });

  it('reports matrices over the cap as errors and large ones as warnings', () => {
    const ten = JSON.stringify(Array.from({ length: 10 }, (_, i) => `v${i}`));
    const big = parsePipeline(`jobs:\n  t:\n    image: x\n    matrix: { a: ${ten}, b: ${ten}, c: ${ten} }\n    steps: [{run: x}]\n`, 'f.yml');
    expect(big.diagnostics.map(formatDiagnostic)).toEqual([
      "f.yml:4:5: job 't': matrix expands to 1000 jobs, more than the cap of 256; reduce the matrix or exclude combinations",
    ]);
    expect(big.pipeline).toBeUndefined();
    const large = parsePipeline(`jobs:\n  t:\n    image: x\n    matrix: { a: ${ten}, b: ${ten} }\n    steps: [{run: x}]\n`, 'f.yml');
    expect(large.pipeline).toBeDefined();
    expect(large.diagnostics.map(formatDiagnostic)).toEqual(["f.yml:4:5: warning: job 't': matrix expands to 100 jobs (more than 64)"]);
  });

  it('reports every problem of a file at once', () => {
    const text = [
      'priorty: high',
      'stages: [build]',
      'jobs:',
      '  build:',
      '    stage: biuld',
      '    image: node',
      '    needs: [nope]',
      "    if: branch = 'main'",
      '    timeout: soon',
      '    steps: []',
      '  test:',
      '    steps: [{run: x}]',
    ].join('\n');
    expect(codes(text)).toEqual(['UNKNOWN_KEY', 'UNKNOWN_STAGE', 'UNKNOWN_NEEDS', 'EXPRESSION', 'INVALID_VALUE', 'INVALID_VALUE', 'MISSING_KEY']);
  });
});
