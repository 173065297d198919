/**
 * Replay protection for webhook deliveries: the decision, over the replay table that
 * storage/delivery-store.ts keeps (in SQLite and in memory).
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
import type { SeenDeliveries } from '../engine-contract.js';

export const MIN_REPLAY_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;

export type ReplayVerdict =
  | { ok: true }
  | { ok: false; reason: string };

export class ReplayGuard {
  private readonly windowMs: number;
  private lastPurge = 0;
  /** Keys of reserved deliveries being processed (see `reserve`). */
  private readonly inFlight = new Set<string>();

  /** `seen`: the replay table (storage/delivery-store.ts), which keeps it in memory too. */
  constructor(private readonly seen: SeenDeliveries, windowMs: number) {
    this.windowMs = Math.max(windowMs, MIN_REPLAY_WINDOW_MS);
  }

  /**
   * Checks and, when new, remembers the delivery in one synchronous step with its own transaction
   * (no await in between), so two concurrent copies cannot both pass. Call `forget` if processing then fails.
   */
  claim(deliveryId: string, bodySha256: string, now: number): ReplayVerdict {
    const verdict = this.reserve(deliveryId, bodySha256, now);
    if (verdict.ok) {
      this.seen.rememberNow(deliveryId, bodySha256, now);
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
    const at = this.seen.seenAt(deliveryId, bodySha256);
    if (this.inFlight.has(idKey(deliveryId)) || (at.id !== undefined && at.id >= since)) {
      return { ok: false, reason: `delivery ${deliveryId} was already processed (replay protection keeps delivery ids for ${days(this.windowMs)})` };
    }
    if (this.inFlight.has(bodyKey(bodySha256)) || (at.body !== undefined && at.body >= since)) {
      return { ok: false, reason: `a delivery with an identical signed body was already processed under another delivery id (body sha256 ${bodySha256.slice(0, 12)}…)` };
    }
    this.inFlight.add(idKey(deliveryId));
    this.inFlight.add(bodyKey(bodySha256));
    return { ok: true };
  }

  /**
   * Stores a reserved delivery as seen; call inside the transaction that records it. It is known
   * once that commits (inside a group commit: when the group does; a write that rolls back leaves
   * it unknown, so a redelivery passes).
   */
  remember(deliveryId: string, bodySha256: string, now: number): void {
    this.seen.remember(deliveryId, bodySha256, now);
  }

  /** Ends a reservation (after the delivery was remembered and committed, or was not processed). */
  release(deliveryId: string, bodySha256: string): void {
    this.inFlight.delete(idKey(deliveryId));
    this.inFlight.delete(bodyKey(bodySha256));
  }

  /** Undoes a claim (processing failed, so a redelivery must be possible). */
  forget(deliveryId: string, bodySha256: string): void {
    this.seen.forget(deliveryId, bodySha256);
  }

  /** Deletes entries older than the window; runs at most once a minute. Returns rows removed. */
  expire(now: number, force = false): number {
    if (!force && now - this.lastPurge < 60_000) return 0;
    this.lastPurge = now;
    return this.seen.expire(now - this.windowMs);
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

/** In-flight keys: a delivery id and a body digest never collide. */
function idKey(id: string): string {
  return `id:${id}`;
}

function bodyKey(sha: string): string {
  return `body:${sha}`;
}

function days(ms: number): string {
  return `${Math.round((ms / 86_400_000) * 10) / 10} days`;
}
