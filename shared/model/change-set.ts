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
  | { kind: 'everything'; reason: string };

export const EVERYTHING_CHANGED: ChangeSet = { kind: 'everything', reason: 'the changed files are not known' };
