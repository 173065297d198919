/**
 * The forge's REST API (GitHub, GitHub Enterprise Server, Gitea, Forgejo) through @octokit/core with
 * its retry and throttling plugins, so that backoff, Retry-After, x-ratelimit-reset and GitHub's
 * pace for writes (one at a time, a second apart) are the well-kept library's, not ours.
 *
 * In-process retries are few and short (a dropped connection, one 5xx, a rate limit that resets
 * soon); what still fails comes back as a ForgeError that says whether to try again later
 * (`retryAt`) or to give up (`fatal`) — the outbox keeps the long backoff across restarts.
 *
 * The token never appears in a ForgeError: messages are written here from the status code, and any
 * text from the forge is masked before it is kept.
 */
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import type { ForgeState } from '../storage/status-outbox.js';

export type ForgeKind = 'github' | 'gitea';


/** Gitea and Forgejo serve their API under /api/v1; GitHub and GHES (/api/v3) are GitHub. */
export function forgeKindOf(apiUrl: string): ForgeKind {
  return /\/api\/v1\/?$/.test(apiUrl) ? 'gitea' : 'github';
}

export class ForgeError extends Error {
  constructor(
    message: string,
    /** The HTTP status, or 0 when no answer came (connection dropped, timed out). */
    readonly status: number,
    /** Give up: trying again cannot help until the user changes something. */
    readonly fatal: boolean,
    /** When the forge asked us to come back (Retry-After, x-ratelimit-reset), epoch ms. */
    readonly retryAt?: number,
  ) {
    super(message);
    this.name = 'ForgeError';
  }
}

export interface ForgeClientOptions {
  apiUrl: string;
  token: string;
  /** Minimum time between two writes, shared by every client of this process (default 1000 ms, GitHub's advice). */
  writePaceMs?: number;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** In-process retries on 5xx and dropped connections (default 2), spaced `retryBaseMs`·n² apart (default 1000). */
  retries?: number;
  retryBaseMs?: number;
  now?: () => number;
}

export interface StatusBody {
  state: ForgeState;
  description: string;
  context: string;
  target_url?: string;
}

export interface ForgeClient {
  readonly kind: ForgeKind;
  /** `signal` aborts the request (the reporter stops). */
  createStatus(owner: string, repo: string, sha: string, body: StatusBody, signal?: AbortSignal): Promise<{ id: number; state: string }>;
  /** A new comment on an issue or pull request; returns its id. */
  createComment(owner: string, repo: string, issueNumber: number, body: string, signal?: AbortSignal): Promise<number>;
  /** The repository's webhooks (first 100): id and payload URL. */
  listHooks(owner: string, repo: string): Promise<Array<{ id: number; url?: string }>>;
  /** Creates (no id) or updates a webhook: JSON, the given events and secret, active. Returns its id. */
  saveHook(owner: string, repo: string, hook: { id?: number; url: string; secret: string; events: string[] }): Promise<number>;
  pingHook(owner: string, repo: string, id: number): Promise<void>;
  /** The open pull requests (first 100): number, base branch, head branch. */
  openPullRequests(owner: string, repo: string): Promise<Array<{ number: number; base: string; head: string }>>;
  /** Replaces a comment's body; a ForgeError with status 404 when it was deleted. */
  updateComment(owner: string, repo: string, commentId: number, body: string, signal?: AbortSignal): Promise<void>;
}

const RetryingOctokit = Octokit.plugin(retry, throttling);

/** One pace per process and value: writes from every repository's client share it, as GitHub counts per user. */
const writeGroups = new Map<number, Bottleneck.Group>();
function writeGroup(paceMs: number): Bottleneck.Group {
  let g = writeGroups.get(paceMs);
  if (!g) {
    g = new Bottleneck.Group({ id: `kiln-forge-write-${paceMs}`, maxConcurrent: 1, minTime: paceMs });
    writeGroups.set(paceMs, g);
  }
  return g;
}

export function createForgeClient(o: ForgeClientOptions): ForgeClient {
  const now = o.now ?? Date.now;
  const kind = forgeKindOf(o.apiUrl);
  const octokit = new RetryingOctokit({
    auth: o.token,
    baseUrl: o.apiUrl.replace(/\/+$/, ''),
    userAgent: 'kiln-ci',
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    // 429 is left to the throttling plugin and the outbox, which honour its Retry-After.
    retry: { retries: o.retries ?? 2, retryAfterBaseValue: o.retryBaseMs ?? 1000, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
    throttle: {
      write: writeGroup(o.writePaceMs ?? 1000),
      // Wait out a short limit in-process once; a long one goes back to the outbox with its time.
      onRateLimit: (after: number, _opts: unknown, _k: unknown, count: number) => count < 1 && after <= 60,
      onSecondaryRateLimit: (after: number, _opts: unknown, _k: unknown, count: number) => count < 1 && after <= 60,
    },
  });
  const mask = (text: string) => (o.token ? text.split(o.token).join('***') : text);
  const signalOf = (signal?: AbortSignal) => {
    const timeout = AbortSignal.timeout(o.timeoutMs ?? 10_000);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  };
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toForgeError(err, now(), mask);
    }
  };
  return {
    kind,
    listHooks: (owner, repo) => wrap(async () => {
      const res = await octokit.request('GET /repos/{owner}/{repo}/hooks', { owner, repo, per_page: 100, request: { signal: signalOf() } });
      return (res.data as Array<{ id: number; config?: { url?: string } }>).map((h) => ({ id: h.id, ...(h.config?.url ? { url: h.config.url } : {}) }));
    }),
    saveHook: (owner, repo, hook) => wrap(async () => {
      const config = { url: hook.url, content_type: 'json', secret: hook.secret, insecure_ssl: '0' };
      const res = hook.id === undefined
        ? await octokit.request('POST /repos/{owner}/{repo}/hooks', { owner, repo, name: 'web', active: true, events: hook.events, config, request: { signal: signalOf() } })
        : await octokit.request('PATCH /repos/{owner}/{repo}/hooks/{hook_id}', { owner, repo, hook_id: hook.id, active: true, events: hook.events, config, request: { signal: signalOf() } });
      const id = (res.data as { id?: unknown }).id;
      if (typeof id !== 'number') throw new ForgeError(`the forge answered ${res.status} without the webhook's id`, res.status, false);
      return id;
    }),
    pingHook: (owner, repo, id) => wrap(async () => {
      await octokit.request('POST /repos/{owner}/{repo}/hooks/{hook_id}/pings', { owner, repo, hook_id: id, request: { signal: signalOf() } });
    }),
    openPullRequests: (owner, repo) => wrap(async () => {
      const res = await octokit.request('GET /repos/{owner}/{repo}/pulls', { owner, repo, state: 'open', per_page: 100, request: { signal: signalOf() } });
      return (res.data as Array<{ number: number; base: { ref: string }; head: { ref: string } }>).map((p) => ({ number: p.number, base: p.base.ref, head: p.head.ref }));
    }),
    async createComment(owner, repo, issueNumber, body, signal) {
      try {
        const res = await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { owner, repo, issue_number: issueNumber, body, request: { signal: signalOf(signal) } });
        const id = (res.data as { id?: unknown }).id;
        if (typeof id !== 'number') throw new ForgeError(`the forge answered ${res.status} without the comment's id`, res.status, false);
        return id;
      } catch (err) {
        throw toForgeError(err, now(), mask);
      }
    },
    async updateComment(owner, repo, commentId, body, signal) {
      try {
        await octokit.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', { owner, repo, comment_id: commentId, body, request: { signal: signalOf(signal) } });
      } catch (err) {
        throw toForgeError(err, now(), mask);
      }
    },
    async createStatus(owner, repo, sha, body, signal) {
      const timeout = AbortSignal.timeout(o.timeoutMs ?? 10_000);
      try {
        const res = await octokit.request('POST /repos/{owner}/{repo}/statuses/{sha}', {
          owner, repo, sha, ...body, request: { signal: signal ? AbortSignal.any([signal, timeout]) : timeout },
        });
        const data = res.data as { id?: unknown; state?: unknown; status?: unknown };
        // GitHub answers with `state`; Gitea and Forgejo with `status`.
        const state = typeof data.state === 'string' ? data.state : typeof data.status === 'string' ? data.status : undefined;
        if (typeof data.id !== 'number' || state !== body.state) {
          throw new ForgeError(`the forge answered ${res.status} without the status it should have created (got state ${JSON.stringify(state)})`, res.status, false);
        }
        return { id: data.id, state };
      } catch (err) {
        throw toForgeError(err, now(), mask);
      }
    },
  };
}

interface HttpishError { status?: number; name?: string; message?: string; response?: { headers?: Record<string, string | undefined>; data?: unknown } }

/** What went wrong, in words a person can act on; never the token. */
export function toForgeError(err: unknown, now: number, mask: (s: string) => string = (s) => s): ForgeError {
  if (err instanceof ForgeError) return err;
  const e = (err ?? {}) as HttpishError;
  const headers = e.response?.headers ?? {};
  const status = typeof e.status === 'number' && e.response ? e.status : 0;
  const forgeSays = mask(String((e.response?.data as { message?: unknown } | undefined)?.message ?? '')).slice(0, 200);
  const retryAfter = Number(headers['retry-after']);
  const reset = Number(headers['x-ratelimit-reset']);
  const retryAt = Number.isFinite(retryAfter) && retryAfter > 0 ? now + retryAfter * 1000
    : headers['x-ratelimit-remaining'] === '0' && Number.isFinite(reset) && reset > 0 ? reset * 1000 + 1000 : undefined;
  if (status === 0) {
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' || /aborted|timeout/i.test(e.message ?? '') ? 'did not answer in time' : `could not be reached (${mask(e.message ?? 'connection failed').slice(0, 120)})`;
    return new ForgeError(`the forge ${why}; trying again`, 0, false);
  }
  if (status === 429 || (status === 403 && (retryAt !== undefined || /rate limit/i.test(forgeSays)))) {
    return new ForgeError(`rate limited by the forge (${status}); trying again${retryAt ? ` after ${new Date(retryAt).toISOString()}` : ''}`, status, false, retryAt ?? now + 60_000);
  }
  if (status >= 500) return new ForgeError(`the forge failed (${status}); trying again`, status, false, retryAt);
  if (status === 401) return new ForgeError('the forge rejected the token (401): set a new token in Settings', status, true);
  if (status === 403) return new ForgeError('the token lacks permission (403): it needs "Commit statuses: write" (fine-grained) or the repo:status scope (classic)', status, true);
  if (status === 404) return new ForgeError('the forge does not know this repository or commit, or the token cannot see it (404)', status, true);
  if (status === 422) return new ForgeError(`the forge refused the status (422)${forgeSays ? `: ${forgeSays}` : ''}`, status, true);
  return new ForgeError(`the forge answered ${status}${forgeSays ? `: ${forgeSays}` : ''}`, status, true);
}
