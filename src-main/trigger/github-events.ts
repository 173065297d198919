/**
 * GitHub (and Gitea, which copies GitHub's shapes) webhook payloads → Kiln's TriggerEvent.
 * Pure: no I/O. Everything that does not start a run says why, for the delivery log.
 *
 * - push to refs/heads/X  → kind 'push', branch X, sha = after
 * - push to refs/tags/T   → kind 'tag', tag T, sha = the tagged commit
 * - push that deletes a branch or tag (deleted: true, or after = 40 zeros) → ignored
 * - pull_request opened | synchronize | reopened → kind 'pull_request' (head branch, base branch, head sha)
 * - pull_request closed and other actions → ignored
 * - ping → ping; any other event → ignored
 */
import type { TriggerEvent } from '../../shared/model/trigger-event.js';

export type Translation =
  | { kind: 'trigger'; event: TriggerEvent }
  | { kind: 'ignored'; reason: string }
  | { kind: 'ping'; zen?: string };

const ZERO_SHA = /^0{40}$|^0{64}$/;
const PR_ACTIONS = new Set(['opened', 'synchronize', 'synchronized', 'reopened']);

type Obj = Record<string, unknown>;

/** The repository's owner/name as the payload names it, or undefined. */
export function repositoryOf(payload: unknown): string | undefined {
  const repo = obj(obj(payload)?.repository);
  return str(repo?.full_name);
}

export function translateEvent(eventName: string, payload: unknown): Translation {
  const p = obj(payload);
  if (!p) return { kind: 'ignored', reason: 'payload is not a JSON object' };
  if (eventName === 'ping') return { kind: 'ping', zen: str(p.zen) };
  const repo = repositoryOf(p);
  if (eventName === 'push') return repo ? translatePush(p, repo) : { kind: 'ignored', reason: 'push payload has no repository.full_name' };
  if (eventName === 'pull_request') return repo ? translatePullRequest(p, repo) : { kind: 'ignored', reason: 'pull_request payload has no repository.full_name' };
  return { kind: 'ignored', reason: `event '${eventName}' does not start runs (Kiln acts on push, pull_request and ping)` };
}

function translatePush(p: Obj, repo: string): Translation {
  const ref = str(p.ref);
  const after = str(p.after);
  if (!ref) return { kind: 'ignored', reason: 'push payload has no ref' };
  const isTag = ref.startsWith('refs/tags/');
  const isBranch = ref.startsWith('refs/heads/');
  if (!isTag && !isBranch) return { kind: 'ignored', reason: `push to ${ref} is neither a branch nor a tag` };
  const name = ref.slice(isTag ? 'refs/tags/'.length : 'refs/heads/'.length);
  if (p.deleted === true || (after !== undefined && ZERO_SHA.test(after))) {
    return { kind: 'ignored', reason: `${isTag ? 'tag' : 'branch'} '${name}' was deleted: nothing to build` };
  }
  const head = headCommit(p, after);
  // An annotated tag's `after` is the tag object; head_commit.id is the commit it points at.
  const sha = (isTag ? str(head?.id) : undefined) ?? after;
  if (!sha || !/^[0-9a-f]{7,64}$/i.test(sha)) return { kind: 'ignored', reason: `push to ${ref} has no usable commit SHA` };
  const before = str(p.before);
  const event: TriggerEvent = {
    kind: isTag ? 'tag' : 'push',
    repo,
    sha,
    ...(before && !ZERO_SHA.test(before) && /^[0-9a-f]{40,64}$/i.test(before) ? { before: before.toLowerCase() } : {}),
    ref,
    ...(isTag ? { tag: name } : { branch: name }),
    commitMessage: str(head?.message),
    commitAuthor: authorOf(head),
    triggeredBy: login(p.sender) ?? str(obj(p.pusher)?.name) ?? login(p.pusher),
  };
  return { kind: 'trigger', event: dropUndefined(event) };
}

function translatePullRequest(p: Obj, repo: string): Translation {
  const action = str(p.action) ?? '';
  const pr = obj(p.pull_request);
  if (!pr) return { kind: 'ignored', reason: 'pull_request payload has no pull_request object' };
  if (action === 'closed') {
    return { kind: 'ignored', reason: `pull request #${num(pr.number ?? p.number)} was closed${pr.merged === true ? ' (merged: the push to the base branch triggers its own run)' : ''}` };
  }
  if (!PR_ACTIONS.has(action)) return { kind: 'ignored', reason: `pull_request action '${action}' does not start runs (opened, synchronize and reopened do)` };
  const head = obj(pr.head);
  const base = obj(pr.base);
  const sha = str(head?.sha);
  const number = num(pr.number ?? p.number);
  if (!sha || !head || !base) return { kind: 'ignored', reason: 'pull_request payload has no head/base' };
  const event: TriggerEvent = {
    kind: 'pull_request',
    repo,
    branch: str(head.ref),
    baseBranch: str(base.ref),
    sha,
    baseSha: str(base.sha),
    ref: number !== undefined ? `refs/pull/${number}/head` : undefined,
    prNumber: number,
    prTitle: str(pr.title),
    triggeredBy: login(p.sender) ?? login(pr.user),
  };
  return { kind: 'trigger', event: dropUndefined(event) };
}

/** head_commit, or (Gitea) the commit in `commits` whose id is `after`, or the last one. */
function headCommit(p: Obj, after: string | undefined): Obj | undefined {
  const head = obj(p.head_commit);
  if (head) return head;
  const commits = Array.isArray(p.commits) ? p.commits.map(obj).filter((c): c is Obj => c !== undefined) : [];
  return commits.find((c) => c.id === after) ?? commits[commits.length - 1];
}

function authorOf(commit: Obj | undefined): string | undefined {
  const author = obj(commit?.author);
  return str(author?.name) || str(author?.username) || undefined;
}

function login(v: unknown): string | undefined {
  const o = obj(v);
  return str(o?.login) || str(o?.username) || undefined;
}

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
