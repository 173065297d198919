import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('lets a burst of one minute\'s allowance through, then refuses with the wait until the next token', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 6; i++) expect(limiter.take('acme/web', 6, 0)).toEqual({ ok: true });
    expect(limiter.take('acme/web', 6, 0)).toEqual({ ok: false, retryAfterSeconds: 10 });
    expect(limiter.take('acme/web', 6, 4_000)).toEqual({ ok: false, retryAfterSeconds: 6 });
    expect(limiter.take('acme/web', 6, 10_000)).toEqual({ ok: true });
  });

  it('keeps one bucket per repository', () => {
    const limiter = new RateLimiter();
    expect(limiter.take('a/a', 1, 0).ok).toBe(true);
    expect(limiter.take('a/a', 1, 0).ok).toBe(false);
    expect(limiter.take('b/b', 1, 0).ok).toBe(true);
  });

  it('never limits a repository without a configured rate', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 1000; i++) expect(limiter.take('a/a', undefined, 0).ok).toBe(true);
  });

  it('refills no further than the bucket\'s capacity', () => {
    const limiter = new RateLimiter();
    expect(limiter.take('a/a', 2, 0).ok).toBe(true);
    const later = 3_600_000;
    expect(limiter.take('a/a', 2, later).ok).toBe(true);
    expect(limiter.take('a/a', 2, later).ok).toBe(true);
    expect(limiter.take('a/a', 2, later).ok).toBe(false);
  });

  it('gives a refunded token back', () => {
    const limiter = new RateLimiter();
    expect(limiter.take('a/a', 1, 0).ok).toBe(true);
    limiter.refund('a/a');
    expect(limiter.take('a/a', 1, 0).ok).toBe(true);
  });
});
