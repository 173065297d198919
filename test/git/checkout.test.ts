import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileAtCommit, resolveCommit } from '../../src-main/git/checkout.js';
import { EVENT, harness, job, leftovers, NONE, run, step } from '../executor/executor-helpers.js';
import type { Harness } from '../executor/executor-helpers.js';

const INJECTION = 'x;$(touch${IFS}/tmp/pwned)';

let h: Harness;
let repo: string;
let first: string;
let second: string;

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

// A real repository with two commits, a tag on the first and a branch named like a shell injection.
beforeEach(() => {
  h = harness();
  repo = join(h.dir, 'repo');
  mkdirSync(repo);
  git('init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'version.txt'), 'one\n');
  mkdirSync(join(repo, 'sub'));
  writeFileSync(join(repo, 'sub', 'file.txt'), 'nested\n');
  writeFileSync(join(repo, '.kiln.yml'), 'name: first\n');
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  first = git('rev-parse', 'HEAD');
  git('tag', 'v1');
  writeFileSync(join(repo, 'version.txt'), 'two\n');
  writeFileSync(join(repo, '.kiln.yml'), 'name: second\n');
  git('commit', '-q', '-am', 'second');
  second = git('rev-parse', 'HEAD');
  git('branch', INJECTION, first);
});
afterEach(async () => {
  await h.cleanup();
});

describe('checkout into the workspace', () => {
  it('puts the tree of exactly the triggered commit into /workspace, even an older one', async () => {
    const r = await run(h, job([step('cat version.txt sub/file.txt; test -d .git && echo has-git || echo no-git')]), {
      source: { kind: 'git', url: repo, sha: first },
    });
    expect(r.result.status, r.all()).toBe('passed');
    expect(r.out(0)).toBe('one\nnested\nno-git');
    expect(r.all()).toContain(`checkout ${repo} at ${first}`);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('works with a file:// clone URL and the newest commit', async () => {
    const r = await run(h, job([step('cat version.txt')]), { source: { kind: 'git', url: `file://${repo}`, sha: second } });
    expect(r.out(0)).toBe('two');
  });

  it('fails as an infrastructure error when the commit does not exist', async () => {
    const r = await run(h, job([step('echo never')]), { source: { kind: 'git', url: repo, sha: 'f'.repeat(40) } });
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toBe(`commit ${'f'.repeat(40)} is not in ${repo}`);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});

describe('resolveCommit and readFileAtCommit', () => {
  const mirrors = (): string => join(h.dir, 'mirrors');

  it('resolves branches, tags and abbreviated SHAs to full SHAs', async () => {
    expect(await resolveCommit({ url: repo }, 'main', mirrors())).toBe(second);
    expect(await resolveCommit({ url: repo }, 'v1', mirrors())).toBe(first);
    expect(await resolveCommit({ url: repo }, first.slice(0, 10), mirrors())).toBe(first);
    expect(await resolveCommit({ url: repo }, 'refs/heads/main', mirrors())).toBe(second);
  });

  it('sees commits pushed after the mirror was created', async () => {
    expect(await resolveCommit({ url: repo }, 'main', mirrors())).toBe(second);
    writeFileSync(join(repo, 'version.txt'), 'three\n');
    git('commit', '-q', '-am', 'third');
    expect(await resolveCommit({ url: repo }, 'main', mirrors())).toBe(git('rev-parse', 'HEAD'));
  });

  it('rejects refs that look like options and names refs that do not exist', async () => {
    await expect(resolveCommit({ url: repo }, '--upload-pack=touch /tmp/x', mirrors())).rejects.toThrow(/invalid git ref/);
    await expect(resolveCommit({ url: repo }, 'no-such-branch', mirrors())).rejects.toThrow(`'no-such-branch' is not a branch, tag or commit of ${repo}`);
  });

  it('serialises concurrent fetches of one mirror', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => resolveCommit({ url: repo }, i % 2 ? 'main' : 'v1', mirrors())));
    expect(results).toEqual([first, second, first, second, first, second]);
  });

  it('reads a file at a commit, and undefined for a missing path', async () => {
    expect(await readFileAtCommit({ url: repo }, first, '.kiln.yml', mirrors())).toBe('name: first\n');
    expect(await readFileAtCommit({ url: repo }, second, '.kiln.yml', mirrors())).toBe('name: second\n');
    expect(await readFileAtCommit({ url: repo }, first, 'missing.yml', mirrors())).toBeUndefined();
    expect(await readFileAtCommit({ url: repo }, first, 'sub', mirrors())).toBeUndefined();
  });

  it('sends credentials in a header, never in git’s argv or in messages', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // A `git` first on PATH that records its argv, then runs the real git.
    const bin = join(h.dir, 'bin');
    mkdirSync(bin);
    const argvLog = join(h.dir, 'argv.log');
    writeFileSync(join(bin, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec /usr/bin/git "$@"\n`);
    chmodSync(join(bin, 'git'), 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      const error = await resolveCommit({ url: `http://alice:url-pass-123@127.0.0.1:${port}/repo.git`, credentials: { password: 'cfg-token-456' } }, 'main', mirrors()).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).not.toContain('url-pass-123');
      expect(message).not.toContain('cfg-token-456');
    } finally {
      process.env.PATH = savedPath;
      server.close();
    }
    // Configured credentials win over URL userinfo; both stay out of argv.
    expect(seen.some((a) => a === `Basic ${Buffer.from('alice:cfg-token-456').toString('base64')}`)).toBe(true);
    const argv = readFileSync(argvLog, 'utf8');
    expect(argv).toContain('fetch');
    expect(argv).not.toContain('url-pass-123');
    expect(argv).not.toContain('cfg-token-456');
    expect(argv).not.toContain('alice');
  });
});

describe('event values that look like shell code', () => {
  it(`treat a branch named ${INJECTION} as data, on the host and in the container`, async () => {
    expect(existsSync('/tmp/pwned')).toBe(false);
    const sha = await resolveCommit({ url: repo }, INJECTION, join(h.dir, 'mirrors'));
    expect(sha).toBe(first);
    const r = await run(
      h,
      job([step('echo "branch=$KILN_BRANCH"; test ! -e /tmp/pwned && echo no-pwned-file', { name: INJECTION, if: `branch == '${INJECTION}'` })], {
        env: { KILN_BRANCH: INJECTION },
      }),
      { source: { kind: 'git', url: repo, sha }, event: { ...EVENT, branch: INJECTION, sha } },
    );
    expect(r.result.status, r.all()).toBe('passed');
    expect(r.out(0)).toBe(`branch=${INJECTION}\nno-pwned-file`);
    expect(existsSync('/tmp/pwned')).toBe(false);
  });
});
