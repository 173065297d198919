import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

const KILN = resolve('bin/kiln.js');
let dir: string;

/** `kiln run` on the repository in `dir`, as a user runs it; `env` adds to (or, with undefined, removes from) the environment. */
function kiln(args: string[], env: Record<string, string | undefined> = {}) {
  const merged: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), TMPDIR: join(dir, 'tmp'), NO_COLOR: undefined, FORCE_COLOR: undefined, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  execFileSync('mkdir', ['-p', join(dir, 'tmp')]);
  const r = spawnSync(process.execPath, [KILN, 'run', '--repo', join(dir, 'repo'), ...args], { encoding: 'utf8', env: merged });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A git repository with this pipeline, committed. */
function repository(pipeline: string): void {
  const repo = join(dir, 'repo');
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } });
  execFileSync('mkdir', ['-p', repo]);
  git('init', '-q', '-b', 'main');
  writeFileSync(join(repo, '.kiln.yml'), pipeline);
  writeFileSync(join(repo, 'junit.xml'), `<testsuites><testsuite name="math">
<testcase classname="math.test" name="adds" time="0.01"/>
<testcase classname="math.test" name="subtracts" time="0.02"><failure message="expected 3 to be 4">AssertionError: expected 3 to be 4
    at subtracts (math.test.js:7:5)
    at line3
    at line4
    at line5
    at line6
    at line7</failure></testcase>
<testcase classname="math.test" name="divides" time="0.5"><error message="division by zero"/></testcase>
<testcase classname="math.test" name="rounds"><skipped/></testcase>
</testsuite></testsuites>
`);
  git('add', '.');
  git('commit', '-q', '-m', 'one');
}

beforeAll(() => {
  ensureBuilt();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-run-results-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kiln run after the run', () => {
  it('prints each job\'s annotations like a compiler, its test totals and failed cases, its summary as text and its outputs, before the job table', () => {
    repository(`name: results
jobs:
  build:
    image: ${TEST_IMAGE}
    outputs: { version: '\${{ steps.ver.outputs.version }}' }
    steps:
      - name: Lint
        run: |
          echo "::notice::lint took 3 s"
          echo "::warning file=src/b.ts,line=4::unused variable x"
          echo "::error file=src/a.ts,line=12,col=3,title=Type error::Type 'string' is not assignable to 'number'"
      - id: ver
        name: Version
        run: echo "version=1.2.3" >> "$KILN_OUTPUT"
      - name: Coverage
        run: |
          printf '## Coverage: 87 %%\\n\\n| package | lines |\\n| --- | --- |\\n| core | 91 %% |\\n\\nSee [the report](https://example.com/cov).\\n' >> "$KILN_SUMMARY"
  test:
    image: ${TEST_IMAGE}
    reports: { junit: ['reports/*.xml'] }
    steps:
      - name: Test
        run: |
          mkdir -p reports
          cp junit.xml reports/junit.xml
          printf '<testsuite><testcase name="cut' > reports/broken.xml
          exit 1
`);
    const r = kiln([]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const after = r.stdout.slice(r.stdout.indexOf('\nbuild: '));
    expect(after).toContain(`
build: 3 annotations: 1 error, 1 warning, 1 notice
error    src/a.ts:12:3  Type error: Type 'string' is not assignable to 'number'
warning  src/b.ts:4  unused variable x
notice   lint took 3 s

build: summary (step 'Coverage')
  Coverage: 87 %

  package  lines
  -------  -----
  core     91 %

  See the report (https://example.com/cov).

build: outputs: version=1.2.3

test: 1 annotation: 1 error
error    step 'Test' failed with exit code 1

test: test reports: 1 file, 4 tests: 1 failed, 1 errored, 1 skipped
unreadable  reports/broken.xml:1:`);
    expect(after).toContain(`
failed   math.test › subtracts  (reports/junit.xml)
         expected 3 to be 4
         │ AssertionError: expected 3 to be 4
         │     at subtracts (math.test.js:7:5)
         │     at line3
         │     at line4
         │     at line5
         │ … 2 more lines
errored  math.test › divides  (reports/junit.xml)
         division by zero
`);
    // The job table and the run's status stay last; no colour when stdout is not a terminal.
    expect(after).toMatch(/\n\nJOB\s+STATUS\s+DURATION\nbuild\s+passed\s.*\ntest\s+failed\s.*\ntest: step 'Test' failed with exit code 1\nfailed\n$/);
    expect(r.stdout).not.toContain('\x1b[');
    // The job's log says the same totals as on the engine.
    expect(r.stdout).toContain('[test] test reports: 1 file, 4 tests: 1 failed, 1 errored, 1 skipped\n');
  });

  it('cuts a long summary to its first lines and writes the whole Markdown to a file it names', () => {
    repository(`name: long
jobs:
  docs:
    image: ${TEST_IMAGE}
    steps:
      - name: Table
        run: |
          echo '# Results' >> "$KILN_SUMMARY"
          for i in $(seq 1 40); do echo "- item $i" >> "$KILN_SUMMARY"; done
`);
    const r = kiln([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("\ndocs: summary (step 'Table')\n  Results\n\n  - item 1\n");
    expect(r.stdout).toContain('  - item 18\n');
    expect(r.stdout).not.toContain('  - item 19\n');
    const cut = /\n {2}… 22 more lines; the whole Markdown is in (\S+)\n/.exec(r.stdout);
    expect(cut, r.stdout).not.toBeNull();
    const file = cut?.[1] ?? '';
    expect(file.startsWith(join(dir, 'tmp'))).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('# Results\n- item 1\n');
    expect(readFileSync(file, 'utf8')).toContain('- item 40\n');
  });

  it('colours annotations and headings when asked (FORCE_COLOR), and never lets a step\'s escape sequences through', () => {
    repository(`name: colour
jobs:
  lint:
    image: ${TEST_IMAGE}
    steps:
      - name: Lint
        run: |
          echo "::error file=src/a.ts,line=1::bad"
          printf '## Done \\033]0;pwned\\007\\033[2J\\n' >> "$KILN_SUMMARY"
`);
    const r = kiln([], { FORCE_COLOR: '1' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('\n\x1b[1mlint: 1 annotation: 1 error\x1b[0m\n\x1b[31merror  \x1b[0m  src/a.ts:1  bad\n');
    const summary = r.stdout.slice(r.stdout.indexOf('lint: summary'));
    expect(summary).toContain('\x1b[1mDone ]0;pwned[2J\x1b[0m');
    expect(summary).not.toContain('\x1b]');
    expect(summary).not.toContain('\x07');
    const plain = kiln([], { NO_COLOR: '1' });
    expect(plain.stdout).toContain('\nlint: 1 annotation: 1 error\nerror    src/a.ts:1  bad\n');
  });

  it('prints nothing more for a job without annotations, reports, summary or outputs', () => {
    repository(`name: quiet\njobs:\n  q:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Q, run: echo hi }]\n`);
    const r = kiln([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\n\[q[^\n]*\n\nJOB\s+STATUS\s+DURATION\nq\s+passed/);
  });
});
