/** What started a run, already translated from the webhook (or CLI, or UI) into Kiln's terms. */
export type EventKind = 'push' | 'tag' | 'pull_request' | 'manual' | 'schedule';

export interface TriggerEvent {
  kind: EventKind;
  /** owner/name, as in the webhook payload's repository.full_name; a directory name for `kiln run`. */
  repo: string;
  /** push: the pushed branch; pull_request: the head branch; manual: the chosen branch; schedule: the branch it runs on. */
  branch?: string;
  /** tag pushes only. */
  tag?: string;
  /** pull_request only: the base branch (what `on.pull_request.branches` matches). */
  baseBranch?: string;
  /** Full commit SHA the run checks out. */
  sha: string;
  /**
   * push: the branch's previous head (the webhook's `before`; catch-up: the last-seen head); absent
   * for a new branch. What path filters compare `sha` against (git/changed-files.ts).
   */
  before?: string;
  /** pull_request: the base branch's commit when the event happened (the webhook's base.sha). */
  baseSha?: string;
  /** refs/heads/…, refs/tags/…, refs/pull/N/head */
  ref?: string;
  prNumber?: number;
  prTitle?: string;
  commitMessage?: string;
  commitAuthor?: string;
  /** Who or what triggered the run: a GitHub login, "cli", "ui". */
  triggeredBy?: string;
}

/**
 * `triggeredBy` of runs started by catch-up (a moved remote head whose webhook Kiln never got): the
 * run list marks them "caught up". It has a space, so no GitHub login can ever equal it.
 */
export const CATCH_UP_ACTOR = 'kiln catch-up';

/** `triggeredBy` of runs started by `on.schedule` (a space: no GitHub login can equal it). */
export const SCHEDULE_ACTOR = 'kiln schedule';
