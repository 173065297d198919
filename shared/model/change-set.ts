/**
 * The files a push or pull request changed, as path filters and `changed()` see them. Computed on
 * the host from the repository mirror (src-main/git/changed-files.ts), never sent by the forge.
 *
 * 'everything' stands for "assume every path changed": a diff larger than the cap (GitHub stops
 * at 3,000 files), a previous head the mirror does not have, a tag or a manual run of the default
 * branch. Path filters then let the run through and every `changed()` is true.
 */
export type ChangeSet =
  | { kind: 'files'; files: readonly string[]; /** what the files were compared against: "a1b2c3d..e4f5a6b" */ range: string }
  | { kind: 'everything'; reason: string; /** Set when the diff had more files than the cap (`max-changed-files`). */ overLimit?: { files: number; limit: number } };

export const EVERYTHING_CHANGED: ChangeSet = { kind: 'everything', reason: 'the changed files are not known' };

/**
 * What a run records of the changes its path filters and changed() saw (in its plan), for the run
 * view: the number of files and the range, or that everything counted as changed, and why.
 */
export type RunChanges =
  | { kind: 'files'; count: number; range: string }
  | { kind: 'everything'; reason: string; overLimit?: { files: number; limit: number } };

export function runChangesOf(changes: ChangeSet): RunChanges {
  if (changes.kind === 'files') return { kind: 'files', count: changes.files.length, range: changes.range };
  return { kind: 'everything', reason: changes.reason, ...(changes.overLimit ? { overLimit: { ...changes.overLimit } } : {}) };
}

/**
 * The run view's line when path filters saw "everything changed": "changed files: more than 3,000 —
 * path filters treated everything as changed"; undefined when they saw the real list of files.
 */
export function everythingChangedLine(changes: RunChanges | undefined): string | undefined {
  if (!changes || changes.kind !== 'everything') return undefined;
  const what = changes.overLimit
    ? `more than ${changes.overLimit.limit.toLocaleString('en-US')} (${changes.overLimit.files.toLocaleString('en-US')} files)`
    : `not known (${changes.reason})`;
  return `changed files: ${what} — path filters treated everything as changed`;
}
