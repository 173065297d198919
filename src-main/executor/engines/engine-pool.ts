/**
 * The Docker engines jobs run on, as one pool: which engine is up, how many jobs each runs, where the
 * next job goes, and what happens when an engine goes away or comes back.
 *
 * Placement (`reserve`, synchronous, called by the worker pool right after a claim): among the
 * engines that are up, have a free slot (their `limit`) and have every label the job asks for
 * (`runs-on:`), prefer the one that ran the same repository last (warm git mirror and caches), then
 * one that already holds the job's image, then the one with the most free slots, then config order.
 *
 * Health: every engine is pinged every `pingIntervalMs` with a `pingTimeoutMs` limit. One failed
 * ping marks it down: no new job goes to it and `onDown` hands its running jobs to the worker pool,
 * which re-queues them (see queue/worker-pool.ts). With the defaults (2 s, 3 s) an engine that stops
 * answering is down within 5 s. When a down engine answers again it is reaped first — every
 * container, network and volume of this data directory on it, since none of its jobs is live any
 * more — and only then takes jobs again. An engine takes no job before its first answer ('starting').
 *
 * As a JobExecutor (the engine's single executor port), runJob runs the request on the engine
 * `reserve` chose for it; ping and reapOrphans speak for all engines.
 */
import type { EngineInfo, EngineState } from '../../../shared/model/engine.js';
import type { JobResult, JobRunRequest, ReapCounts } from '../../core/job-contract.js';
import type { JobExecutor } from '../../core/ports.js';
import { engineSatisfies } from '../../pipeline/runs-on.js';


/** An engine's executor: the port, plus what a Docker engine can tell about itself. */
export interface EngineExecutor extends JobExecutor {
  ping(timeoutMs?: number): Promise<{ ok: boolean; message?: string; engine?: string; tried?: string[] }>;
  version?(): Promise<string>;
  images?(): Promise<string[]>;
  close?(): void;
  /** The engine was renamed in Settings: its own messages name it so from now on. */
  rename?(name: string): void;
}

export interface PoolEngine {
  name: string;
  address: string;
  /** Why this engine ("kiln.config.yml", "docker context 'colima'", …). */
  source: string;
  limit: number;
  labels: string[];
  executor: EngineExecutor;
  /** What the executor was made from (address, material): a reconfigure with the same value keeps it. */
  connection?: string;
}

/** An engine as the configuration describes it: `connect` makes its executor when the pool needs a new one. */
export interface EngineSpec extends Omit<PoolEngine, 'executor'> {
  connection: string;
  connect(): EngineExecutor;
}

/** What `statuses()` reports of each engine (the Engines page's rows). */
export type EngineStatus = EngineInfo;

export interface EnginePoolOptions {
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** An engine stopped answering: these jobs were running on it (the caller re-queues them). */
  onDown(engine: string, jobIds: string[], reason: string): void;
  /** An engine is up again (after its leftovers were reaped): claim work. */
  onUp(engine: string): void;
  onError(message: string, err: unknown): void;
  clock?: () => number;
}

interface Slot extends PoolEngine {
  state: EngineState;
  version?: string;
  lastError?: string;
  lastSeenAt?: number;
  running: Set<string>;
  images: Set<string>;
  pinging: boolean;
}

export const ENGINE_DEFAULTS = { pingIntervalMs: 2_000, pingTimeoutMs: 3_000 };

export class EnginePool implements JobExecutor {
  private slots: Slot[];
  /** Removed or replaced engines whose running jobs have not ended yet (no new job goes to them). */
  private readonly retiring = new Set<Slot>();
  private readonly byJob = new Map<string, Slot>();
  /** Jobs counted by `hold`: an engine going down keeps counting them (they are no job to re-queue). */
  private readonly held = new Set<string>();
  private readonly lastOfRepo = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private rounds = 0;

  constructor(engines: PoolEngine[], private readonly o: EnginePoolOptions) {
    if (engines.length === 0) throw new Error('an engine pool needs at least one engine');
    this.slots = engines.map((e) => slotOf(e));
  }

  /**
   * Follows a changed configuration without a restart. An engine whose `connection` is unchanged
   * keeps its executor, state and running jobs, and takes its new limit and labels at once. A new
   * engine starts as 'starting' and takes jobs after its first answer (pinged now). An engine that
   * is gone, or whose connection changed, leaves placement at once — no new job goes to it — while
   * its running jobs finish on the old executor, closed when the last of them ends.
   */
  reconfigure(next: EngineSpec[]): void {
    if (next.length === 0) throw new Error('an engine pool needs at least one engine');
    const old = new Map(this.slots.map((s) => [s.name, s]));
    this.slots = next.map(({ connect, ...spec }) => {
      const kept = old.get(spec.name);
      if (kept && kept.connection === spec.connection) {
        old.delete(spec.name);
        Object.assign(kept, { address: spec.address, source: spec.source, limit: spec.limit, labels: [...spec.labels] });
        return kept;
      }
      return slotOf({ ...spec, executor: connect() });
    });
    for (const gone of old.values()) {
      if (gone.running.size === 0) gone.executor.close?.();
      else this.retiring.add(gone);
    }
    if (this.timer) this.pingAll();
  }

  /** Starts the health pings (the first at once). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.pingAll(), this.o.pingIntervalMs ?? ENGINE_DEFAULTS.pingIntervalMs);
    this.timer.unref();
    this.pingAll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of [...this.slots, ...this.retiring]) s.executor.close?.();
    this.retiring.clear();
  }

  get names(): string[] {
    return this.slots.map((s) => s.name);
  }

  labelSets(): Array<{ name: string; labels: string[] }> {
    return this.slots.map((s) => ({ name: s.name, labels: s.labels }));
  }

  /** Whether some engine could take a job asking for `runsOn` now (the claim's filter). */
  canTake(runsOn: readonly string[] | undefined): boolean {
    return this.slots.some((s) => this.open(s) && engineSatisfies(s.labels, runsOn));
  }

  /** Jobs that are live without running (kept for debugging): a returning engine's leftovers pass spares them. Set by the engine. */
  alsoLive: (runId: string, jobId: string) => boolean = () => false;

  /** Whether any engine has a free slot at all. */
  hasFreeSlot(): boolean {
    return this.slots.some((s) => this.open(s));
  }

  /** Picks the engine for a claimed job and counts it there; undefined when none can take it now. */
  reserve(job: { jobId: string; repo: string; runsOn?: readonly string[]; image?: string; engine?: string }): string | undefined {
    const candidates = this.slots.filter((s) => this.open(s) && engineSatisfies(s.labels, job.runsOn) && (!job.engine || s.name === job.engine));
    if (candidates.length === 0) return undefined;
    const last = this.lastOfRepo.get(job.repo);
    const score = (s: Slot): number[] => [s.name === last ? 1 : 0, job.image && s.images.has(normaliseImage(job.image)) ? 1 : 0, s.limit - s.running.size];
    let best = candidates[0];
    for (const c of candidates.slice(1)) {
      const [a, b] = [score(c), score(best)];
      const i = a.findIndex((v, k) => v !== b[k]);
      if (i !== -1 && a[i] > b[i]) best = c;
    }
    best.running.add(job.jobId);
    this.byJob.set(job.jobId, best);
    this.lastOfRepo.set(job.repo, best.name);
    return best.name;
  }

  /**
   * Counts a job on `engine` (the first engine when unknown) without placing it: a kept debug job
   * adopted at start-up, whatever the engine's state, until `release`.
   */
  hold(jobId: string, engine: string | undefined): void {
    const slot = this.slots.find((s) => s.name === engine) ?? this.slots[0];
    if (!slot) return;
    slot.running.add(jobId);
    this.byJob.set(jobId, slot);
    this.held.add(jobId);
  }

  /** The job ended (or was handed back): its slot is free. Idempotent. */
  release(jobId: string): void {
    const slot = this.byJob.get(jobId);
    slot?.running.delete(jobId);
    this.byJob.delete(jobId);
    if (slot && slot.running.size === 0 && this.retiring.delete(slot)) slot.executor.close?.();
    this.held.delete(jobId);
  }

  /** The engine of that name (one being retired when no configured one has it). */
  executorOf(name: string): EngineExecutor | undefined {
    return (this.slots.find((s) => s.name === name) ?? [...this.retiring].find((s) => s.name === name))?.executor;
  }

  /**
   * The engine a job runs or is kept on, when the pool counts it (placed, held or adopted): after
   * Settings replaced its engine, the old connection, which a new engine of the same name is not.
   */
  executorOfJob(jobId: string): EngineExecutor | undefined {
    return this.byJob.get(jobId)?.executor;
  }

  engineOf(jobId: string): string | undefined {
    return this.byJob.get(jobId)?.name;
  }

  /** The configured engines, then the retiring ones (each until its last job ends). */
  statuses(): EngineStatus[] {
    const configured = new Set(this.slots.map((s) => s.name));
    return [...this.slots, ...this.retiring].map((s) => ({
      name: s.name, address: s.address, source: s.source, state: s.state, labels: [...s.labels], limit: s.limit, running: [...s.running],
      ...(s.version ? { version: s.version } : {}), ...(s.lastError ? { lastError: s.lastError } : {}), ...(s.lastSeenAt ? { lastSeenAt: s.lastSeenAt } : {}),
      ...(this.retiring.has(s) ? { retiring: configured.has(s.name) ? 'replaced' as const : 'removed' as const } : {}),
    }));
  }

  /**
   * Renames a configured engine in place, before the `reconfigure` that brings the new name: it
   * keeps its connection, state, running and held jobs, and the repositories it ran last. A
   * retiring engine of the old name keeps that name (its jobs were placed under it).
   */
  rename(from: string, to: string): void {
    const slot = this.slots.find((s) => s.name === from);
    if (!slot || from === to) return;
    slot.name = to;
    slot.executor.rename?.(to);
    for (const [repo, name] of this.lastOfRepo) if (name === from) this.lastOfRepo.set(repo, to);
  }

  /** Runs the job on the engine `reserve` gave it (the only engine when there is one). */
  runJob(request: JobRunRequest): Promise<JobResult> {
    const slot = this.byJob.get(request.jobId) ?? (this.slots.length === 1 ? this.slots[0] : undefined);
    if (!slot) return Promise.resolve({ status: 'failed', steps: [], error: 'Kiln could not run the job: no engine was reserved for it', infrastructure: true, logOffset: request.logOffset ?? 0 });
    return slot.executor.runJob(request);
  }

  /** Pings one engine now, with the pool's ping timeout (a settings save asks of the engine it saved); undefined when there is no such engine. */
  async probe(name: string): Promise<{ ok: boolean; message?: string } | undefined> {
    const executor = this.executorOf(name);
    if (!executor) return undefined;
    return executor.ping(this.o.pingTimeoutMs ?? ENGINE_DEFAULTS.pingTimeoutMs).catch((err: unknown) => ({ ok: false, message: err instanceof Error ? err.message : String(err) }));
  }

  /** Up when any engine answers; the message names every engine that does not. */
  async ping(): Promise<{ ok: boolean; message?: string; engine?: string; tried?: string[] }> {
    const answers = await Promise.all(this.slots.map(async (s) => ({ s, r: await s.executor.ping(this.o.pingTimeoutMs ?? ENGINE_DEFAULTS.pingTimeoutMs).catch((err: unknown) => ({ ok: false, message: String(err), engine: undefined, tried: undefined })) })));
    if (this.slots.length === 1) return answers[0].r;
    const down = answers.filter((a) => !a.r.ok);
    const engine = answers.map((a) => `${a.s.name} (${a.s.address})`).join(', ');
    if (down.length === 0) return { ok: true, engine };
    const message = down.map((a) => `${a.s.name}: ${a.r.message ?? 'no answer'}`).join('; ');
    return { ok: down.length < answers.length, message, engine };
  }

  /** Reaps every engine that answers (`isJobLive` decides what is still in use). */
  async reapOrphans(isJobLive: (runId: string, jobId: string) => boolean): Promise<ReapCounts> {
    const total: ReapCounts = { containers: 0, networks: 0, volumes: 0 };
    for (const s of this.slots) {
      if (s.state === 'down' || s.state === 'reaping') continue;
      // Not answering (yet): it is reaped when it comes up.
      if (!(await s.executor.ping(this.o.pingTimeoutMs ?? ENGINE_DEFAULTS.pingTimeoutMs).catch(() => ({ ok: false }))).ok) continue;
      const c = await s.executor.reapOrphans(isJobLive);
      total.containers += c.containers;
      total.networks += c.networks;
      total.volumes += c.volumes;
    }
    return total;
  }

  private open(s: Slot): boolean {
    return s.state === 'up' && s.running.size < s.limit;
  }

  /** Retiring engines too: one that stops answering hands its running jobs back like any other. */
  private pingAll(): void {
    this.rounds++;
    for (const s of [...this.slots, ...this.retiring]) {
      if (s.pinging) continue;
      s.pinging = true;
      void this.check(s).catch((err: unknown) => this.o.onError(`checking engine '${s.name}' failed`, err)).finally(() => (s.pinging = false));
    }
  }

  private async check(s: Slot): Promise<void> {
    const r = await s.executor.ping(this.o.pingTimeoutMs ?? ENGINE_DEFAULTS.pingTimeoutMs);
    if (!r.ok) {
      const reason = r.message ?? 'no answer';
      if (s.state === 'down') s.lastError = reason;
      else this.markDown(s, reason);
      return;
    }
    s.lastSeenAt = (this.o.clock ?? Date.now)();
    if (s.state === 'down') {
      // Back: remove what its lost jobs left there before it takes new ones.
      s.state = 'reaping';
      try {
        await s.executor.reapOrphans((runId, jobId) => s.running.has(jobId) || this.alsoLive(runId, jobId));
      } catch (err) {
        s.state = 'down';
        s.lastError = `reaping leftovers failed: ${err instanceof Error ? err.message : String(err)}`;
        return;
      }
    }
    const wasOpen = s.state === 'up';
    s.state = 'up';
    if (!s.version || this.rounds % 15 === 1) {
      s.version = await s.executor.version?.().catch(() => s.version);
      const images = await s.executor.images?.().catch(() => undefined);
      if (images) s.images = new Set(images.map(normaliseImage));
    }
    if (!wasOpen && !this.retiring.has(s)) this.o.onUp(s.name);
  }

  /**
   * A job found its engine gone: treat the engine as down now rather than at the next ping, so the
   * job's retry is not placed there again; it is back (after reaping) once it answers. Given the
   * job (before its release), the engine is the one the job ran on: a report from a removed or
   * replaced engine's job is ignored (no new job goes there anyway), and never marks down the new
   * engine of the same name. The reporting job is not among `onDown`'s: its caller re-queues it.
   */
  suspect(name: string, reason: string, jobId?: string): void {
    const s = (jobId === undefined ? undefined : this.byJob.get(jobId)) ?? this.slots.find((x) => x.name === name);
    if (!s || s.state === 'down' || this.retiring.has(s)) return;
    this.markDown(s, reason, jobId);
  }

  private markDown(s: Slot, reason: string, reporter?: string): void {
    s.lastError = reason;
    s.state = 'down';
    const jobs = [...s.running].filter((id) => !this.held.has(id));
    for (const id of jobs) this.release(id);
    this.o.onDown(s.name, jobs.filter((id) => id !== reporter), reason);
  }

  /** Tells the pool the image is on the engine now (after a job pulled it there). */
  noteImage(engine: string, image: string): void {
    this.slots.find((s) => s.name === engine)?.images.add(normaliseImage(image));
  }
}

function slotOf(e: PoolEngine): Slot {
  return { ...e, labels: [...e.labels], state: 'starting', running: new Set(), images: new Set(), pinging: false };
}

/** `busybox` and `busybox:latest` are the same image; `docker.io/library/` is implied. */
export function normaliseImage(image: string): string {
  const noRegistry = image.replace(/^docker\.io\/(library\/)?/, '');
  return /:[^/]+$/.test(noRegistry) || noRegistry.includes('@') ? noRegistry : `${noRegistry}:latest`;
}
