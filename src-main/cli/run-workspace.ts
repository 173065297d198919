/**
 * Where `kiln run`'s workspace comes from. In a git repository it is commit REF (default HEAD),
 * checked out through a bare mirror under the user's cache directory, like the server's checkouts;
 * with --worktree it is the working tree as it is on disk (what act does). Any other directory is
 * copied as it is. The pipeline file is always read from disk, so an uncommitted edit to it is used
 * while uncommitted edits to other files are not: a run at HEAD with such edits says so, in one line
 * on stderr, naming the files.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { WorkspaceSource } from '../core/job-contract.js';
import { isGitRepository, resolveLocalCommit } from '../git/checkout.js';
import { ZERO_SHA } from './args.js';

export interface RunWorkspace {
  source: WorkspaceSource;
  sha: string;
  branch: string | undefined;
  /** A line for stderr: tracked files changed and not committed, which the checkout leaves out. */
  warning?: string;
}

/** The bare mirrors `kiln run` fetches local repositories into (safe to delete: they are refetched). */
export function mirrorsDir(): string {
  return join(cacheHome(), 'kiln', 'mirrors');
}

/** The user's cache directory: $XDG_CACHE_HOME, else ~/.cache. */
export function cacheHome(): string {
  return process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
}

function gitOut(repoDir: string, args: string[]): Promise<string | undefined> {
  return new Promise((done) => {
    execFile('git', ['-C', repoDir, ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => done(err ? undefined : stdout));
  });
}

/** Tracked files with uncommitted changes (staged or not), as `git status` names them. */
export async function uncommittedFiles(repoDir: string): Promise<string[]> {
  const out = await gitOut(repoDir, ['status', '--porcelain', '--untracked-files=no', '-z']);
  if (!out) return [];
  const files: string[] = [];
  const entries = out.split('\0');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (entry.length < 4) continue;
    files.push(entry.slice(3));
    // A rename or copy is followed by its source path.
    if (entry[0] === 'R' || entry[0] === 'C') i++;
  }
  return files;
}

export function uncommittedWarning(files: readonly string[]): string | undefined {
  if (files.length === 0) return undefined;
  const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? ', …' : '');
  const count = files.length === 1 ? '1 file changed and not committed is' : `${files.length} files changed and not committed are`;
  return `kiln run: ${count} not in the checkout (${shown}); commit them or use --worktree`;
}

/** The directory given to --repo, or why it cannot be one. */
export async function checkRepoDir(repoDir: string): Promise<string | undefined> {
  try {
    return (await stat(repoDir)).isDirectory() ? undefined : `--repo ${repoDir}: not a directory`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? `--repo ${repoDir}: no such directory` : `--repo ${repoDir}: ${(e as Error).message}`;
  }
}

/** The workspace of `kiln run`: commit REF of a git repository, its working tree, or the directory as it is. */
export async function resolveWorkspace(repoDir: string, ref: string | undefined, worktree: boolean): Promise<RunWorkspace | { error: string }> {
  if (!(await isGitRepository(repoDir))) {
    if (ref !== undefined) return { error: `--ref needs a git repository, and ${repoDir} is not one` };
    return { source: { kind: 'dir', path: repoDir }, sha: ZERO_SHA, branch: 'local' };
  }
  if (worktree && ref !== undefined) return { error: '--worktree runs the working tree as it is, so it takes no --ref' };
  const rev = ref ?? 'HEAD';
  const [sha, branch, changed] = await Promise.all([
    resolveLocalCommit(repoDir, rev).catch((e: unknown) => ({ error: (e as Error).message })),
    rev === 'HEAD' ? gitOut(repoDir, ['symbolic-ref', '--quiet', '--short', 'HEAD']).then((b) => b?.trim() || undefined) : Promise.resolve(rev),
    rev === 'HEAD' && !worktree ? uncommittedFiles(repoDir) : Promise.resolve([]),
  ]);
  if (typeof sha !== 'string') return sha;
  if (worktree) return { source: { kind: 'dir', path: repoDir }, sha, branch };
  const warning = uncommittedWarning(changed);
  return { source: { kind: 'git', url: repoDir, sha }, sha, branch, ...(warning ? { warning } : {}) };
}
