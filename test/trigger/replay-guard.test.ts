import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src-main/storage/db.js';
import type { Db } from '../../src-main/storage/db.js';
import { DeliveryStore } from '../../src-main/storage/delivery-store.js';
import { GroupCommit } from '../../src-main/storage/group-commit.js';
import { ReplayGuard, signedEventTime, staleReason } from '../../src-main/trigger/replay-guard.js';
import { fixture } from './helpers/deliver.js';

const DAY = 86_400_000;

describe('ReplayGuard over the seen_deliveries table', () => {
  let dir: string;
  let db: Db;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-replay-'));
    db = openDatabase(join(dir, 'kiln.db'));
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('remembers delivery ids and body digests for three days, then lets them expire', () => {
    const guard = new ReplayGuard(new DeliveryStore(db), 3 * DAY);
    const t0 = 1_700_000_000_000;
    expect(guard.claim('d1', 'body1', t0)).toEqual({ ok: true });
    expect(guard.claim('d1', 'body2', t0 + 2 * DAY).ok).toBe(false);
    expect(guard.claim('d2', 'body1', t0 + 3 * DAY - 1).ok).toBe(false);
    expect(guard.claim('d1', 'body1', t0 + 3 * DAY + 60_001)).toEqual({ ok: true });
  });

  it('never keeps entries for less than three days, whatever the configuration says', () => {
    const guard = new ReplayGuard(new DeliveryStore(db), 60_000);
    const t0 = 1_700_000_000_000;
    guard.claim('d1', 'b1', t0);
    expect(guard.claim('d1', 'b9', t0 + 2 * DAY).ok).toBe(false);
  });

  it('deletes expired rows from the table', () => {
    const guard = new ReplayGuard(new DeliveryStore(db), 3 * DAY);
    const t0 = 1_700_000_000_000;
    guard.claim('d1', 'b1', t0);
    guard.claim('d2', 'b2', t0 + 2 * DAY);
    expect(guard.expire(t0 + 3 * DAY + 1, true)).toBe(2);
    expect((db.prepare('SELECT key FROM seen_deliveries ORDER BY key').all() as { key: string }[]).map((r) => r.key)).toEqual(['body:b2', 'id:d2']);
  });

  it('a new guard over the same table (a restart) still refuses what was remembered', () => {
    const t0 = 1_700_000_000_000;
    new ReplayGuard(new DeliveryStore(db), 3 * DAY).claim('d1', 'b1', t0);
    const restarted = new ReplayGuard(new DeliveryStore(db), 3 * DAY);
    expect(restarted.reserve('d1', 'b2', t0 + DAY)).toMatchObject({ ok: false, reason: expect.stringMatching(/already processed/) });
    expect(restarted.reserve('d2', 'b1', t0 + DAY)).toMatchObject({ ok: false, reason: expect.stringMatching(/identical signed body/) });
  });

  it('inside a group commit, knows a delivery only once the write that remembered it has committed', async () => {
    const commits = new GroupCommit(db);
    const guard = new ReplayGuard(new DeliveryStore(db, commits), 3 * DAY);
    const t0 = 1_700_000_000_000;
    expect(guard.reserve('d1', 'b1', t0)).toEqual({ ok: true });
    expect(guard.reserve('d2', 'b2', t0)).toEqual({ ok: true });
    const kept = commits.write(() => guard.remember('d1', 'b1', t0));
    const undone = commits.write(() => {
      guard.remember('d2', 'b2', t0);
      throw new Error('the run could not be stored');
    });
    await kept;
    await expect(undone).rejects.toThrow(/could not be stored/);
    guard.release('d1', 'b1');
    guard.release('d2', 'b2');
    expect(guard.reserve('d1', 'b1', t0 + 1).ok).toBe(false);
    // The rolled-back delivery is neither in the table nor in memory: GitHub's redelivery passes.
    expect(db.prepare("SELECT count(*) AS n FROM seen_deliveries WHERE key IN ('id:d2', 'body:b2')").get()).toEqual({ n: 0 });
    expect(guard.reserve('d2', 'b2', t0 + 1)).toEqual({ ok: true });
  });

  it('forgets a claim so that a redelivery of an unprocessed delivery passes', () => {
    const guard = new ReplayGuard(new DeliveryStore(db), 3 * DAY);
    guard.claim('d1', 'b1', 1);
    guard.forget('d1', 'b1');
    expect(guard.claim('d1', 'b1', 2)).toEqual({ ok: true });
  });
});

describe('signed event times', () => {
  it('reads push times in epoch seconds and pull request times as ISO dates', () => {
    expect(signedEventTime('push', JSON.parse(fixture('github/push.branch-created.json').toString()))).toBe(1557933657_000);
    expect(signedEventTime('pull_request', JSON.parse(fixture('github/pull_request.opened.json').toString()))).toBe(Date.parse('2019-05-15T15:20:33Z'));
    expect(signedEventTime('ping', JSON.parse(fixture('github/ping.json').toString()))).toBeUndefined();
  });

  it('calls an event older than the limit, or far in the future, stale', () => {
    expect(staleReason(0, 5 * 60_000, 5 * 60_000)).toBeUndefined();
    expect(staleReason(0, 5 * 60_000 + 1, 5 * 60_000)).toMatch(/stale delivery/);
    expect(staleReason(10 * 60_000, 0, 5 * 60_000)).toMatch(/in the future/);
    expect(staleReason(undefined, 1e15, 5 * 60_000)).toBeUndefined();
  });
});
