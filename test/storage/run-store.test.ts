import { afterEach, describe, expect, it } from 'vitest';
import { queueFixture, type QueueFixture } from '../helpers/queue-fixture.js';
import { runStatusOf } from '../../shared/model/status.js';
import { decodeCursor } from '../../src-main/storage/run-store.js';

let f: QueueFixture;
afterEach(() => f?.close());

describe('listing runs with cursor pagination', () => {
  it('walks every run exactly once, newest first, even when runs share a creation time', () => {
    f = queueFixture();
    const ids: string[] = [];
    for (let i = 0; i < 23; i++) {
      if (i % 3 === 0) f.now.t += 1; // groups of three runs created in the same millisecond
      ids.push(f.addRun({ repo: i % 2 ? 'acme/a' : 'acme/b', branch: i % 4 ? 'main' : 'dev' }).runId);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = f.store.listRuns({}, 5, cursor);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(23);
    const all = f.store.listRuns({}, 100).items;
    expect(seen).toEqual(all.map((r) => r.id));
    for (let i = 1; i < all.length; i++) expect(all[i - 1].createdAt).toBeGreaterThanOrEqual(all[i].createdAt);
  });

  it('filters by repository, branch and status', () => {
    f = queueFixture();
    f.addRun({ repo: 'acme/a', branch: 'main' });
    f.addRun({ repo: 'acme/a', branch: 'dev' });
    f.addRun({ repo: 'acme/b', branch: 'main' });
    const claim = f.scheduler.claim('w', 10)!;
    expect(f.store.listRuns({ repo: 'acme/a' }, 50).items).toHaveLength(2);
    expect(f.store.listRuns({ repo: 'acme/a', branch: 'dev' }, 50).items).toHaveLength(1);
    expect(f.store.listRuns({ status: 'running' }, 50).items.map((r) => r.id)).toEqual([claim.runId]);
    expect(f.store.listRuns({ status: 'passed' }, 50)).toEqual({ items: [] });
  });

  it('rejects a cursor it did not produce with a message saying what to pass', () => {
    expect(() => decodeCursor('garbage!')).toThrow(/invalid cursor 'garbage!': pass back the nextCursor/);
  });
});

describe('a run\'s status', () => {
  it.each([
    [['passed', 'skipped'], 'passed'],
    [['passed', 'failed', 'cancelled'], 'failed'],
    [['passed', 'timed_out'], 'timed_out'],
    [['failed', 'timed_out'], 'failed'],
    [['timed_out', 'cancelled'], 'timed_out'],
    [['passed', 'cancelled'], 'cancelled'],
    [['skipped', 'skipped'], 'skipped'],
    [['passed', 'queued'], 'running'],
  ] as const)('is derived from jobs %j as %s', (jobs, status) => {
    expect(runStatusOf(jobs.map((s) => ({ status: s })), true)).toBe(status);
  });
  it('is queued while no job has started', () => {
    expect(runStatusOf([{ status: 'queued' }], false)).toBe('queued');
  });
});
