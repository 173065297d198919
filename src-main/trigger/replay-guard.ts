/**
 * Replay protection for webhook deliveries, kept in the `seen_deliveries` table (and, for the
 * check itself, in memory).
 *
 * Three checks, because each alone can be sidestepped:
 * - the delivery id (X-GitHub-Delivery) seen before → conflict. The id is not signed, so
 * - the digest of the signed body seen before → conflict (a captured body replayed under a new id);
 * - the signed event time (push: repository.pushed_at, epoch seconds; pull_request:
 *   pull_request.updated_at) older than maxAgeMs → stale. This bounds replays of bodies whose
 *   digests have already expired.
 *
 * Only deliveries that were processed (accepted or ignored) are remembered, so GitHub's manual
 * redelivery (same id, same body) of a delivery Kiln rejected — e.g. 429, or lost while the tunnel
 * was down — is not a conflict. Entries live `windowMs` (≥ 3 days: GitHub redelivers within 3 days).
 */
import type { Db } from '../storage/db.js';
import type { GroupCommit } from '../storage/group-commit.js';

export const MIN_REPLAY_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;

export type ReplayVerdict =
  | { ok: true }
  | { ok: false; reason: string };

export class ReplayGuard {
  private readonly windowMs: number;
  private readonly insert: (key: string, at: number) => unknown;
  private readonly remove: (key: string) => unknown;
  private readonly purge: (before: number) => { changes: number };
  private lastPurge = 0;
  /** Keys of reserved deliveries being processed (see `reserve`). */
  private readonly inFlight = new Set<string>();
  /**
   * The table's keys and times, loaded at start and updated when a write commits, so the check per
   * delivery never queries SQLite (two random-key lookups in a growing index). Insertion order is
   * time order, which lets expiry stop at the first live entry. Its size is bounded by the window:
   * about 200 bytes per delivery, so 10,000 deliveries a day for 3 days is some 6 MB.
   */
  private readonly seen = new Map<string, number>();

  constructor(private readonly db: Db, windowMs: number, private readonly commits?: GroupCommit) {
    this.windowMs = Math.max(windowMs, MIN_REPLAY_WINDOW_MS);
    const insert = db.prepare('INSERT OR IGNORE INTO seen_deliveries (seen_at, key) VALUES (?, ?)');
    const remove = db.prepare('DELETE FROM seen_deliveries WHERE key = ?');
    const purge = db.prepare('DELETE FROM seen_deliveries WHERE seen_at < ?');
    this.insert = (key, at) => insert.run(at, key);
    this.remove = (key) => remove.run(key);
    this.purge = (before) => purge.run(before);
    for (const row of db.prepare('SELECT key, seen_at FROM seen_deliveries').iterate() as Iterable<{ key: string; seen_at: number }>) {
      this.seen.set(row.key, row.seen_at);
    }
  }

  /**
   * Checks and, when new, remembers the delivery in one synchronous step with its own transaction
   * (no await in between), so two concurrent copies cannot both pass. Call `forget` if processing then fails.
   */
  claim(deliveryId: string, bodySha256: string, now: number): ReplayVerdict {
    const verdict = this.reserve(deliveryId, bodySha256, now);
    if (verdict.ok) {
      const keys = keysOf(deliveryId, bodySha256);
      this.db.transaction(() => { for (const key of keys) this.insert(key, now); })();
      this.learn(keys, now); // after the commit, not inside it
      this.release(deliveryId, bodySha256);
    }
    return verdict;
  }

  /**
   * The check of `claim` without the write: the delivery is held in memory, so a concurrent copy
   * is refused as a replay while this one is processed. Then `remember` it in the transaction that
   * records the processed delivery, and `release` it once that has committed (or failed: then a
   * redelivery must pass).
   */
  reserve(deliveryId: string, bodySha256: string, now: number): ReplayVerdict {
    this.expire(now);
    const since = now - this.windowMs;
    const id = idKey(deliveryId);
    const body = bodyKey(bodySha256);
    if (this.inFlight.has(id) || this.seenSince(id, since)) {
      return { ok: false, reason: `delivery ${deliveryId} was already processed (replay protection keeps delivery ids for ${days(this.windowMs)})` };
    }
    if (this.inFlight.has(body) || this.seenSince(body, since)) {
      return { ok: false, reason: `a delivery with an identical signed body was already processed under another delivery id (body sha256 ${bodySha256.slice(0, 12)}…)` };
    }
    this.inFlight.add(id);
    this.inFlight.add(body);
    return { ok: true };
  }

  /**
   * Stores a reserved delivery as seen; call inside the transaction that records it. The in-memory
   * index learns it when that commits (inside a group commit: when the group does; a write that
   * rolls back leaves it unknown, so a redelivery passes).
   */
  remember(deliveryId: string, bodySha256: string, now: number): void {
    const keys = keysOf(deliveryId, bodySha256);
    for (const key of keys) this.insert(key, now);
    if (this.commits) this.commits.afterCommit(() => this.learn(keys, now));
    else this.learn(keys, now);
  }

  private learn(keys: string[], at: number): void {
    for (const key of keys) {
      this.seen.delete(key); // re-inserted at the end: the map stays (nearly) in time order
      this.seen.set(key, at);
    }
  }

  /** Ends a reservation (after the delivery was remembered and committed, or was not processed). */
  release(deliveryId: string, bodySha256: string): void {
    for (const key of keysOf(deliveryId, bodySha256)) this.inFlight.delete(key);
  }

  /** Undoes a claim (processing failed, so a redelivery must be possible). */
  forget(deliveryId: string, bodySha256: string): void {
    for (const key of keysOf(deliveryId, bodySha256)) {
      this.remove(key);
      this.seen.delete(key);
    }
  }

  /** Deletes entries older than the window; runs at most once a minute. Returns rows removed. */
  expire(now: number, force = false): number {
    if (!force && now - this.lastPurge < 60_000) return 0;
    this.lastPurge = now;
    const cutoff = now - this.windowMs;
    for (const [key, at] of this.seen) {
      if (at >= cutoff) break;
      this.seen.delete(key);
    }
    return this.purge(cutoff).changes;
  }

  private seenSince(key: string, since: number): boolean {
    const at = this.seen.get(key);
    return at !== undefined && at >= since;
  }
}

/**
 * The signed time of the event, in epoch ms, or undefined when the payload carries none
 * (ping, create/delete, Gitea pushes): then only the id and digest checks apply.
 */
export function signedEventTime(event: string, payload: unknown): number | undefined {
  if (!isObject(payload)) return undefined;
  if (event === 'push') {
    const repo = payload.repository;
    if (isObject(repo)) return toMs(repo.pushed_at);
    return undefined;
  }
  if (event === 'pull_request') {
    const pr = payload.pull_request;
    if (isObject(pr)) return toMs(pr.updated_at);
  }
  return undefined;
}

/** Returns a reason when the event is older than maxAgeMs. A clock skew of a minute into the future is tolerated. */
export function staleReason(eventTime: number | undefined, now: number, maxAgeMs: number): string | undefined {
  if (eventTime === undefined) return undefined;
  const age = now - eventTime;
  if (age > maxAgeMs) {
    return `stale delivery: the signed event time ${new Date(eventTime).toISOString()} is ${Math.round(age / 1000)} s old (limit ${Math.round(maxAgeMs / 1000)} s)`;
  }
  if (age < -60_000) {
    return `stale delivery: the signed event time ${new Date(eventTime).toISOString()} is ${Math.round(-age / 1000)} s in the future`;
  }
  return undefined;
}

function toMs(v: unknown): number | undefined {
  // Push payloads give repository.pushed_at in epoch seconds; other events give ISO 8601 strings.
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e12 ? v * 1000 : v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idKey(id: string): string {
  return `id:${id}`;
}

function bodyKey(sha: string): string {
  return `body:${sha}`;
}

function keysOf(deliveryId: string, bodySha256: string): string[] {
  return [idKey(deliveryId), bodyKey(bodySha256)];
}

function days(ms: number): string {
  return `${Math.round((ms / 86_400_000) * 10) / 10} days`;
}
