import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
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

const VALID = `name: web-app
on:
  push: { branches: [main, 'release/*'], tags: ['v*'] }
  pull_request: { branches: [main] }
stages: [build, test, deploy]
jobs:
  build:
    stage: build
    image: node:22
    steps:
      - run: npm ci
  test:
    stage: test
    image: "node:\${{ matrix.node }}"
    if: branch == 'main' || event == 'pull_request'
    matrix:
      node: ['20', '22']
      os: [alpine, bookworm]
    steps:
      - name: Test
        run: echo "testing \${{ branch }}"
  deploy:
    stage: deploy
    image: alpine
    if: event == 'tag'
    steps:
      - run: echo deploy
`;

describe('kiln validate and kiln plan', () => {
  beforeAll(() => ensureBuilt());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-pipeline-cli-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('kiln validate', () => {
    it('exits 0 for a valid .kiln.yml in the current directory', () => {
      writeFileSync(join(dir, '.kiln.yml'), VALID);
      const r = kiln(['validate']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('.kiln.yml: ok (3 jobs)\n');
    });

    it('exits 1 with one FILE:LINE:COL: message line per problem', () => {
      writeFileSync(
        join(dir, 'bad.yml'),
        'jobs:\n  build:\n    imgae: node\n    steps: [{run: x}]\n  deploy:\n    image: alpine\n    needs: [biuld]\n    if: "branch = \'main\'"\n    steps: [{run: x}]\n',
      );
      const r = kiln(['validate', 'bad.yml']);
      expect(r.code).toBe(1);
      expect(r.stdout.trimEnd().split('\n')).toEqual([
        "bad.yml:3:5: unknown key 'imgae' in job 'build' (did you mean 'image'?)",
        "bad.yml:7:13: job 'deploy' needs 'biuld', which does not exist (did you mean 'build'?)",
        "bad.yml:8:17: job 'deploy': invalid if expression: unexpected '=' (did you mean '=='?) (column 8)",
      ]);
      expect(r.stderr).toBe('');
    });

    it('names a cycle', () => {
      writeFileSync(join(dir, 'c.yml'), 'jobs:\n  lint: {image: x, needs: [build], steps: [{run: x}]}\n  build: {image: x, needs: [test], steps: [{run: x}]}\n  test: {image: x, needs: [lint], steps: [{run: x}]}\n');
      const r = kiln(['validate', 'c.yml']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('c.yml:2:28: cycle: lint -> build -> test -> lint (each job needs the next)\n');
    });

    it('prints warnings but still exits 0', () => {
      const values = JSON.stringify(Array.from({ length: 9 }, (_, i) => `v${i}`));
      writeFileSync(join(dir, 'w.yml'), `jobs:\n  t:\n    image: x\n    matrix: { a: ${values}, b: ${values} }\n    steps: [{run: x}]\n`);
      const r = kiln(['validate', 'w.yml']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("w.yml:4:5: warning: job 't': matrix expands to 81 jobs (more than 64)\nw.yml: ok (1 job)\n");
    });

    it('exits 2 for a missing file, an unreadable file and unknown flags', () => {
      expect(kiln(['validate', 'nope.yml'])).toMatchObject({ code: 2, stdout: '', stderr: 'kiln validate: cannot read nope.yml: no such file\n' });
      const r = kiln(['validate', '--strict']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("kiln validate: unknown option '--strict'\nrun 'kiln validate --help' for usage\n");
      if (process.getuid?.() !== 0) {
        writeFileSync(join(dir, 'locked.yml'), VALID);
        chmodSync(join(dir, 'locked.yml'), 0o000);
        expect(kiln(['validate', 'locked.yml']).code).toBe(2);
      }
      expect(kiln(['validate', 'a.yml', 'b.yml']).code).toBe(2);
    });
  });

  describe('kiln plan', () => {
    beforeEach(() => writeFileSync(join(dir, '.kiln.yml'), VALID));

    it('prints the JSON plan in topological order with matrix values, needs, stages and skips', () => {
      const r = kiln(['plan', '--event', 'push', '--branch', 'main', '--sha', 'abc1234', '--json']);
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as {
        pipeline: string;
        priority: string;
        triggered: boolean;
        jobs: Array<{ id: string; name: string; matrix: Record<string, string>; image: string; needs: string[]; stage: string | null; skipped: boolean; skipReason: string | null; steps: Array<{ name: string; run: string; if: string }> }>;
      };
      expect(plan).toMatchObject({ pipeline: 'web-app', priority: 'normal', triggered: true });
      expect(plan.jobs.map((j) => j.id)).toEqual([
        'build',
        'test (node=20, os=alpine)',
        'test (node=20, os=bookworm)',
        'test (node=22, os=alpine)',
        'test (node=22, os=bookworm)',
        'deploy',
      ]);
      expect(plan.jobs[1]).toEqual({
        id: 'test (node=20, os=alpine)',
        name: 'test (node=20, os=alpine)',
        matrix: { node: '20', os: 'alpine' },
        image: 'node:20',
        needs: ['build'],
        stage: 'test',
        skipped: false,
        skipReason: null,
        steps: [{ name: 'Test', run: 'echo "testing ${KILN_EXPR_0}"', if: 'success()' }],
      });
      expect(plan.jobs[5]).toMatchObject({ skipped: true, skipReason: "condition `event == 'tag'` is false", needs: plan.jobs.slice(1, 5).map((j) => j.id) });
    });

    it('plans a tag event: only tag globs decide whether it triggers', () => {
      const r = kiln(['plan', '--tag', 'v1.0.0', '--json']);
      const plan = JSON.parse(r.stdout) as { triggered: boolean; jobs: Array<{ id: string; skipped: boolean }> };
      expect(plan.triggered).toBe(true);
      expect(plan.jobs.filter((j) => !j.skipped).map((j) => j.id)).toEqual(['build']);
      const other = JSON.parse(kiln(['plan', '--event', 'push', '--branch', 'feature/x', '--json']).stdout) as { triggered: boolean };
      expect(other.triggered).toBe(false);
    });

    it('prints a human table by default', () => {
      const r = kiln(['plan', '--branch', 'feature/x']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('pipeline web-app · priority normal · push feature/x');
      expect(r.stdout).toContain('triggered: no');
      expect(r.stdout).toMatch(/test \(node=20, os=alpine\)\s+test\s+node:20\s+build\s+1\s+skipped: condition/);
    });

    it('keeps a hostile branch name out of every script', () => {
      const hostile = 'x;$(touch${IFS}/tmp/pwned)';
      const r = kiln(['plan', '--branch', hostile, '--event', 'pull_request', '--base', 'main', '--json']);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('pwned');
    });

    it('exits 1 with positioned diagnostics for an invalid file and for a plan-time error', () => {
      writeFileSync(join(dir, 'bad.yml'), 'jobs:\n  a: {image: x, needs: [b], steps: [{run: x}]}\n');
      expect(kiln(['plan', 'bad.yml'])).toMatchObject({ code: 1, stdout: "bad.yml:2:25: job 'a' needs 'b', which does not exist\n" });
      writeFileSync(join(dir, 'req.yml'), 'jobs:\n  deploy:\n    image: "${TARGET:?set TARGET}"\n    steps: [{run: x}]\n');
      expect(kiln(['plan', 'req.yml'])).toMatchObject({ code: 1, stdout: 'req.yml:3:12: jobs.deploy.image: ${TARGET} is required: set TARGET\n' });
    });

    it('exits 2 for unknown flags, unknown events and missing files', () => {
      for (const args of [['plan', '--bogus'], ['plan', '--event', 'release'], ['plan', 'missing.yml'], ['plan', '--event', 'tag']]) {
        const r = kiln(args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stdout).toBe('');
      }
    });
  });
});
