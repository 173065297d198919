/**
 * Catch-up's decisions, free of git, timers and storage: what a repository's remote heads mean
 * against the heads Kiln last saw, which trigger event a moved head becomes, when to look again.
 *
 * Why: smee.io does not queue, so every push sent while Kiln was quit, asleep or offline is lost
 * unless Kiln asks the remote itself (`git ls-remote`) and compares. The engine
 * (engine/catch-up-service.ts) runs the passes; these functions decide.
 *
 * Rules:
 * - first sight of a repository: its heads are recorded, nothing is built (no history builds);
 * - a ref whose head differs from the last-seen one has moved: it becomes a trigger event, which
 *   the engine builds only if no run has built that commit of that ref yet (a force push back to
 *   a built commit starts nothing);
 * - a ref that disappeared (deleted branch or tag) is forgotten and starts nothing.
 */
import { CATCH_UP_ACTOR, type TriggerEvent } from '../../shared/model/trigger-event.js';

export { CATCH_UP_ACTOR };

export const CATCH_UP_DEFAULTS = {
  /** Every repository with a webhook is checked this often (its webhooks may have been lost). */
  intervalMs: 5 * 60_000,
  /** Poll-only repositories (no webhook secret), unless their own `poll-interval` says otherwise. */
  pollIntervalMs: 60_000,
  /** How often the clock-jump timer fires; a firing far later than that means the machine slept. */
  clockCheckMs: 5_000,
  /** ls-remote calls in flight at once, over all repositories. */
  parallel: 8,
  /** A failing remote is retried after interval × 2^failures, at most this long. */
  maxBackoffMs: 30 * 60_000,
  /** One ls-remote may take this long before it is killed and counted as a failure. */
  timeoutMs: 30_000,
} as const;

export type HeadComparison =
  | { kind: 'baseline'; heads: Map<string, string> }
  | { kind: 'changes'; moved: { ref: string; sha: string; before?: string }[]; deleted: string[] };

/** Remote heads against the last-seen ones (`stored` undefined: the repository was never seen). */
export function compareHeads(remote: ReadonlyMap<string, string>, stored: ReadonlyMap<string, string> | undefined): HeadComparison {
  if (!stored) return { kind: 'baseline', heads: new Map(remote) };
  const moved: { ref: string; sha: string; before?: string }[] = [];
  for (const [ref, sha] of remote) {
    const before = stored.get(ref);
    if (before !== sha) moved.push({ ref, sha, ...(before !== undefined ? { before } : {}) });
  }
  const deleted = [...stored.keys()].filter((ref) => !remote.has(ref));
  // Branches before tags before pull requests, each by name: a stable order for the run list.
  const rank = (ref: string) => (ref.startsWith('refs/heads/') ? 0 : ref.startsWith('refs/tags/') ? 1 : 2);
  moved.sort((a, b) => rank(a.ref) - rank(b.ref) || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return { kind: 'changes', moved, deleted };
}

/**
 * The trigger event a moved head stands for, as if its push had arrived. A pull request head needs
 * its base branch (what `on.pull_request.branches` matches): the one last seen in a webhook for it,
 * else the repository's default branch — most pull requests target it. Its head branch, unknown
 * without a webhook, reads `pull/<n>/head`.
 */
export function eventForHead(
  repo: string, ref: string, sha: string, pr: { baseBranch?: string; branch?: string; defaultBranch: string }, before?: string,
): TriggerEvent | undefined {
  // `before`: the last-seen head, so path filters compare what the missed pushes changed together.
  if (ref.startsWith('refs/heads/')) return { kind: 'push', repo, branch: ref.slice('refs/heads/'.length), sha, ...(before ? { before } : {}), ref, triggeredBy: CATCH_UP_ACTOR };
  if (ref.startsWith('refs/tags/')) return { kind: 'tag', repo, tag: ref.slice('refs/tags/'.length), sha, ref, triggeredBy: CATCH_UP_ACTOR };
  const m = /^refs\/pull\/(\d+)\/head$/.exec(ref);
  if (!m) return undefined;
  const prNumber = Number(m[1]);
  return {
    kind: 'pull_request', repo, prNumber, sha, ref, branch: pr.branch ?? `pull/${prNumber}/head`, baseBranch: pr.baseBranch ?? pr.defaultBranch,
    triggeredBy: CATCH_UP_ACTOR,
  };
}

/** When to check a repository again: its interval, doubled per consecutive failure up to `maxBackoffMs`. */
export function nextCheckDelay(intervalMs: number, failures: number, maxBackoffMs: number = CATCH_UP_DEFAULTS.maxBackoffMs): number {
  if (failures <= 0) return intervalMs;
  return Math.min(Math.max(intervalMs, maxBackoffMs), intervalMs * 2 ** Math.min(failures, 20));
}

/**
 * True when a timer meant to fire every `checkMs` fired far later: the machine slept (or the
 * process was stopped). "Far" is three periods and at least 15 s, so a busy event loop is no sleep.
 */
export function isClockJump(lastTickAt: number, now: number, checkMs: number): boolean {
  return now - lastTickAt > checkMs + Math.max(3 * checkMs, 15_000);
}

/** Poll-only repositories have no webhook secret: Kiln cannot receive their webhooks, so it asks. */
export function isPollOnly(repo: { webhookSecrets: readonly string[] }): boolean {
  return repo.webhookSecrets.length === 0;
}
