/**
 * The worker pool: keeps up to `concurrency` claimed jobs running (and at most `perRepository` per
 * repository, jobs kept for debugging included, enforced by the claim query), renews each claim's lease by heartbeat, and hands every
 * result to `finish`. Claims happen on `kick()` (something was enqueued or finished) and on a
 * poll timer that also expires dead leases. Every step is a short synchronous SQLite call, so the
 * event loop is never held for long.
 *
 * stop(): no new claims; running jobs are aborted with SHUTDOWN as the abort reason, and a job that
 * comes back cancelled because of it is released (queued again, attempt not counted) rather than
 * recorded as cancelled — quitting the app is not the user cancelling a build.
 *
 * A result that cannot be recorded (the database cannot be written: a full disk) is kept and tried
 * again on every poll until it is; `mayStart` (the disk guard) holds new claims back meanwhile.
 * Engines (optional): with several Docker engines each claim is placed on one (`engines.reserve`:
 * labels, free slots, per-engine limits) and only jobs some free engine can take are claimed. When
 * an engine goes away (`engineLost`), or a job comes back with `engineLost`, the job is not failed:
 * its claim is re-queued through the scheduler (fenced, within the attempt limit) and the slot freed
 * at once, without waiting for calls to a vanished engine; whatever that attempt reports later is
 * dropped.
 *
 * A slot can also be held by a job the pool does not run (`holdSlot`: a failed job kept for
 * debugging by an earlier process, adopted at start-up): it counts against `concurrency` and its
 * engine's limit until `freeSlot`, as it did while the earlier process held it. Its repository's slot
 * is the claim query's to count (the queue reads kept jobs from the database).
 */
import { SHUTDOWN_REASON, type JobResult } from '../core/job-contract.js';
import type { Claim } from './job-queue.js';
import type { Scheduler } from './scheduler.js';

export const SHUTDOWN = SHUTDOWN_REASON;
export const LEASE_LOST = 'kiln-lease-lost';

export interface WorkerPoolOptions {
  scheduler: Scheduler;
  /** Global maximum of running jobs. */
  concurrency: number;
  /** Maximum running jobs per repository. */
  perRepository: number;
  heartbeatMs: number;
  pollMs: number;
  /** Written on claims, for humans reading the queue table. */
  workerName: string;
  /** Runs the job; must resolve (a failure is a result) and honour the signal. */
  execute(claim: Claim, signal: AbortSignal, engine?: string): Promise<JobResult>;
  /** Records the result (fenced by the claim's token). */
  finish(claim: Claim, result: JobResult): void;
  onError(message: string, err: unknown): void;
  /** False while no new job may start (low disk space); results are still recorded. Default: always. */
  mayStart?: () => boolean;
  /** Placement over several engines; without it every claim runs on the executor's one engine. */
  engines?: EngineSlots;
  /** A job's engine was lost: a line for its log (the scheduler re-queues it). */
  onEngineLost?(claim: Claim, engine: string | undefined, why: string): void;
}

/** The engine pool as the worker pool uses it (executor/engines/engine-pool.ts). */
export interface EngineSlots {
  hasFreeSlot(): boolean;
  /** Whether a queued job could be placed now; absent when every job fits every engine. */
  canPlace?: (jobId: string, runId: string) => boolean;
  /** Places a claimed job; undefined when no engine can take it now. */
  reserve(claim: Claim): string | undefined;
  release(jobId: string): void;
  /** Counts a job this pool does not run on `engine` (the only one when undefined) until `release`. */
  hold?(jobId: string, engine: string | undefined): void;
  /**
   * A job found `engine` gone (called before the job's release): no new job goes there until it
   * answers again. `jobId` names the engine exactly when a new engine took the name.
   */
  suspect?(engine: string, reason: string, jobId?: string): void;
}

export const ENGINE_LOST = 'kiln-engine-lost';

interface Running {
  claim: Claim;
  controller: AbortController;
  done: Promise<void>;
  engine?: string;
  /** Set when its engine was lost: the attempt's result, whenever it comes, is dropped. */
  lost?: boolean;
}

export class WorkerPool {
  private readonly running = new Map<string, Running>();
  /** Slots held by jobs this pool does not run (adopted debug jobs). */
  private readonly held = new Set<string>();
  /** Engines of the claims made in the current pump, until they launch. */
  private readonly placed = new Map<string, string | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private stopping = false;
  private started = false;
  /** Results whose recording failed, tried again on the next poll. */
  private unrecorded: (() => void)[] = [];

  constructor(private readonly o: WorkerPoolOptions) {}

  start(): void {
    this.started = true;
    this.timer = setInterval(() => this.tick(), this.o.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Asks the pool to claim work soon (coalesced to one pass per tick). */
  kick(): void {
    if (this.scheduled || this.stopping || !this.started) return; // nothing is claimed before start() (recovery first)
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  get size(): number {
    return this.running.size;
  }

  /** Takes a slot (and one on `engine`) for a job kept outside the pool, until freeSlot. Idempotent. */
  holdSlot(jobId: string, engine: string | undefined): void {
    if (this.held.has(jobId)) return;
    this.held.add(jobId);
    this.o.engines?.hold?.(jobId, engine);
  }

  /** Gives back a slot holdSlot took; new jobs may start in it (its repository's too). Idempotent. */
  freeSlot(jobId: string): void {
    if (!this.held.delete(jobId)) return;
    this.o.engines?.release(jobId);
    // The queue may remember the job's repository as blocked (its kept job held the slot): ask again.
    this.o.scheduler.forgetIdle();
    this.kick();
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /**
   * New limits from the settings page: they apply to the next claims. Lowering them aborts
   * nothing; running jobs finish and fewer are claimed after them.
   */
  setLimits(concurrency: number, perRepository: number): void {
    this.o.concurrency = concurrency;
    this.o.perRepository = perRepository;
    this.kick();
  }

  /** Aborts a running job of this pool (cancellation); no-op for jobs it does not run. */
  abort(jobId: string, reason = 'cancelled'): void {
    this.running.get(jobId)?.controller.abort(reason);
  }

  private tick(): void {
    if (this.stopping) return;
    this.retryUnrecorded();
    try {
      this.o.scheduler.expireLeases();
    } catch (err) {
      this.o.onError('expiring leases failed', err);
    }
    // Kicks skip the query while the queue knows nothing is claimable; the poll asks afresh anyway,
    // so a write the queue did not see delays a claim by one poll interval at most.
    this.o.scheduler.forgetIdle();
    this.pump();
  }

  /**
   * Claims jobs for the free slots and launches them. `before` (recording a finished job's result)
   * runs in the same transaction as the claims: one commit per finished-and-replaced job.
   */
  private pump(before?: () => void): void {
    if (this.stopping && !before) return; // the database may already be closed
    // Nothing claimable and nothing to record: no transaction (a flood of pushes to one repository at
    // its limit kicks the pool once per delivery).
    const mayStart = this.o.mayStart?.() ?? true;
    if (!before && (!mayStart || !this.o.scheduler.mayClaim(this.o.perRepository))) return;
    let claims: Claim[] = [];
    try {
      claims = this.o.scheduler.batch(() => {
        before?.();
        const out: Claim[] = [];
        const engines = this.o.engines;
        while (mayStart && !this.stopping && this.running.size + this.held.size + out.length < this.o.concurrency) {
          if (engines && !engines.hasFreeSlot()) break;
          const claim = this.o.scheduler.claim(this.o.workerName, this.o.perRepository, engines?.canPlace);
          if (!claim) break;
          const engine = engines?.reserve(claim);
          if (engines && engine === undefined) {
            this.o.scheduler.release(claim);
            break;
          }
          this.placed.set(claim.jobId, engine);
          out.push(claim);
        }
        return out;
      });
    } catch (err) {
      for (const id of this.placed.keys()) if (!this.running.has(id)) this.o.engines?.release(id);
      this.placed.clear();
      if (!before) {
        this.o.onError('claiming a job failed', err);
        return;
      }
      // The claims rolled back with it; record the result on its own, then claim again.
      try {
        this.o.scheduler.batch(before);
      } catch (again) {
        this.o.onError('recording a job result failed; trying again on the next poll', again);
        this.unrecorded.push(before);
      }
      this.kick();
    }
    for (const claim of claims) this.launch(claim, this.placed.get(claim.jobId));
    this.placed.clear();
  }

  private retryUnrecorded(): void {
    while (this.unrecorded.length > 0) {
      try {
        this.o.scheduler.batch(this.unrecorded[0]);
      } catch {
        return; // still cannot write: the next poll tries again
      }
      this.unrecorded.shift();
    }
  }

  /** Results waiting to be recorded (their database write failed). */
  get waitingToRecord(): number {
    return this.unrecorded.length;
  }

  /**
   * An engine stopped answering: its jobs are re-queued now (the scheduler fences the claims and
   * counts the attempt) and their slots freed; their executors are aborted and whatever they report
   * later is dropped.
   */
  engineLost(engine: string, jobIds: string[], why: string): void {
    const lost = jobIds.map((id) => this.running.get(id)).filter((r): r is Running => r !== undefined && !r.lost);
    if (lost.length === 0) return;
    for (const r of lost) {
      r.lost = true;
      this.running.delete(r.claim.jobId);
      r.controller.abort(ENGINE_LOST);
    }
    this.requeue(lost.map((r) => r.claim), engine, `the Docker engine '${engine}' stopped answering (${why})`);
  }

  private requeue(claims: Claim[], engine: string | undefined, why: string): void {
    try {
      this.o.scheduler.batch(() => {
        for (const claim of claims) {
          this.o.onEngineLost?.(claim, engine, why);
          this.o.scheduler.abandon(claim, why);
        }
      });
    } catch (err) {
      this.o.onError('re-queueing the jobs of a lost engine failed', err);
    }
    this.kick();
  }

  private launch(claim: Claim, engine: string | undefined): void {
    const controller = new AbortController();
    const heartbeat = setInterval(() => {
      try {
        if (!this.o.scheduler.renew(claim)) controller.abort(LEASE_LOST);
      } catch (err) {
        this.o.onError('renewing a lease failed', err);
      }
    }, this.o.heartbeatMs);
    const entry: Running = { claim, controller, done: Promise.resolve(), engine };
    this.running.set(claim.jobId, entry);
    const done = (async () => {
      let result: JobResult;
      try {
        result = await this.o.execute(claim, controller.signal, engine);
      } catch (err) {
        result = { status: 'failed', steps: [], error: `Kiln could not run the job: ${err instanceof Error ? err.message : String(err)}`, infrastructure: true, logOffset: 0 };
      } finally {
        clearInterval(heartbeat);
      }
      // A lost attempt's slot was freed when its engine went down; by now the job may hold a slot
      // again (its next attempt), which this stale attempt must not free.
      if (entry.lost) return; // re-queued when its engine went away; this attempt's result is stale
      const engineLost = result.engineLost && controller.signal.reason !== SHUTDOWN;
      // Before the release: the pool finds the engine through the job (a replaced engine's successor has its name).
      if (engineLost && engine !== undefined) this.o.engines?.suspect?.(engine, result.error ?? 'the Docker engine went away', claim.jobId);
      this.o.engines?.release(claim.jobId);
      this.running.delete(claim.jobId);
      if (engineLost) {
        this.requeue([claim], engine, result.error ?? 'the Docker engine went away');
        return;
      }
      this.pump(() => {
        if (controller.signal.reason === SHUTDOWN && result.status === 'cancelled') this.o.scheduler.release(claim);
        else this.o.finish(claim, result);
      });
    })();
    entry.done = done;
  }

  /** Stops claiming, aborts running jobs and waits for their teardown. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort(SHUTDOWN);
    await Promise.all(all.map((r) => r.done));
  }
}
