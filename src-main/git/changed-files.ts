/**
 * The files an event changed, from the repository's host mirror, for path filters and changed().
 * Which commits are compared follows GitHub Actions:
 * - push to an existing branch: the previous head (`before`) against the new one, a two-dot diff
 *   of the two trees — also for a force push, where `before` is no ancestor (GitHub compares the
 *   two heads as they are). A `before` the mirror does not have → everything changed;
 * - push of a new branch: against its merge base with the default branch (the first push of the
 *   default branch itself, or one with no common history → everything changed);
 * - pull request: the merge base of the base branch (its commit in the event, else the mirror's
 *   branch) and the head, against the head — GitHub's three-dot diff;
 * - manual run: like a new branch; a manual run of the default branch → everything changed;
 * - tag: everything changed (GitHub does not path-filter tags).
 * More files than the cap (default 3,000, where GitHub stops) → everything changed.
 *
 * `git diff-tree` compares trees, skipping every subtree whose id did not change, so its cost
 * follows the size of the change, not of the repository; renames are not detected (a rename is
 * its old and its new path, both changed, and detection would cost time on large pushes). Git
 * runs on the worker thread of git-spawner.ts, at normal priority (a run waits on it). Never throws: a git failure is "everything changed"
 * with the reason, so a run is never lost because its diff could not be computed.
 */
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { gitInvocation, mirrorPathOf } from './checkout.js';
import type { GitSource } from './checkout.js';
import { readGitObject } from './git-object-reader.js';
import { runGit } from './git-spawner.js';

export const DEFAULT_MAX_CHANGED_FILES = 3000;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const TIMEOUT_MS = 60_000;

export interface ChangeOptions {
  defaultBranch: string;
  /** More changed files than this → everything changed (default 3,000). */
  maxFiles?: number;
}

const everything = (reason: string): ChangeSet => ({ kind: 'everything', reason });
const short = (sha: string) => sha.slice(0, 12);

interface Mirror {
  dir: string;
  env: NodeJS.ProcessEnv;
}

async function commitOf(m: Mirror, spec: string): Promise<string | undefined> {
  const object = await readGitObject(m.dir, m.env, `${spec}^{commit}`).catch(() => undefined);
  return object?.type === 'commit' ? object.oid : undefined;
}

async function mergeBase(m: Mirror, a: string, b: string): Promise<string | undefined> {
  const r = await runGit(['-C', m.dir, 'merge-base', a, b], m.env, { timeoutMs: TIMEOUT_MS, foreground: true });
  const sha = r.stdout.trim().split('\n')[0];
  return r.ok && SHA.test(sha) ? sha : undefined;
}

/** The two-dot diff of `from` and `to` (full SHAs), or everything changed beyond the cap. */
export async function diffNames(m: Mirror, from: string, to: string, maxFiles: number): Promise<ChangeSet> {
  const r = await runGit(['-C', m.dir, 'diff-tree', '-r', '-z', '--name-only', '--no-renames', '--no-commit-id', from, to], m.env, { timeoutMs: TIMEOUT_MS, foreground: true });
  if (!r.ok) return everything(`could not compare ${short(from)} and ${short(to)}: ${(r.stderr || r.message || '').trim().split('\n')[0]}`);
  const files = r.stdout.split('\0');
  if (files[files.length - 1] === '') files.pop();
  if (files.length > maxFiles) return { kind: 'everything', reason: `${files.length} files changed, more than the limit of ${maxFiles}`, overLimit: { files: files.length, limit: maxFiles } };
  return { kind: 'files', files, range: `${short(from)}..${short(to)}` };
}

async function againstBranch(m: Mirror, branch: string, sha: string, maxFiles: number, what: string): Promise<ChangeSet> {
  const tip = await commitOf(m, `refs/heads/${branch}`);
  if (!tip) return everything(`${what}: its base branch '${branch}' is not in the mirror`);
  const base = await mergeBase(m, tip, sha);
  if (!base) return everything(`${what}: no common history with '${branch}'`);
  return diffNames(m, base, sha, maxFiles);
}

/** The changes of `event` (its commit must already be in the mirror: the pipeline file was read from it). */
export async function changedFilesOf(source: GitSource, mirrorsDir: string, event: TriggerEvent, options: ChangeOptions): Promise<ChangeSet> {
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_CHANGED_FILES;
  const sha = event.sha.toLowerCase();
  if (event.kind === 'tag') return everything('tag pushes are not path-filtered');
  if (!SHA.test(sha)) return everything(`'${event.sha}' is not a full commit SHA`);
  try {
    const m: Mirror = { dir: mirrorPathOf(source, mirrorsDir), env: gitInvocation(source).env };
    const defaultBranch = options.defaultBranch;
    switch (event.kind) {
      case 'push': {
        if (event.before && SHA.test(event.before)) {
          if (!(await commitOf(m, event.before))) return everything(`the previous head ${short(event.before)} is not in the mirror`);
          return await diffNames(m, event.before, sha, maxFiles);
        }
        if (event.branch === defaultBranch) return everything(`the first push of the default branch '${defaultBranch}'`);
        return await againstBranch(m, defaultBranch, sha, maxFiles, 'a new branch');
      }
      case 'pull_request': {
        const baseBranch = event.baseBranch ?? defaultBranch;
        const baseTip = event.baseSha && SHA.test(event.baseSha) ? await commitOf(m, event.baseSha) : undefined;
        if (!baseTip) return await againstBranch(m, baseBranch, sha, maxFiles, 'a pull request');
        const base = await mergeBase(m, baseTip, sha);
        if (!base) return everything(`a pull request: no common history with '${baseBranch}'`);
        return await diffNames(m, base, sha, maxFiles);
      }
      case 'manual':
        if (!event.branch || event.branch === defaultBranch) return everything(`a manual run of the default branch '${defaultBranch}'`);
        return await againstBranch(m, defaultBranch, sha, maxFiles, 'a manual run');
      default:
        return everything(`${String(event.kind)} events are not path-filtered`);
    }
  } catch (err) {
    return everything(`could not compute the changed files: ${err instanceof Error ? err.message : String(err)}`);
  }
}
