import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';

const KILN = resolve('bin/kiln.js');
let dir: string;

function kiln(args: string[]) {
  const r = spawnSync(process.execPath, [KILN, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

const MAIN = `name: split
on:
  push: { branches: [main], paths: ['src/**', 'ci/**'] }
include: [ci/test.yml]
jobs:
  build: { image: alpine, steps: [{ run: make }] }
`;

describe('kiln validate, plan and run with includes and path filters', () => {
  beforeAll(() => ensureBuilt());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-include-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('validates the included files of the working tree with the main file', () => {
    write({ '.kiln.yml': MAIN, 'ci/test.yml': "jobs:\n  docs:\n    image: alpine\n    if: changed('docs/**')\n    needs: build\n    steps: [{ run: make docs }]\n" });
    expect(kiln(['validate'])).toEqual({ code: 0, stdout: '.kiln.yml: ok (2 jobs)\n', stderr: '' });
  });

  it('reports an error of an included file at its own line and column', () => {
    write({ '.kiln.yml': MAIN, 'ci/test.yml': 'jobs:\n  unit:\n    image: alpine\n    needs: [biuld]\n    steps: [{ run: make test }]\n' });
    const r = kiln(['validate']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("ci/test.yml:4:13: job 'unit' needs 'biuld', which does not exist (did you mean 'build'?)\n");
  });

  it('names the included file beside a main file given with a directory', () => {
    write({ 'repo/.kiln.yml': MAIN, 'repo/ci/test.yml': 'jobs:\n  build: { image: alpine, steps: [{ run: x }] }\n' });
    const r = kiln(['validate', 'repo/.kiln.yml']);
    expect(r.stdout).toBe("repo/ci/test.yml:2:3: job 'build' is also defined in repo/.kiln.yml:6:3; job names must be unique across included files\n");
  });

  it('plans a push that touches only docs/ as not triggered, and one touching src/ as triggered', () => {
    write({ '.kiln.yml': MAIN, 'ci/test.yml': "jobs:\n  docs:\n    image: alpine\n    if: changed('docs/**')\n    steps: [{ run: make docs }]\n" });
    const docsOnly = JSON.parse(kiln(['plan', '--json', '--changed', 'docs/a.md']).stdout);
    expect(docsOnly.triggered).toBe(false);
    const src = JSON.parse(kiln(['plan', '--json', '--changed', 'src/a.c']).stdout);
    expect(src.triggered).toBe(true);
    expect(src.jobs.map((j: { id: string; skipped: boolean }) => [j.id, j.skipped])).toEqual([['build', false], ['docs', true]]);
  });

  it('refuses to run a pipeline whose include is missing, naming the entry', () => {
    write({ '.kiln.yml': MAIN });
    const r = kiln(['run', '--repo', '.']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(".kiln.yml:4:11: included file 'ci/test.yml' does not exist\n");
  });
});
