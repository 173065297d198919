import { describe, expect, it } from 'vitest';
import { CATCH_UP_ACTOR, compareHeads, eventForHead, isClockJump, isPollOnly, nextCheckDelay } from './catch-up.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('comparing remote heads with the last-seen ones', () => {
  it('records everything and builds nothing on first sight', () => {
    expect(compareHeads(new Map([['refs/heads/main', A]]), undefined)).toEqual({ kind: 'baseline', heads: new Map([['refs/heads/main', A]]) });
  });

  type Pairs = [string, string][];
  it.each<[string, Pairs, Pairs, Pairs, string[]]>([
    ['an unchanged head', [['refs/heads/main', A]], [['refs/heads/main', A]], [], []],
    ['a moved head', [['refs/heads/main', B]], [['refs/heads/main', A]], [['refs/heads/main', B]], []],
    ['a new branch', [['refs/heads/main', A], ['refs/heads/x', C]], [['refs/heads/main', A]], [['refs/heads/x', C]], []],
    ['a deleted branch', [], [['refs/heads/gone', A]], [], ['refs/heads/gone']],
  ])('reports %s', (_what, remote, stored, moved, deleted) => {
    const out = compareHeads(new Map(remote), new Map(stored));
    // A moved head carries the last-seen one as `before` (what path filters compare against); a new ref has none.
    const before = new Map(stored);
    expect(out).toEqual({ kind: 'changes', moved: moved.map(([ref, sha]) => ({ ref, sha, ...(before.has(ref) ? { before: before.get(ref) } : {}) })), deleted });
  });

  it('orders moved heads branches first, then tags, then pull requests', () => {
    const out = compareHeads(new Map([['refs/pull/2/head', A], ['refs/tags/v1', A], ['refs/heads/b', A], ['refs/heads/a', A]]), new Map());
    expect(out.kind === 'changes' && out.moved.map((m) => m.ref)).toEqual(['refs/heads/a', 'refs/heads/b', 'refs/tags/v1', 'refs/pull/2/head']);
  });
});

describe('the event a moved head becomes', () => {
  it.each([
    ['refs/heads/feature/x', { kind: 'push', branch: 'feature/x' }],
    ['refs/tags/v1.2', { kind: 'tag', tag: 'v1.2' }],
    ['refs/pull/7/head', { kind: 'pull_request', prNumber: 7, baseBranch: 'main', branch: 'pull/7/head' }],
  ] as const)('%s is a %o marked as caught up', (ref, expected) => {
    expect(eventForHead('acme/web', ref, A, { defaultBranch: 'main' })).toMatchObject({ ...expected, repo: 'acme/web', sha: A, ref, triggeredBy: CATCH_UP_ACTOR });
  });

  it('carries the last-seen head of a branch as before, so path filters see every missed push', () => {
    expect(eventForHead('acme/web', 'refs/heads/main', A, { defaultBranch: 'main' }, B)).toMatchObject({ kind: 'push', sha: A, before: B });
  });

  it('takes a pull request base and head branch from its last webhook when known', () => {
    expect(eventForHead('acme/web', 'refs/pull/7/head', A, { baseBranch: 'develop', branch: 'fix', defaultBranch: 'main' })).toMatchObject({ baseBranch: 'develop', branch: 'fix' });
  });

  it('ignores other refs', () => {
    expect(eventForHead('acme/web', 'refs/notes/commits', A, { defaultBranch: 'main' })).toBeUndefined();
  });
});

describe('scheduling', () => {
  it.each([[0, 60_000], [1, 120_000], [3, 480_000], [10, 30 * 60_000]])('after %i failures waits %i ms', (failures, ms) => {
    expect(nextCheckDelay(60_000, failures)).toBe(ms);
  });

  it('never waits less than the interval itself when it exceeds the backoff cap', () => {
    expect(nextCheckDelay(3_600_000, 2)).toBe(3_600_000);
  });

  it.each([[5_000, 5_100, false], [5_000, 19_000, false], [5_000, 25_000, true], [100, 15_300, true]])(
    'a %i ms timer firing %i ms after the last is a clock jump: %s', (checkMs, elapsed, jump) => {
      expect(isClockJump(1_000_000, 1_000_000 + elapsed, checkMs)).toBe(jump);
    });

  it('polls repositories without a webhook secret', () => {
    expect(isPollOnly({ webhookSecrets: [] })).toBe(true);
    expect(isPollOnly({ webhookSecrets: ['s'] })).toBe(false);
  });
});
