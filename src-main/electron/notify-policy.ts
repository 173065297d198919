/**
 * When the desktop app shows a notification: a run of a repository's default branch that fails
 * (every failure is news), and the first passing run after a failure ("recovered"). Pull request
 * runs never count (their branch is the head branch, not the repository's). Plain logic, no
 * Electron: main.ts turns a Notice into a `new Notification(...)`.
 */
import type { RunSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';

export interface Notice {
  kind: 'failed' | 'recovered';
  runId: string;
  title: string;
  body: string;
}

const BROKEN: readonly Status[] = ['failed', 'timed_out'];

export class NotifyPolicy {
  /** repo → whether its default branch is currently broken. */
  private readonly broken = new Map<string, boolean>();
  /** Runs already reported, so a repeated event for the same run stays quiet. */
  private readonly reported = new Set<string>();

  constructor(private readonly defaultBranchOf: (repo: string) => string | undefined) {}

  /** The state before the app started (e.g. from the last finished run), so "recovered" is right at once. */
  seed(repo: string, status: Status): void {
    if (BROKEN.includes(status)) this.broken.set(repo, true);
    else if (status === 'passed') this.broken.set(repo, false);
  }

  /** Feed every run event; returns the notice to show, if any. */
  onRun(run: RunSummary): Notice | undefined {
    if (run.event === 'pull_request' || run.tag !== undefined) return undefined;
    const defaultBranch = this.defaultBranchOf(run.repo);
    if (!defaultBranch || run.branch !== defaultBranch) return undefined;
    if (this.reported.has(run.id)) return undefined;
    const label = `${run.repo} ${defaultBranch} #${run.number}`;
    const subject = run.commitMessage?.split('\n')[0] ?? run.sha.slice(0, 7);
    if (BROKEN.includes(run.status)) {
      this.broken.set(run.repo, true);
      this.reported.add(run.id);
      return { kind: 'failed', runId: run.id, title: `✕ ${label} ${run.status === 'timed_out' ? 'timed out' : 'failed'}`, body: subject };
    }
    if (run.status === 'passed') {
      const wasBroken = this.broken.get(run.repo) === true;
      this.broken.set(run.repo, false);
      if (!wasBroken) return undefined;
      this.reported.add(run.id);
      return { kind: 'recovered', runId: run.id, title: `✓ ${label} recovered`, body: subject };
    }
    return undefined;
  }
}
