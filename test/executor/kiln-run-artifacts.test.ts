import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

// `artifacts:` under `kiln run`: the built CLI on real Docker, with a cache directory of its own.
const KILN = resolve('bin/kiln.js');
let dir: string;

function kiln(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [KILN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

/** Every file under `root`, as relative path → content. */
function filesUnder(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(root, p)] = e.isSymbolicLink() ? '<symlink>' : readFileSync(p, 'utf8');
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** The directory a line `artifacts of JOB: … in DIR` names. */
function dirOf(stdout: string, job: string): string {
  const m = new RegExp(`^artifacts of ${job.replace(/[()]/g, '\\$&')}: \\d+ files? \\([^)]*\\) in (\\S+?)(?:;|$)`, 'm').exec(stdout);
  if (!m) throw new Error(`no artifacts line for ${job} in:\n${stdout}`);
  return m[1];
}

beforeAll(() => {
  ensureBuilt();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-run-art-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kiln run with artifacts:', () => {
  it('copies each job\'s files with their content under the cache directory, names where per job, and hands them to the jobs that need them', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: art
jobs:
  build:
    image: ${TEST_IMAGE}
    matrix: { v: [a] }
    artifacts: { paths: ['dist/**', 'coverage', 'bin/tool'] }
    steps: [{ run: 'mkdir -p dist/sub bin && echo "app \${{ matrix.v }}" > dist/app.txt && echo deep > dist/sub/d.txt && printf "#!/bin/sh\\n" > bin/tool && chmod 755 bin/tool && echo no > other.txt' }]
  use:
    image: ${TEST_IMAGE}
    needs: [build]
    artifacts: { paths: [report.txt] }
    steps: [{ name: Use, run: 'cat dist/app.txt dist/sub/d.txt > report.txt && cat report.txt' }]
  nothing:
    image: ${TEST_IMAGE}
    artifacts: { paths: ['out/**'] }
    steps: [{ run: 'true' }]
  plain:
    image: ${TEST_IMAGE}
    steps: [{ run: 'true' }]
`);
    const r = kiln(['run']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).not.toContain('not kept');

    const build = dirOf(r.stdout, 'build (v=a)');
    expect(build.startsWith(join(dir, 'cache', 'kiln', 'run', 'artifacts'))).toBe(true);
    expect(build).toMatch(/\/artifacts\/kiln-run-art-[^/]+-[0-9a-f]{8}\/\d{8}-\d{6}-[0-9a-f]{4}\/build-v-a$/);
    expect(filesUnder(build)).toEqual({ 'dist/app.txt': 'app a\n', 'dist/sub/d.txt': 'deep\n', 'bin/tool': '#!/bin/sh\n' });
    expect(statSync(join(build, 'bin/tool')).mode & 0o111).not.toBe(0);
    // The job's log says what it copied and which pattern found nothing, in the server's words.
    expect(r.stdout).toMatch(/^\[build \(v=a\)\] artifacts: 3 files stored \(\d+ B\)$/m);
    expect(r.stdout).toContain("[build (v=a)] artifacts: no files match 'coverage'\n");
    expect(r.stdout).toMatch(/^artifacts of build \(v=a\): 3 files \(\d+ B\) in \S+; no files match 'coverage'$/m);

    // The needing job got them in its workspace, as under kiln serve.
    expect(r.stdout).toMatch(/^\[use\] artifacts from upstream jobs: 3 files \(\d+ B\) put into the workspace$/m);
    expect(filesUnder(dirOf(r.stdout, 'use'))).toEqual({ 'report.txt': 'app a\ndeep\n' });

    expect(r.stdout).toContain("[nothing] artifacts: no files match 'out/**'\n");
    expect(r.stdout).toContain("artifacts of nothing: none (no files match 'out/**')\n");
    expect(r.stdout).not.toMatch(/^artifacts of plain/m);
    // One line per job that declares artifacts, after the table, before the status.
    const tail = r.stdout.slice(r.stdout.indexOf('\nJOB ')).split('\n').filter((l) => l.startsWith('artifacts of '));
    expect(tail).toHaveLength(3);
    expect(r.stdout.trimEnd().endsWith('passed')).toBe(true);
  });

  it('never copies what a link points at, refuses a rendered pattern that leaves the workspace, and fails the job after copying the valid ones', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: esc
jobs:
  build:
    image: ${TEST_IMAGE}
    artifacts: { paths: ['dist/**', 'etc/**', '\${OUT}/**'] }
    steps: [{ run: 'mkdir -p dist && echo ok > dist/real.txt && ln -s /etc/passwd dist/passwd && ln -s /etc etc' }]
`);
    const r = kiln(['run', '--env', 'OUT=../outside']);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('[build] artifact dist/passwd skipped: it is a symlink to /etc/passwd, and links are not followed\n');
    expect(r.stdout).toContain('[build] artifact etc skipped: it is a symlink to /etc, and links are not followed\n');
    expect(r.stdout).toContain("[build] artifact pattern '../outside/**' refused: it contains '..': artifact patterns cannot leave the workspace\n");
    expect(r.stdout).toMatch(/\[build\] error: artifact pattern '\.\.\/outside\/\*\*' refused: patterns must be relative to the workspace/);
    const copied = dirOf(r.stdout, 'build');
    expect(r.stdout).toContain(`artifacts of build: 1 file (3 B) in ${copied}; refused: '../outside/**'\n`);
    expect(filesUnder(copied)).toEqual({ 'dist/real.txt': 'ok\n' });
    // Nothing was written beside the run's directory either.
    const runDir = resolve(copied, '..');
    expect(readdirSync(runDir)).toEqual(['build']);
    expect(r.stdout.trimEnd().endsWith('failed')).toBe(true);

    // Written literally, the same pattern is refused before anything runs, at its line.
    writeFileSync(join(dir, '.kiln.yml'), `name: esc\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    artifacts: { paths: ['../x/**'] }\n    steps: [{ run: 'true' }]\n`);
    const planned = kiln(['run']);
    expect(planned.code).toBe(2);
    expect(planned.stdout).toMatch(/\.kiln\.yml:5:\d+: job 'build' artifacts\.paths: artifact pattern '\.\.\/x\/\*\*' contains '\.\.'/);
  });

  it('copies into the directory --artifacts names, relative to the current directory, and creates nothing under the cache', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: opt
jobs:
  build:
    image: ${TEST_IMAGE}
    artifacts: { paths: [out.txt], when: always }
    steps: [{ run: 'echo made > out.txt; exit 3' }]
  later:
    image: ${TEST_IMAGE}
    needs: [build]
    artifacts: { paths: [never.txt] }
    steps: [{ run: 'true' }]
`);
    mkdirSync(join(dir, 'elsewhere'));
    const r = kiln(['run', '--repo', dir, '--artifacts', 'got'], join(dir, 'elsewhere'));
    expect(r.code, r.all).toBe(1);
    expect(filesUnder(join(dir, 'elsewhere', 'got'))).toEqual({ 'build/out.txt': 'made\n' });
    expect(r.stdout).toContain(`artifacts of build: 1 file (5 B) in ${join(dir, 'elsewhere', 'got', 'build')}\n`);
    expect(r.stdout).toContain('artifacts of later: none (the job was skipped)\n');
    expect(existsSync(join(dir, 'cache', 'kiln', 'run', 'artifacts'))).toBe(false);

    // A second run into the same directory replaces the file; --artifacts naming a file is bad input.
    writeFileSync(join(dir, '.kiln.yml'), readFileSync(join(dir, '.kiln.yml'), 'utf8').replace('echo made', 'echo again'));
    expect(kiln(['run', '--artifacts', 'got'], dir).code).toBe(1);
    expect(filesUnder(join(dir, 'got'))).toEqual({ 'build/out.txt': 'again\n' });
    writeFileSync(join(dir, 'a-file'), '');
    const bad = kiln(['run', '--artifacts', 'a-file']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^kiln run: cannot create the artifacts directory \S+a-file: /);
  });

  it('keeps the ten newest runs of a repository in the default directory, and nothing when no job declares artifacts', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: keep\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    artifacts: { paths: [o.txt] }\n    steps: [{ run: 'echo o > o.txt' }]\n`);
    const first = kiln(['run']);
    expect(first.code, first.all).toBe(0);
    const repoDir = resolve(dirOf(first.stdout, 'build'), '..', '..');
    const older = Array.from({ length: 11 }, (_, i) => `20200101-0000${String(i).padStart(2, '0')}-abcd`);
    for (const name of older) mkdirSync(join(repoDir, name, 'build'), { recursive: true });
    mkdirSync(join(repoDir, 'mine'));
    const second = kiln(['run']);
    expect(second.code, second.all).toBe(0);
    const left = readdirSync(repoDir).sort();
    // 9 earlier runs and this one; a directory the user put there is left alone.
    expect(left.filter((n) => n !== 'mine')).toHaveLength(10);
    expect(left).toContain('mine');
    expect(left).not.toContain(older[0]);
    expect(left).toContain(resolve(dirOf(second.stdout, 'build'), '..').split('/').pop());

    writeFileSync(join(dir, '.kiln.yml'), `name: none\njobs:\n  build:\n    image: ${TEST_IMAGE}\n    steps: [{ run: 'true' }]\n`);
    const none = kiln(['run', '--artifacts', 'unused']);
    expect(none.code, none.all).toBe(0);
    expect(none.stderr).toContain('kiln run: warning: --artifacts unused: no job in .kiln.yml declares artifacts:, so nothing will be copied there\n');
    expect(existsSync(join(dir, 'unused'))).toBe(false);
    expect(none.stdout).not.toContain('artifacts of');
  });
});
