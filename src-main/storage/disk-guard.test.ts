import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskGuard, RESERVE_FILE, type DiskState } from './disk-guard.js';

const GB = 1024 ** 3;
let dir: string;
let disk: { free: number; total: number };
let guard: DiskGuard;
let changes: DiskState[];
let now: number;

function makeGuard(policy: ConstructorParameters<typeof DiskGuard>[0]['policy'] = {}): DiskGuard {
  const g = new DiskGuard({ dir, policy: { reserveBytes: 0, ...policy }, statfs: () => disk, now: () => now, dockerCooldownMs: 60_000 });
  g.onChange((s) => changes.push(s));
  return g;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-guard-'));
  disk = { free: 100 * GB, total: 200 * GB };
  changes = [];
  now = 1_000;
});
afterEach(() => {
  guard?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the threshold', () => {
  it.each([
    // total, free, needed: the larger of 2 GiB and 5 % of the disk
    [20 * GB, 3 * GB, 2 * GB, false],
    [20 * GB, 1.5 * GB, 2 * GB, true],
    [200 * GB, 9 * GB, 10 * GB, true],
    [200 * GB, 11 * GB, 10 * GB, false],
  ])('on a disk of %d bytes with %d free needs %d and is low=%s', (total, free, needed, low) => {
    disk = { total, free };
    guard = makeGuard();
    const s = guard.sample();
    expect(s.neededBytes).toBe(needed);
    expect(s.low).toBe(low);
  });

  it('names free space and the need in the waiting reason', () => {
    disk = { total: 20 * GB, free: 1.1 * GB };
    guard = makeGuard();
    guard.sample();
    expect(guard.waitingReason()).toBe('waiting: 1.1 GB free, Kiln needs 2.0 GB');
  });
});

describe('when a write finds the disk full', () => {
  it('turns low at once, without a sample, and back only once a sample shows room', () => {
    guard = makeGuard();
    guard.sample();
    expect(guard.state.low).toBe(false);
    guard.reportFull("the log of step 'Build'");
    expect(guard.state.low).toBe(true);
    expect(guard.state.lastFull).toEqual({ what: "the log of step 'Build'", at: 1_000 });
    expect(changes.map((c) => c.low)).toEqual([true]);
    guard.sample();
    expect(guard.state.low).toBe(false);
    expect(changes.map((c) => c.low)).toEqual([true, false]);
  });
});

describe("when the Docker engine's storage is full", () => {
  it('holds jobs back for the cool-down, saying why', () => {
    guard = makeGuard();
    guard.sample();
    guard.reportDockerFull('no space left on device');
    expect(guard.waitingReason()).toBe("waiting: the Docker engine's storage is full (no space left on device)");
    now += 61_000;
    guard.sample();
    expect(guard.state.low).toBe(false);
  });
});

describe('the reserve', () => {
  it('is written while there is room, and given up when a write finds the disk full', async () => {
    guard = makeGuard({ reserveBytes: 3 * 1024 * 1024 });
    guard.sample();
    const file = join(dir, RESERVE_FILE);
    expect(guard.writingReserve).toBe(true);
    await guard.reserveSettled();
    expect(guard.writingReserve).toBe(false);
    expect(statSync(file).size).toBe(3 * 1024 * 1024);
    guard.reportFull('the database');
    expect(existsSync(file)).toBe(false);
  });

  it('tells when a write of it has ended, so that jobs held back meanwhile can start', async () => {
    let settled = 0;
    guard = new DiskGuard({ dir, policy: { reserveBytes: 1024 * 1024 }, statfs: () => disk, onReserveSettled: () => settled++ });
    guard.sample();
    expect(settled).toBe(0);
    await guard.reserveSettled();
    expect(settled).toBe(1);
    expect(guard.writingReserve).toBe(false);
  });

  it('given up while it is being written, never appears: the write is abandoned and its temporary file deleted', async () => {
    guard = makeGuard({ reserveBytes: 3 * 1024 * 1024 });
    guard.sample();
    expect(guard.writingReserve).toBe(true);
    guard.reportFull('the log of a job');
    await guard.reserveSettled();
    expect(readdirSync(dir)).toEqual([]);
    expect(guard.state.reserveBytes).toBe(0);
    // Once a sample shows room again, it is written anew.
    guard.sample();
    await guard.reserveSettled();
    expect(statSync(join(dir, RESERVE_FILE)).size).toBe(3 * 1024 * 1024);
  });
});
