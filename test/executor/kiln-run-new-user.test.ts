import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

// What a first-time user of `kiln run` meets: the built CLI, a fresh cache directory, real Docker.
// (needs.<job>.result under both runners: test/flow/needs-result.test.ts.)
const KILN = resolve('bin/kiln.js');
let dir: string;

function kiln(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [KILN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function gitRepo(files: Record<string, string>): { repo: string; git: (...args: string[]) => string } {
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } }).trim();
  git('init', '-q', '-b', 'main');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
  git('add', '.');
  git('commit', '-q', '-m', 'one');
  return { repo, git };
}

beforeAll(() => {
  ensureBuilt();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-run-new-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kiln run, as a new user meets it', () => {
  it('keeps cache: between runs (a second run hits and restores it) and says where the artifacts: went', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: ca
jobs:
  build:
    image: ${TEST_IMAGE}
    cache: { key: deps-v1, paths: [deps] }
    artifacts: { paths: [out.txt] }
    steps: [{ name: Deps, run: 'cat deps/made 2>/dev/null || { mkdir -p deps; echo made-once > deps/made; }; echo x > out.txt' }]
  plain:
    image: ${TEST_IMAGE}
    steps: [{ run: 'true' }]
`);
    const first = kiln(['run']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('[build] cache miss: deps-v1\n');
    expect(first.stdout).not.toContain('[build › Deps] made-once');
    expect(first.stdout).toMatch(/^artifacts of build: 1 file \(2 B\) in \S+\/cache\/kiln\/run\/artifacts\/\S+\/build$/m);
    expect(first.stdout).not.toMatch(/^artifacts of plain/m);
    const second = kiln(['run']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/\[build\] cache hit: deps-v1 \(/);
    expect(second.stdout).toContain('[build › Deps] made-once\n');
    expect(readdirSync(join(dir, 'cache', 'kiln', 'run'))).toContain('kiln.db');
  });

  it('names uncommitted changes the checkout leaves out, and --worktree runs them', () => {
    const { repo } = gitRepo({
      'f.txt': 'committed\n', 'g.txt': 'g\n',
      '.kiln.yml': `name: w\njobs:\n  show:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Show, run: 'cat f.txt' }]\n`,
    });
    writeFileSync(join(repo, 'f.txt'), 'edited\n');
    writeFileSync(join(repo, 'g.txt'), 'edited\n');
    writeFileSync(join(repo, 'untracked.txt'), 'new\n');
    const atHead = kiln(['run', '--repo', repo]);
    expect(atHead.code, atHead.stdout + atHead.stderr).toBe(0);
    expect(atHead.stdout).toContain('[show › Show] committed\n');
    expect(atHead.stderr).toContain('kiln run: 2 files changed and not committed are not in the checkout (f.txt, g.txt); commit them or use --worktree\n');
    const worktree = kiln(['run', '--repo', repo, '--worktree']);
    expect(worktree.code, worktree.stdout + worktree.stderr).toBe(0);
    expect(worktree.stdout).toContain('[show › Show] edited\n');
    expect(worktree.stderr).not.toContain('not in the checkout');
    expect(kiln(['run', '--repo', repo, '--worktree', '--ref', 'HEAD']).stderr).toContain('--worktree runs the working tree as it is, so it takes no --ref');
  });

  it('a clean checkout gets no warning', () => {
    const { repo } = gitRepo({ '.kiln.yml': `name: w\njobs:\n  show:\n    image: ${TEST_IMAGE}\n    steps: [{ run: 'true' }]\n` });
    writeFileSync(join(repo, 'untracked.txt'), 'new\n');
    const r = kiln(['run', '--repo', repo]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('masks no --secret that no job is given, and warns that a short declared one is masked wherever it appears', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: s\njobs:\n  show:\n    image: ${TEST_IMAGE}\n    secrets: [PIN]\n    steps: [{ name: Show, run: 'echo "xxx box pin=$PIN"' }]\n`);
    const r = kiln(['run', '--secret', 'UNUSED=x', '--secret', 'PIN=q7']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[show › Show] xxx box pin=***\n');
    expect(r.stderr).toContain('kiln run: warning: --secret UNUSED is declared by no job');
    expect(r.stderr).toContain('kiln run: warning: --secret PIN is 2 characters long; it will be masked as *** wherever those characters appear in the logs\n');
    expect(r.stderr).not.toContain('q7');
  });
});

describe('kiln CLI errors', () => {
  it('prints one line and where the usage is, never the whole usage', () => {
    const cases: [string[], string][] = [
      [['run', '--secret', ''], "kiln run: invalid secret '': expected NAME=VALUE"],
      [['run', '--frob'], "kiln run: unknown option '--frob'"],
      [['run', '--paralel', '2'], "kiln run: unknown option '--paralel' (did you mean --parallel?)"],
      [['run', '--repo'], 'kiln run: --repo needs a value'],
      [['run', '--debug=yes'], 'kiln run: --debug takes no value'],
      [['plan', '--jsn'], "kiln plan: unknown option '--jsn' (did you mean --json?)"],
      [['validate', '--strict'], "kiln validate: unknown option '--strict'"],
    ];
    for (const [args, line] of cases) {
      const r = kiln(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: `${line}\nrun 'kiln ${args[0]} --help' for usage\n` });
    }
  });

  it('kiln serve: a bad port or a mistyped flag is one line too', () => {
    expect(kiln(['serve', '--port', 'x']).stderr).toBe("kiln serve: --port must be a port number (0-65535), got 'x'\nrun 'kiln serve --help' for usage\n");
    expect(kiln(['serve', '--prot', '1']).stderr).toBe("kiln serve: unknown option '--prot' (did you mean --port?)\nrun 'kiln serve --help' for usage\n");
  });

  it('says a --repo directory does not exist, and a bad --ref in one line', () => {
    const missing = kiln(['run', '--repo', join(dir, 'nonexistent')]);
    expect(missing).toMatchObject({ code: 2, stderr: `kiln run: --repo ${join(dir, 'nonexistent')}: no such directory\nrun 'kiln run --help' for usage\n` });
    const { repo } = gitRepo({ '.kiln.yml': `name: w\njobs:\n  a:\n    image: ${TEST_IMAGE}\n    steps: [{ run: 'true' }]\n` });
    const ref = kiln(['run', '--repo', repo, '--ref', 'nosuchref']);
    expect(ref).toMatchObject({ code: 2, stderr: `kiln run: 'nosuchref' is not a commit in ${repo}\nrun 'kiln run --help' for usage\n` });
  });

  it('kiln plan in a git repository shows HEAD\'s commit', () => {
    const { repo, git } = gitRepo({ '.kiln.yml': `name: p\njobs:\n  a:\n    image: ${TEST_IMAGE}\n    steps: [{ run: 'true' }]\n` });
    const head = git('rev-parse', 'HEAD');
    const r = kiln(['plan'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`push main @ ${head.slice(0, 7)}\n`);
  });

  it('keeps the bare mirror of a local repository under the cache directory, where the docs say', () => {
    const { repo } = gitRepo({ '.kiln.yml': `name: m\njobs:\n  a:\n    image: ${TEST_IMAGE}\n    steps: [{ run: 'true' }]\n` });
    expect(kiln(['run', '--repo', repo]).code).toBe(0);
    expect(readdirSync(join(dir, 'cache', 'kiln', 'mirrors')).length).toBeGreaterThan(0);
  });
});
