/**
 * Debug mode: keeps a failed job of a run started "with debug" up for a terminal, until a deadline.
 *
 * A held job is one this process keeps: the executor's lifecycle waits in hold() (the job's worker
 * slot stays taken, its lease renewed, its log open), and it ends — teardown, the job recorded
 * failed — when the deadline passes, the user ends it, or the run is cancelled. When the engine
 * stops, hold answers 'leave': the job is recorded failed and the container stays for the next start.
 * An adopted job is one kept by an earlier process: start-up (recover) records its failure under
 * the claim that kept it (so the queue does not run it again), then keeps its container until the
 * deadline, or removes it at once when the deadline has passed. The reaper spares kept jobs. An
 * adopted job holds its worker slot (`slots`: the global limit and its engine's) until it is removed,
 * as the held job did in the process that kept it.
 *
 * A kept container can vanish underneath (removed by hand, Docker restarted and left it stopped):
 * each shell's end asks Docker about it (containerGone), and so does a periodic check while any job
 * is kept — a vanished container must not hold a slot until its deadline. Debugging then ends as at
 * the deadline (the job recorded failed, the slot freed), with the reason in the job's log.
 *
 * An adopted job whose engine is no longer configured cannot be reached: recover() strands it — its
 * row stays, marked so that it holds no slot (the next start with that engine configured again
 * adopts or removes it), and list() shows it with how to remove the container by hand; End drops
 * the record only. An adopted job's container missing from the Docker its engine name now reaches
 * is not taken for removed unless that is the Docker that kept it (`docker info`'s ID, recorded
 * when kept): another Docker under the same name strands the job instead.
 *
 * The timing view's 'kept_for_debug' phase lasts until debugging ends: an engine stop leaves a
 * held job without end marks, and removing an adopted job writes them (tearing_down, done).
 *
 * No secret reaches the database: the step's environment is in the container (a 0600 file).
 */
import type Dockerode from 'dockerode';
import { ApiError, type KeptJobInfo } from '../../shared/api/engine-api.js';
import { formatDeadline } from '../../shared/format.js';
import type { DebugTerminal, DebugTerminals } from '../core/engine-contract.js';
import type { JobDebug, JobPhaseMark, KeptJob } from '../core/job-contract.js';
import { ContainerGoneError, containerProblem, openDebugShell, setKeepUntil } from '../executor/debug-session.js';
import { removeJobResources } from '../executor/reaper.js';
import type { Claim } from '../queue/job-queue.js';
import type { DebugStore, KeptJobRow } from '../storage/debug-store.js';
import { ANOTHER_DOCKER, NOT_CONFIGURED, dockerIdOf, isKeepingDocker, strandedInfo, type Stranded } from './debug-stranded.js';
import type { EngineParts } from './parts.js';

/** How long a failed job stays kept, and how far one "extend" moves its deadline, by default. */
export const DEFAULT_KEEP_MS = 30 * 60_000;
/** A deadline never lies further ahead than this. */
const MAX_AHEAD_MS = 24 * 60 * 60_000;
/** How often the kept containers are checked for having vanished, by default. */
export const DEFAULT_CHECK_MS = 15_000;
/** How long past its deadline the record of a container on an engine no longer configured stays. */
const STRANDED_KEEP_MS = 7 * 24 * 60 * 60_000;
/** Why recent jobs stopped being kept (a terminal that ends afterwards says so); the oldest go first. */
const MAX_ENDED_REASONS = 200;

export interface DebugOptions {
  /** Default 30 min (tests shorten it). */
  keepMs?: number;
  /** How often kept containers are checked for having vanished; default 15 s (tests shorten it). */
  checkMs?: number;
}

type Parts = Pick<EngineParts, 'scheduler' | 'logs' | 'bus' | 'clock' | 'life' | 'instanceId' | 'onError' | 'repository'>;

interface Held {
  row: KeptJobRow;
  kept: KeptJob;
  timer: NodeJS.Timeout;
  release(verdict: 'remove' | 'leave'): void;
}

export class DebugService implements DebugTerminals {
  private readonly held = new Map<string, Held>();
  /** The last write of each kept container's own end (/kiln/keep-until), so the next waits for it. */
  private readonly keepUntilWrites = new Map<string, Promise<void>>();
  private readonly adopted = new Map<string, { row: KeptJobRow; timer: NodeJS.Timeout }>();
  /** Set once recover() has adopted (or removed) what an earlier process kept. */
  private recovered = false;
  /** Why a job stopped being kept, for a terminal into it that ends afterwards. */
  private readonly ended = new Map<string, string>();
  /** Kept jobs on engines no longer configured (recover: strand). */
  private readonly stranded = new Map<string, Stranded>();
  private watch: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly p: Parts & {
    store: DebugStore;
    /** The Docker engine a job ran on (several engines: the one recorded on the job); undefined without Docker. */
    dockerOf?: (jobId: string) => Dockerode | undefined;
    /**
     * The engine recorded on a job when that engine is no longer configured (its container cannot be
     * reached); undefined when it is, or when jobs run without an engine name.
     */
    unconfiguredEngineOf?: (jobId: string) => string | undefined;
    /** The engine name recorded on a job, for what a stranded job says. */
    engineOf?: (jobId: string) => string | undefined;
    /** The timing view's marks (JobTimingStore.mark): an adopted job's end of debugging. */
    timings?: { mark(jobId: string, attempt: number, phase: JobPhaseMark, at: number): void };
    /** The worker slots adopted jobs hold (the worker pool's holdSlot and freeSlot). */
    slots?: { hold(jobId: string): void; free(jobId: string): void };
    options?: DebugOptions;
    /** Whether a job of that id exists at all (an unknown id is NOT_FOUND, not CONFLICT). */
    jobExists?: (jobId: string) => boolean;
  }) {}

  /** Read on each use: a saved debug.keep applies to the next kept job. */
  private get keepMs(): number {
    return this.p.options?.keepMs ?? DEFAULT_KEEP_MS;
  }

  markDebugRun(runId: string): void {
    this.p.store.markDebugRun(runId, this.p.clock());
  }

  /** The executor's keep-on-failure hooks for one claimed job. */
  jobDebug(claim: Claim): JobDebug {
    return {
      // A run started with debug, or any run of a repository set to keep its failures (debug-failures).
      keepsFailure: () => !this.p.life.stopping && (this.p.store.isDebugRun(claim.runId) || this.p.repository(claim.repo)?.debugFailures === true),
      hold: (kept, signal) => this.hold(claim, kept, signal),
    };
  }

  /** Kept jobs adopted from an earlier process (each holds a worker slot). */
  get adoptedCount(): number {
    return this.adopted.size;
  }

  isKept(jobId: string): boolean {
    return this.held.has(jobId) || this.adopted.has(jobId);
  }

  /**
   * Whether containers labelled kiln.run=`runId`, kiln.job=`jobKey` belong to a kept job (the reaper
   * spares them). Until recover() has run — a full disk defers it, and the start-up reap does not
   * wait — the jobs an earlier process kept are read from the database: spared until their deadline.
   */
  keepsResourcesOf(runId: string, jobKey: string): boolean {
    const same = (row: KeptJobRow): boolean => row.run_id === runId && row.job_key === jobKey;
    if ([...this.held.values(), ...this.adopted.values()].some(({ row }) => same(row))) return true;
    const now = this.p.clock();
    if ([...this.stranded.values()].some(({ row }) => same(row) && row.deadline > now)) return true;
    if (this.recovered) return false;
    return this.p.store.allKept().some((row) => same(row) && row.deadline > now);
  }

  list(): KeptJobInfo[] {
    return [...this.held.values()].map((h) => info(h.row, 'held'))
      .concat([...this.adopted.values()].map((a) => info(a.row, 'adopted')))
      .concat([...this.stranded.values()].map((st) => ({ ...info(st.row, 'stranded'), stranded: strandedInfo(st, this.p.instanceId) })))
      .sort((a, b) => a.keptAt - b.keptAt);
  }

  extend(jobId: string, minutes?: number): KeptJobInfo {
    const entry = this.held.get(jobId) ?? this.adopted.get(jobId);
    if (!entry) throw this.notKept(jobId);
    const by = minutes === undefined ? this.keepMs : minutes * 60_000;
    if (!Number.isFinite(by) || by <= 0) throw new ApiError('BAD_REQUEST', `minutes must be a positive number, got ${String(minutes)}`);
    const now = this.p.clock();
    const before = entry.row.deadline;
    const asked = Math.max(now, before) + by;
    entry.row.deadline = Math.min(asked, now + MAX_AHEAD_MS);
    this.p.store.setDeadline(jobId, entry.row.deadline);
    clearTimeout(entry.timer);
    entry.timer = this.expireAt(jobId, entry.row.deadline);
    this.keepUntil(jobId, entry.row.container_id, entry.row.deadline);
    const until = new Date(entry.row.deadline).toISOString();
    this.note(jobId, `[kiln] debugging extended: the container stays up ${formatDeadline(entry.row.deadline, now)}`);
    const result = info(entry.row, this.held.has(jobId) ? 'held' : 'adopted');
    if (asked <= entry.row.deadline) return result;
    // The one-day cap cut the extension short: say so rather than answer a deadline that barely moved.
    const gained = Math.max(0, Math.round((entry.row.deadline - before) / 60_000));
    return { ...result, capped: true, message: `a kept job stays at most one day ahead: the deadline is now ${until} (${gained} min later, not the ${Math.round(by / 60_000)} min asked for)` };
  }

  async end(jobId: string, by: 'dashboard' | 'api' = 'api'): Promise<void> {
    const from = by === 'dashboard' ? 'from the dashboard' : 'through the HTTP API';
    const held = this.held.get(jobId);
    const stranded = this.stranded.get(jobId);
    if (stranded) {
      // Nothing here can reach its container: only the record goes (list() said how to remove it).
      this.stranded.delete(jobId);
      this.p.store.release(jobId);
      this.endedBecause(jobId, `debugging was ended: the record was dropped; the container stays on engine '${stranded.engine}'`);
      this.note(jobId, `[kiln] debugging ended ${from}: the record was dropped, the container ${stranded.row.container_id.slice(0, 12)} was not removed (engine '${stranded.engine}' ${stranded.why})`);
      return;
    }
    if (!held && !this.adopted.has(jobId)) throw this.notKept(jobId);
    this.endedBecause(jobId, 'debugging was ended: the kept container was removed');
    if (held) {
      this.note(jobId, `[kiln] debugging ended ${from}`);
      held.release('remove');
      return;
    }
    // Kept from before a restart: its log was closed then, and this is its last line.
    this.note(jobId, `[kiln] debugging ended ${from}: the kept container was removed`);
    await this.removeAdopted(jobId);
  }

  async rerunStep(jobId: string): Promise<{ exitCode: number }> {
    const held = this.held.get(jobId);
    if (!held) {
      if (this.adopted.has(jobId)) throw new ApiError('CONFLICT', `job ${jobId} was kept before Kiln restarted and its log is closed: re-run the step from the terminal`);
      throw this.notKept(jobId);
    }
    try {
      return { exitCode: await held.kept.rerunStep() };
    } catch (err) {
      throw new ApiError('CONFLICT', err instanceof Error ? err.message : String(err));
    }
  }

  async open(jobId: string, size: { cols: number; rows: number }): Promise<DebugTerminal> {
    const row = this.held.get(jobId)?.row ?? this.adopted.get(jobId)?.row;
    // The terminal's handshake has refused an unknown id already (409, terminal-ws.ts): same answer here.
    if (!row) throw notKeptConflict(jobId);
    const docker = this.p.dockerOf?.(jobId);
    if (!docker) throw new ApiError('UNAVAILABLE', 'this engine runs jobs without Docker: no terminal can be opened');
    try {
      return await openDebugShell(docker, row.container_id, size);
    } catch (err) {
      if (err instanceof ContainerGoneError) {
        const same = this.adopted.has(jobId) ? await isKeepingDocker(row, docker) : true;
        if (same === false) this.strandAdopted(jobId, ANOTHER_DOCKER);
        else if (same) this.forgetVanished(jobId, err.message);
        throw new ApiError('NOT_FOUND', err.message);
      }
      throw err;
    }
  }

  /**
   * A shell into `jobId` ended: whether that was its container going away. When the kept container
   * vanished or stopped, debugging ends (as at the deadline) and the reason is returned; when the
   * job was no longer kept (ended, expired), why; undefined while the container is still up.
   */
  async containerGone(jobId: string): Promise<string | undefined> {
    const row = this.held.get(jobId)?.row ?? this.adopted.get(jobId)?.row;
    if (!row) return this.ended.get(jobId);
    const docker = this.p.dockerOf?.(jobId);
    if (!docker || !row.container_id) return undefined;
    const problem = await containerProblem(docker, row.container_id);
    if (problem === new ContainerGoneError(row.container_id).message && this.adopted.has(jobId)) {
      // Not there, but perhaps not the Docker that kept it (the engine's address changed): not vanished then.
      const same = await isKeepingDocker(row, docker);
      if (same === undefined) return undefined;
      if (!same) {
        this.strandAdopted(jobId, ANOTHER_DOCKER);
        return this.ended.get(jobId) ?? problem;
      }
    }
    if (problem && this.isKept(jobId)) this.forgetVanished(jobId, problem);
    return problem === undefined ? undefined : this.ended.get(jobId) ?? problem;
  }

  /**
   * Start-up, before the queue expires the previous process's claims: each job kept by that process
   * is recorded failed under the claim that kept it, then adopted until its deadline or removed.
   */
  recover(): void {
    const now = this.p.clock();
    for (const row of this.p.store.allKept()) {
      if (this.adopted.has(row.job_id) || this.stranded.has(row.job_id)) continue; // a pass a full disk cut short saw it already
      const claim: Claim = { jobId: row.job_id, runId: row.run_id, repo: '', token: row.claim_token, attempt: row.attempt, leaseUntil: 0 };
      this.p.scheduler.complete(claim, { status: 'failed', steps: [], error: row.error ?? `step '${row.step_name}' failed`, logOffset: 0 });
      const docker = this.p.dockerOf?.(row.job_id);
      const lostEngine = docker ? undefined : this.p.unconfiguredEngineOf?.(row.job_id);
      if (lostEngine !== undefined) {
        this.strand(row, lostEngine, NOT_CONFIGURED, now);
        continue;
      }
      if (row.deadline <= now || !docker) {
        this.p.store.release(row.job_id);
        // Debugging ended at the deadline (or ends now, without Docker): the timing view says so.
        this.markEnd(row, Math.min(now, row.deadline), now);
        if (docker) removeJobResources(docker, { instanceId: this.p.instanceId, runId: row.run_id, jobKey: row.job_key }).catch((err: unknown) => this.p.onError('removing an expired debug container failed', err));
        continue;
      }
      if (row.stranded) this.p.store.strand(row.job_id, false); // its engine is back: it holds its slot again
      this.adopted.set(row.job_id, { row, timer: this.expireAt(row.job_id, row.deadline) });
      this.p.slots?.hold(row.job_id);
    }
    this.recovered = true;
    // A stranded job gave its repository's slot back: a claim that found none must ask again.
    if (this.stranded.size > 0) this.p.scheduler.forgetIdle();
    if (this.adopted.size > 0) this.watchContainers();
  }

  /**
   * A kept job whose container cannot be reached (its engine no longer configured, or the name now
   * reaching another Docker): its row stays, marked stranded so that it holds no slot (a start with
   * that engine configured again adopts or removes it), list() shows it, and the reaper spares it
   * until its deadline (the engine may have been renamed, same Docker). A week past the deadline
   * the row is forgotten: by then the container is the user's to remove on that engine.
   */
  private strand(row: KeptJobRow, engine: string, why: string, now: number): void {
    const where = `kept job ${row.job_id} is on engine '${engine}', which ${why}: its container ${row.container_id.slice(0, 12)}`;
    if (row.deadline + STRANDED_KEEP_MS <= now) {
      this.p.store.release(row.job_id);
      this.p.onError('a kept debug container was forgotten', new Error(`${where} was never removed, and Kiln no longer keeps a record of it (remove it on that engine by hand)`));
      return;
    }
    row.stranded = 1;
    this.p.store.strand(row.job_id, true);
    this.stranded.set(row.job_id, { row, engine, why });
    this.p.onError('a kept debug container was left in place', new Error(`${where} was not removed (configure the engine again and restart Kiln to remove it, or remove it on that engine by hand)`));
  }

  /** The timing view's end of debugging for a job whose lifecycle ended before it did (adopted). */
  private markEnd(row: KeptJobRow, tearingDownAt: number, doneAt: number): void {
    try {
      this.p.timings?.mark(row.job_id, row.attempt, 'tearing_down', tearingDownAt);
      this.p.timings?.mark(row.job_id, row.attempt, 'done', Math.max(tearingDownAt, doneAt));
    } catch (err) {
      this.p.onError('recording the end of debugging in the timing view failed', err);
    }
  }

  /** Engine stop: timers end; held jobs are released by the pool's abort ('leave'). */
  stop(): void {
    clearInterval(this.watch);
    this.watch = undefined;
    for (const a of this.adopted.values()) clearTimeout(a.timer);
    this.adopted.clear();
  }

  private hold(claim: Claim, kept: KeptJob, signal: AbortSignal): Promise<'remove' | 'leave'> {
    const now = this.p.clock();
    const row: KeptJobRow = {
      job_id: claim.jobId, run_id: claim.runId, container_id: kept.containerId ?? '', job_key: kept.jobKey, step_index: kept.step.index, step_name: kept.step.name,
      kept_at: now, deadline: now + this.keepMs, claim_token: claim.token, attempt: claim.attempt, error: `step '${kept.step.name}' failed`,
    };
    this.p.store.keep(row);
    this.keepUntil(claim.jobId, row.container_id, row.deadline);
    // Which Docker keeps it, for a restart to tell a removed container from another Docker's namesake.
    const docker = this.p.dockerOf?.(claim.jobId);
    if (docker) {
      dockerIdOf(docker).then((id) => {
        if (!id || !this.held.has(claim.jobId)) return;
        row.docker_id = id;
        this.p.store.setDockerId(claim.jobId, id);
      }).catch((err: unknown) => this.p.onError('asking Docker for its ID failed (a restart cannot tell its kept container from another engine\'s)', err));
    }
    return new Promise((resolve) => {
      let done = false;
      const release = (verdict: 'remove' | 'leave'): void => {
        if (done) return;
        done = true;
        const held = this.held.get(claim.jobId);
        if (held) clearTimeout(held.timer);
        this.held.delete(claim.jobId);
        signal.removeEventListener('abort', onAbort);
        if (verdict === 'remove') this.p.store.release(claim.jobId);
        resolve(verdict);
      };
      const onAbort = (): void => release(this.p.life.stopping ? 'leave' : 'remove');
      this.held.set(claim.jobId, { row, kept, timer: this.expireAt(claim.jobId, row.deadline), release });
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      this.watchContainers();
      this.note(claim.jobId, `[kiln] waiting for debug: step '${kept.step.name}' failed; the container stays up ${formatDeadline(row.deadline, this.p.clock())} (open the terminal on the job's page)`);
      this.p.bus.events.emit({ type: 'job', runId: claim.runId, jobId: claim.jobId, status: 'running' });
    });
  }

  /** The container's own end (its keep-alive), so that it never outlives the deadline by long when no Kiln removes it. */
  private keepUntil(jobId: string, containerId: string, deadline: number): void {
    const docker = this.p.dockerOf?.(jobId);
    if (!docker || !containerId) return;
    // One write after another per job: two quick Extends must not land in the wrong order and leave
    // the container the earlier end.
    const write = (this.keepUntilWrites.get(jobId) ?? Promise.resolve())
      .then(() => setKeepUntil(docker, containerId, deadline - this.p.clock()))
      .catch((err: unknown) => this.p.onError('setting the kept container\'s own end failed (it stays up until Kiln removes it)', err));
    this.keepUntilWrites.set(jobId, write);
    void write.then(() => { if (this.keepUntilWrites.get(jobId) === write) this.keepUntilWrites.delete(jobId); });
  }

  private expireAt(jobId: string, deadline: number): NodeJS.Timeout {
    // setTimeout's limit is 2^31-1 ms; deadlines are at most a day ahead.
    const timer = setTimeout(() => {
      const held = this.held.get(jobId);
      this.endedBecause(jobId, 'the debug deadline passed: the kept container was removed');
      if (held) {
        this.note(jobId, '[kiln] the debug deadline passed: removing the kept container');
        held.release('remove');
      } else if (this.adopted.has(jobId)) {
        void this.removeAdopted(jobId);
      }
    }, Math.max(0, deadline - this.p.clock()));
    timer.unref();
    return timer;
  }

  private async removeAdopted(jobId: string): Promise<void> {
    const a = this.adopted.get(jobId);
    if (!a) return;
    clearTimeout(a.timer);
    this.adopted.delete(jobId);
    this.p.store.release(jobId);
    const tearingDownAt = this.p.clock();
    // The Docker first: freeing the last slot of a removed or replaced engine closes its client.
    const docker = this.p.dockerOf?.(jobId);
    try {
      if (docker) await removeJobResources(docker, { instanceId: this.p.instanceId, runId: a.row.run_id, jobKey: a.row.job_key });
    } catch (err) {
      this.p.onError('removing a kept debug container failed (the reaper will)', err);
    } finally {
      this.p.slots?.free(jobId);
      this.markEnd(a.row, tearingDownAt, this.p.clock());
    }
  }

  /** An adopted job whose container Kiln cannot reach after all (another Docker under its engine's name). */
  private strandAdopted(jobId: string, why: string): void {
    const a = this.adopted.get(jobId);
    if (!a) return;
    clearTimeout(a.timer);
    this.adopted.delete(jobId);
    this.p.slots?.free(jobId);
    const engine = this.p.engineOf?.(jobId) ?? 'unknown';
    this.strand(a.row, engine, why, this.p.clock());
    this.p.scheduler.forgetIdle();
    const message = `the kept container ${a.row.container_id.slice(0, 12)} is not on the Docker engine '${engine}' reaches now: it was not removed, and the job no longer holds a slot`;
    this.endedBecause(jobId, message);
    this.note(jobId, `[kiln] ${message}`);
  }

  /** The container vanished underneath (removed by hand, stopped): the job is no longer kept. */
  private forgetVanished(jobId: string, reason: string): void {
    const message = `${reason}: debugging ended, the job is recorded failed`;
    this.endedBecause(jobId, message);
    this.note(jobId, `[kiln] ${message}`);
    const held = this.held.get(jobId);
    if (held) held.release('remove');
    else void this.removeAdopted(jobId);
  }

  private endedBecause(jobId: string, reason: string): void {
    this.ended.delete(jobId);
    this.ended.set(jobId, reason);
    if (this.ended.size > MAX_ENDED_REASONS) this.ended.delete(this.ended.keys().next().value as string);
  }

  /** While any job is kept: checks each kept container now and then (see the header). */
  private watchContainers(): void {
    if (this.watch || !this.p.dockerOf) return;
    this.watch = setInterval(() => void this.checkContainers(), this.p.options?.checkMs ?? DEFAULT_CHECK_MS);
    this.watch.unref();
  }

  private async checkContainers(): Promise<void> {
    if (this.checking) return;
    const ids = [...this.held.keys(), ...this.adopted.keys()];
    if (ids.length === 0) {
      clearInterval(this.watch);
      this.watch = undefined;
      return;
    }
    this.checking = true;
    try {
      for (const id of ids) await this.containerGone(id);
    } catch (err) {
      this.p.onError('checking the kept debug containers failed', err);
    } finally {
      this.checking = false;
    }
  }

  /** A job that does not exist is NOT_FOUND, as on every other job route; one that is not kept, CONFLICT. */
  private notKept(jobId: string): ApiError {
    if (this.p.jobExists?.(jobId) === false) return new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    return notKeptConflict(jobId);
  }

  private note(jobId: string, text: string): void {
    try {
      const line = this.p.logs.append(jobId, { ts: this.p.clock(), stream: 'system', step: null, text });
      this.p.bus.events.emit({ type: 'log', jobId, lines: [line] });
    } catch (err) {
      this.p.onError('writing a debug note to the job log failed', err);
    }
  }
}

function info(row: KeptJobRow, state: KeptJobInfo['state']): KeptJobInfo {
  return { runId: row.run_id, jobId: row.job_id, step: { index: row.step_index, name: row.step_name }, keptAt: row.kept_at, deadline: row.deadline, state };
}

function notKeptConflict(jobId: string): ApiError {
  return new ApiError('CONFLICT', `job ${jobId} is not kept for debugging: only a failed job of a run started with debug is, until its deadline`);
}
