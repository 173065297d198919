/**
 * The guard after the Docker engine said its storage is full: held until a measurement of that
 * engine's storage shows room (an engine on this machine), or for the cool-down (one that cannot be
 * measured from here). The data directory's own disk has room throughout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskGuard } from './disk-guard.js';

const GB = 1024 ** 3;
const MB = 1024 ** 2;
let dir: string;
let now: number;
let docker: { free: number; total: number } | undefined;
let guard: DiskGuard;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-guard-docker-'));
  now = 1_000;
  docker = { free: 0, total: 10 * GB };
  guard = new DiskGuard({ dir, policy: { reserveBytes: 0 }, statfs: () => ({ free: 100 * GB, total: 200 * GB }), now: () => now, dockerCooldownMs: 60_000 });
  guard.measureDockerWith('local', () => docker);
  guard.sample();
});
afterEach(() => {
  guard.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("when the measured engine's storage is full", () => {
  it('holds jobs back past the cool-down while it stays full', () => {
    guard.reportDockerFull("the Docker engine's storage is full: step 'Fill' failed", 'local');
    now += 10 * 60_000;
    guard.sample();
    expect(guard.waitingReason()).toBe("waiting: the Docker engine's storage is full: step 'Fill' failed");
  });

  it('lets jobs start at the first sample that measures room, before the cool-down ends', () => {
    guard.reportDockerFull("the Docker engine's storage is full: step 'Fill' failed", 'local');
    expect(guard.state.low).toBe(true);
    now += 1_000;
    docker = { free: 200 * MB, total: 10 * GB };
    guard.sample();
    expect(guard.state.low).toBe(false);
    expect(guard.state.docker).toBeUndefined();
  });

  it('falls back to the cool-down when the storage can no longer be measured', () => {
    guard.reportDockerFull('no space left on device', 'local');
    docker = undefined;
    now += 1_000;
    guard.sample();
    expect(guard.state.low).toBe(true);
    now += 60_000;
    guard.sample();
    expect(guard.state.low).toBe(false);
  });
});

describe('when an engine that is not measured reports its storage full', () => {
  it('holds jobs back for the cool-down only, whatever the measured engine has', () => {
    guard.reportDockerFull('no space left on device', 'remote');
    now += 30_000;
    guard.sample();
    expect(guard.state.low).toBe(true);
    now += 31_000;
    guard.sample();
    expect(guard.state.low).toBe(false);
  });
});
