import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, job, leftovers, NONE, run, step } from '../../test/executor/executor-helpers.js';
import type { Harness } from '../../test/executor/executor-helpers.js';

// The checkout is prepared while the container starts and put once it runs (workspace.ts): the
// `git archive` output must survive the wait, however small or large, and must not outlive a cancel.

let h: Harness;
let repo: string;

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

/** `git` processes that are children of this test process. */
function gitChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.startsWith('git '));
}

beforeEach(() => {
  h = harness();
  repo = join(h.dir, 'repo');
  mkdirSync(repo);
  git('init', '-q', '-b', 'main');
});
afterEach(async () => {
  await h.cleanup();
});

describe('the workspace put after the container starts', () => {
  it('delivers a checkout far larger than a pipe buffer completely', async () => {
    // 4 MB of incompressible data and 300 small files: git blocks on its pipe until the put reads.
    const big = randomBytes(4 * 1024 * 1024);
    writeFileSync(join(repo, 'big.bin'), big);
    mkdirSync(join(repo, 'many'));
    for (let i = 0; i < 300; i++) writeFileSync(join(repo, 'many', `f${i}.txt`), `file ${i}\n`);
    git('add', '.');
    git('commit', '-q', '-m', 'big');
    const sha = git('rev-parse', 'HEAD');

    const r = await run(h, job([step('sha256sum big.bin; ls many | wc -l; cat many/f299.txt')]), { source: { kind: 'git', url: repo, sha } });
    expect(r.result.status, r.all()).toBe('passed');
    const digest = createHash('sha256').update(big).digest('hex');
    expect(r.out(0).split(/\s+/).filter(Boolean)).toEqual([digest, 'big.bin', '300', 'file', '299']);
  });

  it('stops git archive and removes the container when cancelled while the container starts', async () => {
    // Larger than the pipe and stream buffers: an unread `git archive` would block, not exit.
    writeFileSync(join(repo, 'big.bin'), randomBytes(2 * 1024 * 1024));
    git('add', '.');
    git('commit', '-q', '-m', 'big');
    const sha = git('rev-parse', 'HEAD');
    const controller = new AbortController();
    const r = await run(h, job([step('echo never')]), {
      source: { kind: 'git', url: repo, sha },
      signal: controller.signal,
      // Logged once the container exists and its start has been sent.
      onLog: (line) => {
        if (line.text.startsWith('checkout ')) controller.abort();
      },
    });
    expect(r.result.status).toBe('cancelled');
    expect(r.result.error).toBe('job cancelled while preparing the workspace');
    expect(r.steps.every((s) => s.status === 'skipped')).toBe(true);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
    expect(gitChildren()).toEqual([]);
  });
});
