import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { changedFilesOf } from '../../src-main/git/changed-files.js';
import { readFileAtCommit } from '../../src-main/git/checkout.js';
import { closeGitObjectReaders } from '../../src-main/git/git-object-reader.js';
import { git } from '../helpers/git.js';

// A real repository and a real host mirror (made by reading .kiln.yml through the checkout code,
// as the engine does): main has three commits, feature branches off the second, a force push
// rewrites feature, a pull request's base moves on after it branched.
let dir: string;
let repo: string;
let mirrors: string;
const sha: Record<string, string> = {};

function commit(name: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', name);
  sha[name] = git(repo, 'rev-parse', 'HEAD');
  return sha[name];
}

const source = () => ({ url: repo });
const changes = (event: Omit<TriggerEvent, 'repo'>, maxFiles?: number) =>
  changedFilesOf(source(), mirrors, { repo: 'acme/web', ...event }, { defaultBranch: 'main', maxFiles });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-changed-'));
  repo = join(dir, 'repo');
  mirrors = join(dir, 'mirrors');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  commit('m1', { '.kiln.yml': 'jobs: {}\n', 'src/a.c': '1', 'docs/index.md': '1' });
  commit('m2', { 'src/a.c': '2' });
  git(repo, 'checkout', '-q', '-b', 'feature');
  commit('f1', { 'src/feature.c': 'f' });
  commit('f2', { 'docs/feature.md': 'f' });
  git(repo, 'checkout', '-q', 'main');
  commit('m3', { 'docs/index.md': '3', 'README.md': 'r' });
  // What the mirror holds before the force push: every commit so far.
  await readFileAtCommit(source(), sha.m3, '.kiln.yml', mirrors);
  git(repo, 'checkout', '-q', 'feature');
  git(repo, 'reset', '-q', '--hard', sha.m2);
  commit('f1b', { 'lib/rewritten.c': 'x' });
  git(repo, 'checkout', '-q', 'main');
  await readFileAtCommit(source(), sha.f1b, '.kiln.yml', mirrors);
});

afterAll(() => {
  closeGitObjectReaders(mirrors);
  rmSync(dir, { recursive: true, force: true });
});

describe('changed files of a push', () => {
  it('compares the previous head with the new one', async () => {
    expect(await changes({ kind: 'push', branch: 'main', sha: sha.m3, before: sha.m2 })).toEqual({ kind: 'files', files: ['README.md', 'docs/index.md'], range: `${sha.m2.slice(0, 12)}..${sha.m3.slice(0, 12)}` });
  });

  it('covers every commit of a push of several', async () => {
    const c = await changes({ kind: 'push', branch: 'feature', sha: sha.f2, before: sha.m2 });
    expect(c.kind === 'files' && c.files).toEqual(['docs/feature.md', 'src/feature.c']);
  });

  it('compares a new branch with its merge base on the default branch, not with the default branch tip', async () => {
    // main moved on (m3 changed docs/index.md and README.md) after feature branched at m2.
    const c = await changes({ kind: 'push', branch: 'feature', sha: sha.f2 });
    expect(c.kind === 'files' && c.files).toEqual(['docs/feature.md', 'src/feature.c']);
  });

  it('compares the two heads of a force push as they are, as GitHub does', async () => {
    // f2 → f1b: f1 and f2's files are gone, lib/rewritten.c is new.
    const c = await changes({ kind: 'push', branch: 'feature', sha: sha.f1b, before: sha.f2 });
    expect(c.kind === 'files' && c.files).toEqual(['docs/feature.md', 'lib/rewritten.c', 'src/feature.c']);
  });

  it('counts everything as changed when the previous head is not in the mirror', async () => {
    expect(await changes({ kind: 'push', branch: 'main', sha: sha.m3, before: 'b'.repeat(40) })).toEqual({ kind: 'everything', reason: `the previous head ${'b'.repeat(12)} is not in the mirror` });
  });

  it('counts everything as changed for the first push of the default branch', async () => {
    expect(await changes({ kind: 'push', branch: 'main', sha: sha.m3 })).toMatchObject({ kind: 'everything', reason: "the first push of the default branch 'main'" });
  });

  it('counts everything as changed above the cap', async () => {
    expect(await changes({ kind: 'push', branch: 'main', sha: sha.m3, before: sha.m1 }, 2)).toEqual({ kind: 'everything', reason: '3 files changed, more than the limit of 2', overLimit: { files: 3, limit: 2 } });
    const atCap = await changes({ kind: 'push', branch: 'main', sha: sha.m3, before: sha.m1 }, 3);
    expect(atCap.kind === 'files' && atCap.files.length).toBe(3);
  });
});

describe('changed files of a pull request', () => {
  it('diffs the merge base with the head, ignoring what the base branch did since', async () => {
    const c = await changes({ kind: 'pull_request', branch: 'feature', baseBranch: 'main', baseSha: sha.m3, sha: sha.f2, prNumber: 1 });
    expect(c).toEqual({ kind: 'files', files: ['docs/feature.md', 'src/feature.c'], range: `${sha.m2.slice(0, 12)}..${sha.f2.slice(0, 12)}` });
  });

  it('uses the base branch of the mirror when the event has no base commit (catch-up)', async () => {
    const c = await changes({ kind: 'pull_request', branch: 'pull/1/head', baseBranch: 'main', sha: sha.f2, prNumber: 1 });
    expect(c.kind === 'files' && c.files).toEqual(['docs/feature.md', 'src/feature.c']);
  });
});

describe('changed files of manual runs and tags', () => {
  it('compares a manual run of another branch with its merge base, like a new branch', async () => {
    const c = await changes({ kind: 'manual', branch: 'feature', sha: sha.f1b });
    expect(c.kind === 'files' && c.files).toEqual(['lib/rewritten.c']);
  });

  it('counts everything as changed for a manual run of the default branch', async () => {
    expect(await changes({ kind: 'manual', branch: 'main', sha: sha.m3 })).toMatchObject({ kind: 'everything' });
  });

  it('counts everything as changed for a tag', async () => {
    expect(await changes({ kind: 'tag', tag: 'v1', sha: sha.m3 })).toEqual({ kind: 'everything', reason: 'tag pushes are not path-filtered' });
  });
});
