/**
 * Per-repository token buckets for webhook-triggered runs: capacity = the configured triggers per
 * minute, refilled continuously at that rate, so a burst of up to one minute's allowance passes and
 * a sustained flood is held to the rate. In memory: a restart refills every bucket, which errs on
 * the side of accepting deliveries.
 */
export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
  perMinute: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** Takes one token for `key`, or says how long until one is available. `perMinute` undefined = unlimited. */
  take(key: string, perMinute: number | undefined, now: number): RateDecision {
    if (perMinute === undefined || !Number.isFinite(perMinute)) return { ok: true };
    if (perMinute <= 0) return { ok: false, retryAfterSeconds: 60 };
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.perMinute !== perMinute) {
      bucket = { tokens: perMinute, updatedAt: now, perMinute };
      this.buckets.set(key, bucket);
    }
    const ratePerMs = perMinute / 60_000;
    bucket.tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.updatedAt) * ratePerMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    const waitMs = (1 - bucket.tokens) / ratePerMs;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** Gives back a token taken for a delivery that then was not processed (e.g. the engine failed). */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(bucket.perMinute, bucket.tokens + 1);
  }
}
