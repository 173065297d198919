/**
 * The low-space guard: watches free space where Kiln keeps its data so that a filling disk stops new
 * jobs before it stops Kiln.
 *
 * Why sampled: a statfs per log write would put a system call on the hottest path Kiln has. The guard
 * reads free space on a timer (default every 5 s) and answers `state` and `waitingReason()` from
 * memory. A write that fails for lack of space reports it (`reportFull`) and the guard turns low at
 * once, without waiting for the next sample; it turns back only when a sample shows room again.
 *
 * Low means: free < max(minFreeBytes, minFreePercent of the disk), or a write failed for lack of
 * space since the last sample that showed room, or the Docker engine said its own storage is full.
 * That report lasts until a sample measures room on the engine's storage again (at least
 * DOCKER_STORAGE_ROOM_BYTES free; `measureDockerWith`, for an engine on this machine); an engine
 * whose storage cannot be measured from here is held back for `dockerCooldownMs`. Listeners (`onChange`) hear every low ↔ ok transition
 * (the engine holds the queue, runs retention, and kicks the queue again).
 *
 * The reserve: a file of `reserveBytes` kept in the data directory while there is room. When a
 * write fails for lack of space (and only then), it is deleted, so
 * that SQLite has room to record results and the deletions that free space (a database in WAL mode
 * cannot even delete rows on a full disk). It is written again once free space is back above the
 * threshold plus its size, in the background (a temporary file renamed when whole). While it is
 * being written it is not there to give: a release meanwhile abandons the write (it must not
 * appear after the disk was reported full), and `writingReserve` says so, so that no job starts
 * in that window — a job that fills the disk then would take the half-written file's room, and
 * its result would find no reserve to record it with.
 */
import { statfsSync, statSync, unlinkSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../../shared/format.js';
import { DOCKER_STORAGE_FULL, DOCKER_STORAGE_ROOM_BYTES } from '../core/disk-full.js';

export interface DiskPolicy {
  /** Jobs wait below the larger of this and minFreePercent of the disk (default 2 GiB). */
  minFreeBytes: number;
  /** Default 5 (%). */
  minFreePercent: number;
  /** Emergency room kept as a file in the data directory (default 32 MiB; 0 turns it off). */
  reserveBytes: number;
  /** How often free space is sampled (default 5 s). */
  checkIntervalMs: number;
}

export const DISK_DEFAULTS: DiskPolicy = { minFreeBytes: 2 * 1024 ** 3, minFreePercent: 5, reserveBytes: 32 * 1024 ** 2, checkIntervalMs: 5_000 };

export const RESERVE_FILE = 'disk-reserve';

export interface DiskState {
  low: boolean;
  freeBytes: number;
  totalBytes: number;
  /** The threshold: jobs start only with at least this much free. */
  neededBytes: number;
  checkedAt: number;
  /** Why the guard is low, in one line ("1.1 GB free, Kiln needs 2.0 GB"); absent when it is not. */
  reason?: string;
  /** The last write that failed for lack of space ("the log of step 'Build'"), and when. */
  lastFull?: { what: string; at: number };
  /** The Docker engine reported its storage full (image pull, container create, writes in a container). */
  docker?: { message: string; at: number };
  /** Bytes held by the reserve file now. */
  reserveBytes: number;
}

export interface DiskGuardOptions {
  /** The data directory. */
  dir: string;
  policy?: Partial<DiskPolicy>;
  now?: () => number;
  /** Free and total bytes of the filesystem holding `dir` (default statfs). */
  statfs?: (dir: string) => { free: number; total: number };
  onError?: (message: string, err: unknown) => void;
  /** How long a Docker "no space left" report holds jobs back when that engine's storage cannot be measured (default 60 s). */
  dockerCooldownMs?: number;
  /** Called when a write of the reserve has ended, written or not (the engine then lets jobs start). */
  onReserveSettled?: () => void;
}

function statfsOf(dir: string): { free: number; total: number } {
  const s = statfsSync(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

export class DiskGuard {
  readonly policy: DiskPolicy;
  private current: DiskState;
  private timer: NodeJS.Timeout | undefined;
  private fullSinceSample = false;
  /** The reserve being written, and whether a release since has abandoned it. */
  private writing: { done: Promise<void>; abandoned: boolean } | undefined;
  /** The engine whose storage `dockerSpace` measures (the one on this machine). */
  private dockerMeasured: { engine: string; space: () => { free: number; total: number } | undefined } | undefined;
  /** The Docker report holds until a sample measures room (not for the cool-down). */
  private dockerUntilRoom = false;
  private readonly now: () => number;
  private readonly reservePath: string;
  private readonly listeners = new Set<(state: DiskState) => void>();

  constructor(private readonly o: DiskGuardOptions) {
    this.policy = { ...DISK_DEFAULTS, ...o.policy };
    this.now = o.now ?? Date.now;
    this.reservePath = join(o.dir, RESERVE_FILE);
    this.current = { low: false, freeBytes: 0, totalBytes: 0, neededBytes: this.policy.minFreeBytes, checkedAt: 0, reserveBytes: 0 };
  }

  /** Samples now and then every checkIntervalMs. Idempotent. */
  start(): DiskState {
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), this.policy.checkIntervalMs);
      this.timer.unref();
    }
    return this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Calls `listener` on every low ↔ ok transition; returns the unsubscribe function. */
  onChange(listener: (state: DiskState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The last sample (no system call). */
  get state(): DiskState {
    return this.current;
  }

  /** "waiting: 1.1 GB free, Kiln needs 2.0 GB" while low; undefined when jobs may start. */
  waitingReason(): string | undefined {
    return this.current.low ? `waiting: ${this.current.reason ?? 'the disk is full'}` : undefined;
  }

  /** Reads free space now and updates the state (calls onChange on a transition). */
  sample(): DiskState {
    let disk: { free: number; total: number };
    try {
      disk = (this.o.statfs ?? statfsOf)(this.o.dir);
    } catch (err) {
      this.o.onError?.(`cannot read free space of ${this.o.dir}`, err);
      return this.current;
    }
    const reserve = this.reserveSize();
    const needed = Math.max(this.policy.minFreeBytes, Math.ceil((disk.total * this.policy.minFreePercent) / 100));
    if (disk.free >= needed) this.fullSinceSample = false;
    const dockerRoom = this.dockerRoomAgain();
    // The reserve is given up only by a write that found the disk full (reportFull, the database's
    // freeRoom), never by a sample: room freed while a job still prints would go to its log, and
    // the job's result would then find none.
    if (reserve === 0 && this.policy.reserveBytes > 0 && disk.free >= needed + this.policy.reserveBytes) this.startReserve();
    this.update({ freeBytes: disk.free, totalBytes: disk.total, neededBytes: needed, checkedAt: this.now(), ...(dockerRoom ? { docker: undefined } : {}) });
    return this.current;
  }

  /** While a Docker report holds until room: true once the engine's storage has room again. */
  private dockerRoomAgain(): boolean {
    if (!this.current.docker || !this.dockerUntilRoom) return false;
    const space = this.measureDocker();
    if (space === undefined) {
      this.dockerUntilRoom = false; // no longer measurable: the cool-down applies from the report on
      return false;
    }
    if (space.free < DOCKER_STORAGE_ROOM_BYTES) return false;
    this.dockerUntilRoom = false;
    return true;
  }

  private measureDocker(): { free: number; total: number } | undefined {
    try {
      return this.dockerMeasured?.space();
    } catch {
      return undefined;
    }
  }

  /** How to measure the storage of `engine` (a Docker engine on this machine: statfs of its data root); undefined: none is. */
  measureDockerWith(engine: string | undefined, space?: () => { free: number; total: number } | undefined): void {
    this.dockerMeasured = engine === undefined || !space ? undefined : { engine, space };
  }

  /** A write failed for lack of space: low at once, and the reserve is given up for the database. */
  reportFull(what: string): void {
    this.fullSinceSample = true;
    this.releaseReserve();
    this.update({ lastFull: { what, at: this.now() } });
  }

  /** The Docker engine (`engine`, when known) said its storage is full. */
  reportDockerFull(message: string, engine?: string): void {
    this.dockerUntilRoom = engine !== undefined && engine === this.dockerMeasured?.engine && this.measureDocker() !== undefined;
    this.update({ docker: { message, at: this.now() } });
  }

  private update(patch: Partial<DiskState>): void {
    const was = this.current;
    const next: DiskState = { ...was, ...patch, reserveBytes: this.reserveSize() };
    const dockerFresh = next.docker && (this.dockerUntilRoom || this.now() - next.docker.at < (this.o.dockerCooldownMs ?? 60_000)) ? next.docker : undefined;
    if (!dockerFresh) delete next.docker;
    const short = next.checkedAt > 0 && next.freeBytes < next.neededBytes;
    next.low = short || this.fullSinceSample || dockerFresh !== undefined;
    if (!next.low) delete next.reason;
    else if (short) next.reason = `${formatBytes(next.freeBytes)} free, Kiln needs ${formatBytes(next.neededBytes)}`;
    else if (this.fullSinceSample) next.reason = `the disk was full when writing ${next.lastFull?.what ?? 'data'}; waiting for the next check of free space`;
    else {
      const said = dockerFresh?.message ?? '';
      next.reason = said.startsWith(DOCKER_STORAGE_FULL) ? said : `${DOCKER_STORAGE_FULL} (${said})`;
    }
    this.current = next;
    if (next.low === was.low) return;
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.o.onError?.('reacting to a change of free space failed', err);
      }
    }
  }

  private reserveSize(): number {
    if (this.policy.reserveBytes <= 0) return 0;
    try {
      return statSync(this.reservePath).size;
    } catch {
      return 0;
    }
  }

  /** True while the reserve is being written (no job should start: see the header). */
  get writingReserve(): boolean {
    return this.writing !== undefined;
  }

  /** Resolves once no reserve is being written (tests, and the engine's stop). */
  reserveSettled(): Promise<void> {
    return this.writing?.done ?? Promise.resolve();
  }

  /**
   * Deletes the reserve file (its room goes to whoever writes next: SQLite, mostly). A reserve being
   * written is abandoned: its temporary file is deleted too (its room comes back once the writer,
   * at its next chunk, closes it), and it is never renamed into place.
   */
  releaseReserve(): void {
    if (this.writing) {
      this.writing.abandoned = true;
      removeQuietly(this.tmpPath);
    }
    removeQuietly(this.reservePath);
  }

  private get tmpPath(): string {
    return `${this.reservePath}.tmp`;
  }

  /** Starts writing the reserve in the background, unless it is being written already. */
  private startReserve(): void {
    if (this.writing) return;
    const writing = { done: Promise.resolve(), abandoned: false };
    writing.done = this.writeReserve(writing).finally(() => {
      this.writing = undefined;
      try {
        this.o.onReserveSettled?.();
      } catch (err) {
        this.o.onError?.('reacting to the written reserve failed', err);
      }
    });
    this.writing = writing;
  }

  /** Writes the reserve file in 1 MiB chunks, off the event loop; a write that finds no room gives it up. */
  private async writeReserve(writing: { abandoned: boolean }): Promise<void> {
    const tmp = this.tmpPath;
    try {
      const handle = await open(tmp, 'w', 0o600);
      try {
        const chunk = Buffer.alloc(Math.min(1024 * 1024, this.policy.reserveBytes));
        for (let written = 0; written < this.policy.reserveBytes && !writing.abandoned; written += chunk.length) {
          await handle.write(chunk, 0, Math.min(chunk.length, this.policy.reserveBytes - written));
        }
      } finally {
        await handle.close();
      }
      if (writing.abandoned) throw new Error('released while being written');
      await rename(tmp, this.reservePath);
    } catch {
      removeQuietly(tmp);
    }
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // not there
  }
}
