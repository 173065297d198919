import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { docker } from './executor-helpers.js';

const KILN = resolve('bin/kiln.js');
let dir: string;

function kiln(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [KILN, 'run', ...args], { cwd, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Containers of `kiln run` processes with this pid (their instance id is cli-<pid>-…). */
async function cliContainers(pid: number): Promise<number> {
  const all = await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['kiln.instance'] }) });
  return all.filter((c) => c.Labels['kiln.instance']?.startsWith(`cli-${pid}-`)).length;
}

beforeAll(() => {
  ensureBuilt();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-run-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kiln run', () => {
  it('runs a pipeline from a directory, prefixes logs with job and step, masks secrets, prints a summary, exits 0', async () => {
    writeFileSync(join(dir, 'data.txt'), 'from the directory\n');
    writeFileSync(
      join(dir, '.kiln.yml'),
      `name: demo
on: { push: { branches: ['*'] } }
jobs:
  build:
    image: ${TEST_IMAGE}
    secrets: [TOKEN]
    steps:
      - name: Hello
        run: cat data.txt; echo "greeting=$GREETING token=$TOKEN"
      - name: Second
        run: echo second
`,
    );
    const r = kiln(['--secret', 'TOKEN=very-secret-token', '--env', 'GREETING=hi']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[build › Hello] from the directory\n');
    expect(r.stdout).toContain('[build › Hello] greeting=hi token=***\n');
    expect(r.stdout).toContain('[build › Second] second\n');
    expect(r.stdout).not.toContain('very-secret-token');
    expect(r.stdout).toMatch(/\nJOB\s+STATUS\s+DURATION\nbuild\s+passed\s+[\d.]+ (ms|s)\n/);
    expect(r.stdout.trimEnd().endsWith('passed')).toBe(true);
  });

  it('skips the dependants of a failed job unless their condition says otherwise, and exits 1', () => {
    writeFileSync(
      join(dir, '.kiln.yml'),
      `name: dag
jobs:
  lint:
    image: ${TEST_IMAGE}
    steps: [{ name: Lint, run: 'echo linting; exit 1' }]
  test:
    image: ${TEST_IMAGE}
    needs: [lint]
    steps: [{ run: echo never }]
  report:
    image: ${TEST_IMAGE}
    needs: [lint]
    if: always()
    steps: [{ name: Report, run: echo reporting }]
`,
    );
    const r = kiln([]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('[lint › Lint] linting');
    expect(r.stdout).toContain('[report › Report] reporting');
    expect(r.stdout).not.toContain('never\n');
    expect(r.stdout).toMatch(/\nlint\s+failed\s/);
    expect(r.stdout).toMatch(/\ntest\s+skipped\s+-\n/);
    expect(r.stdout).toMatch(/\nreport\s+passed\s/);
    expect(r.stdout).toContain("lint: step 'Lint' failed with exit code 1");
  });

  it('runs a git repository at the requested commit', () => {
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } }).trim();
    git('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'version.txt'), 'one\n');
    writeFileSync(join(repo, '.kiln.yml'), `name: g\njobs:\n  show:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Show, run: 'cat version.txt; echo "sha=$KILN_SHA"' }]\n`);
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    const older = git('rev-parse', 'HEAD');
    writeFileSync(join(repo, 'version.txt'), 'two\n');
    git('commit', '-q', '-am', 'two');
    const atOlder = kiln(['--repo', repo, '--ref', older.slice(0, 12)]);
    expect(atOlder.code, atOlder.stdout + atOlder.stderr).toBe(0);
    expect(atOlder.stdout).toContain('[show › Show] one\n');
    expect(atOlder.stdout).toContain(`[show › Show] sha=${older}\n`);
    const atHead = kiln(['--repo', repo]);
    expect(atHead.stdout).toContain('[show › Show] two\n');
  });

  it('warns on stderr, with how to declare it, about a --secret that no job declares, and still runs', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: s\njobs:\n  deploy:\n    image: ${TEST_IMAGE}\n    secrets: [TOKEN]\n    steps: [{ name: Show, run: 'echo "token=$TOKEN other=$DEPLOY_KEY."' }]\n`);
    const r = kiln(['--secret', 'TOKEN=declared-value', '--secret', 'DEPLOY_KEY=undeclared-value']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toContain('kiln run: warning: --secret DEPLOY_KEY is declared by no job in .kiln.yml, so no step will see it; declare it in the job that needs it, e.g. jobs: { deploy: { secrets: [DEPLOY_KEY] } }\n');
    // Only the undeclared one is warned about, never with its value; and the step indeed did not get it.
    expect(r.stderr).not.toMatch(/--secret TOKEN/);
    expect(r.stdout + r.stderr).not.toContain('undeclared-value');
    expect(r.stdout).toContain('[deploy › Show] token=*** other=.\n');
  });

  it('prints FILE:LINE:COL diagnostics and exits 2 for an invalid pipeline', () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: bad\njobs:\n  a:\n    image: ${TEST_IMAGE}\n    needs: [nope]\n    steps: [{ run: 'true' }]\n`);
    const r = kiln([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^\.kiln\.yml:5:\d+: .*nope/m);
  });

  it('exits 2 with a usage message for bad options and a missing file', () => {
    expect(kiln(['--parallel', '0']).code).toBe(2);
    expect(kiln(['--secret', 'not a name=x']).stderr).toContain("invalid secret 'not a name'");
    const missing = kiln(['missing.yml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read missing.yml');
  });

  it('cancels on Ctrl-C: the step gets SIGTERM, containers are removed, exit 1', async () => {
    writeFileSync(join(dir, '.kiln.yml'), `name: c\njobs:\n  wait:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Wait, run: "trap 'echo got TERM; exit 0' TERM; echo waiting; while :; do sleep 0.1 || true; done" }]\n`);
    const child = spawn(process.execPath, [KILN, 'run'], { cwd: dir, env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
    let out = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((resolveWait, reject) => {
      const timer = setTimeout(() => reject(new Error(`never started: ${out}`)), 30_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('[wait › Wait] waiting')) {
          clearTimeout(timer);
          resolveWait();
        }
      });
    });
    expect(await cliContainers(child.pid!)).toBe(1);
    child.kill('SIGINT');
    const code = await exited;
    expect(code).toBe(1);
    expect(out).toContain('[wait › Wait] got TERM');
    expect(out).toMatch(/\nwait\s+cancelled\s/);
    expect(await cliContainers(child.pid!)).toBe(0);
  });
});
