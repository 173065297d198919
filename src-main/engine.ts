/**
 * The engine: trigger → plan → queue → executor → store, behind KilnEngine. Built the same way by
 * the Electron main process, `kiln serve` and the tests: `await Engine.start({ config, dataDir })`.
 *
 * Data directory: kiln.db (SQLite, WAL), logs/, mirrors/ (git), plus what the cache/artifact
 * stores keep. Start-up is crash recovery: claims of the previous (dead) process are expired at
 * once, orphaned containers are reaped, and every unfinished run's status is re-derived.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../shared/api/engine-api.js';
import type {
  ConnectInput, ConnectReport, EngineEvent, Health, LogChunk, LogMatch, RepositoryInput, RepositorySettings, RunQuery, ServerSettingsInput, SettingsView, TriggerRequest, TunnelState,
} from '../shared/api/engine-api.js';
import type { ArtifactInfo, DeliveryRecord, Page, RunDetail, RunSummary, StorageMetrics } from '../shared/model/run.js';
import type { Plan } from '../shared/model/plan.js';
import type { Status } from '../shared/model/status.js';
import { isTerminal } from '../shared/model/status.js';
import type { TriggerEvent } from '../shared/model/trigger-event.js';
import type { KilnConfig, KilnEngine, RepositoryConfig, TriggerOutcome, WithRuns } from './engine-contract.js';
import { openDatabase, type Db } from './storage/db.js';
import { GroupCommit } from './storage/group-commit.js';
import { BadCursorError, RunStore, toTriggerEvent } from './storage/run-store.js';
import { LogStore } from './storage/log-store.js';
import { JobQueue, QUEUE_DEFAULTS } from './queue/job-queue.js';
import { Scheduler, type SchedulerChange } from './queue/scheduler.js';
import { WorkerPool } from './queue/worker-pool.js';
import { JobRunner, type HooksFor } from './engine/job-runner.js';
import { createRunsForEvent, effectivePriority, insertRun, type RunFactoryDeps } from './engine/run-factory.js';
import { loadPorts } from './engine/default-ports.js';
import { OrderedLane } from './engine/ordered-lane.js';
import type { CheckoutPort, JobExecutor, PipelinePort } from './engine/ports.js';
import { DockerExecutor } from './executor/docker-executor.js';
import { listArtifacts, listDeliveries, syncRepositories } from './engine/side-tables.js';
import { createStorageServices, type StorageServices } from './storage/storage-services.js';
import type { ArtifactStore } from './storage/artifact-store.js';
import { keyFileEncryptor, SecretVault } from './storage/secret-vault.js';
import { CONFIG_FILE } from './config.js';
import { SettingsService, type SettingsChange } from './settings/settings-service.js';
import { createForgeReporter, type ForgeReporter, type ForgeReporterOptions } from './forge/reporter.js';
import { connectRepository, nextDelivery, type ConnectDeps } from './forge/connect.js';

export const KILN_VERSION = '0.1.0';

export interface EngineOptions {
  config: KilnConfig;
  dataDir: string;
  /** Default: a DockerExecutor labelled with this engine's instance id. */
  executor?: JobExecutor;
  clock?: () => number;
  /**
   * Labels this data directory's containers/networks/volumes (kiln.instance), so that a restarted
   * engine reaps what its killed predecessor left. Default: kept in <dataDir>/instance-id.
   * Queue claims carry a separate id that is new for every start.
   */
  instanceId?: string;
  queue?: { leaseMs?: number; heartbeatMs?: number; agingIntervalMs?: number; maxAttempts?: number; pollMs?: number };
  /** Cache/artifact hooks per job. Default: the engine's own storage services (caches, artifacts). */
  hooksFor?: HooksFor;
  /** Artifact/cache/workspace numbers for storageMetrics(). Default: the engine's storage services. */
  storageMetrics?: () => Promise<Partial<StorageMetrics>>;
  /** Retention runs at start-up and then on this interval (default hourly). */
  retentionIntervalMs?: number;
  /** Overrides for the pipeline compiler and git checkout (default: the real modules). */
  pipeline?: PipelinePort;
  checkout?: CheckoutPort;
  /** Where engine problems that have no caller go (default console.error). */
  onError?: (message: string, err: unknown) => void;
  /**
   * The kiln.config.yml that settings saved through the API are written to: the file `config` was
   * loaded from. Default <dataDir>/kiln.config.yml (created on the first save).
   */
  configFile?: string;
  /** Encrypted secrets written through the API. Default <dataDir>/secrets.json with a 0600 key file beside it. */
  vault?: SecretVault;
  /** Forge reporting: client pace, retries and backoff (tests shorten them). */
  forge?: Pick<ForgeReporterOptions, 'client' | 'backoff'> & { connect?: Pick<ConnectDeps, 'smeeBase' | 'pingTimeoutMs' | 'client'> };
}

const REAP_EVERY_MS = 5 * 60_000;

export class Engine implements KilnEngine {
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private tunnel: TunnelState = { state: 'disabled' };
  private stopping: Promise<void> | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private readonly factory: RunFactoryDeps;
  private readonly lane = new OrderedLane();
  /** Commit statuses to the forge (src-main/forge/reporter.ts), fed by this engine's events. */
  forge!: ForgeReporter;

  private constructor(
    readonly config: KilnConfig,
    readonly dataDir: string,
    readonly db: Db,
    /** Writes of one event-loop turn share a commit (webhook bursts: run inserts, delivery records). */
    readonly commits: GroupCommit,
    readonly instanceId: string,
    private readonly store: RunStore,
    private readonly logs: LogStore,
    private readonly scheduler: Scheduler,
    private readonly pool: WorkerPool,
    private readonly runner: JobRunner,
    private readonly executor: JobExecutor,
    private readonly options: EngineOptions,
    pipeline: PipelinePort,
    checkout: CheckoutPort,
    private readonly clock: () => number,
    /** Caches, artifacts, retention and their metrics, over this engine's database and data directory. */
    readonly storage: StorageServices,
    private readonly settings: SettingsService,
  ) {
    this.factory = { db, store, scheduler, clock, mirrorsDir: join(dataDir, 'mirrors'), pipeline, checkout, commits };
  }

  static async start(options: EngineOptions): Promise<Engine> {
    const { config, dataDir } = options;
    const clock = options.clock ?? Date.now;
    mkdirSync(dataDir, { recursive: true });
    const ref: { engine?: Engine } = {};
    // First: stored secrets join the configuration, and a vault that cannot be decrypted stops the start.
    const settings = new SettingsService({
      config, configFile: options.configFile ?? join(dataDir, CONFIG_FILE), now: clock,
      vault: options.vault ?? new SecretVault(join(dataDir, 'secrets.json'), keyFileEncryptor(join(dataDir, 'secret.key'))),
      applied: (change) => ref.engine?.settingsApplied(change), onError: options.onError,
      describeForge: (repo) => ref.engine?.forge.repositoryReporting(repo),
    });
    const instanceId = options.instanceId ?? dataDirInstanceId(dataDir);
    // Claims of any earlier process on this data directory are recognisably not ours.
    const sessionId = `${instanceId}:${randomUUID()}`;
    const q = { ...QUEUE_DEFAULTS, ...options.queue };
    mkdirSync(join(dataDir, 'mirrors'), { recursive: true });
    const ports = loadPorts({ instanceId, mirrorsDir: join(dataDir, 'mirrors'), executor: options.executor, pipeline: options.pipeline, checkout: options.checkout });
    const db = openDatabase(join(dataDir, 'kiln.db'));
    const store = new RunStore(db);
    const logs = new LogStore(join(dataDir, 'logs'));
    const docker = ports.executor instanceof DockerExecutor ? ports.executor.docker : undefined;
    const storage = createStorageServices({ db, dataDir, retention: config.retention, docker, instanceId, now: clock });
    const queue = new JobQueue(db, { instanceId: sessionId, leaseMs: q.leaseMs, agingIntervalMs: q.agingIntervalMs, maxAttempts: q.maxAttempts });
    const onError = options.onError ?? ((message: string, err: unknown) => console.error(`kiln: ${message}:`, err));
    const commits = new GroupCommit(db, onError);
    // The engine exists only after these are built; changes route through this forwarder (ref).
    const scheduler = new Scheduler(db, store, queue, clock, (changes) => ref.engine?.onSchedulerChanges(changes), commits);
    const runner = new JobRunner({
      store, scheduler, logs, executor: ports.executor, clock, hooksFor: options.hooksFor ?? storage.hooksFor,
      repository: (name) => config.repositories.find((r) => r.name === name),
      publish: (event) => ref.engine?.publish(event),
    });
    const pool = new WorkerPool({
      scheduler, concurrency: Math.max(1, config.concurrency.jobs), perRepository: Math.max(1, config.concurrency.perRepository),
      heartbeatMs: q.heartbeatMs, pollMs: q.pollMs, workerName: sessionId,
      execute: (claim, signal) => runner.execute(claim, signal),
      finish: (claim, result) => runner.finish(claim, result),
      onError,
    });
    const engine = new Engine(config, dataDir, db, commits, instanceId, store, logs, scheduler, pool, runner, ports.executor, { ...options, onError }, ports.pipeline, ports.checkout, clock, storage, settings);
    ref.engine = engine;
    // ── Forge reporting (self-contained, src-main/forge): re-apply this block when the engine moves. ──
    engine.forge = createForgeReporter({
      db, clock, onError, ...options.forge, write: (fn) => commits.write(fn), repository: (name) => config.repositories.find((r) => r.name === name),
      getRun: (id) => store.runDetail(id), publicUrl: () => config.server.publicUrl,
      logTail: async (jobId, n) => (await logs.read(jobId, Math.max(0, logs.count(jobId) - n), n)).map((l) => l.text),
    });
    engine.subscribe((event) => engine.forge.onEvent(event));
    engine.forge.start();
    // ── end of forge reporting ──
    syncRepositories(db, config.repositories, clock());
    // Crash recovery: the previous process is gone, so its claims are dead now, not after the lease.
    scheduler.recoverForeignClaims();
    scheduler.reconcileRuns();
    await engine.reap();
    pool.start();
    storage.retention.start(options.retentionIntervalMs);
    engine.reapTimer = setInterval(() => void engine.reap(), REAP_EVERY_MS);
    engine.reapTimer.unref();
    return engine;
  }

  /** Removes containers/networks/volumes of this data directory's jobs that no live claim owns. */
  private async reap(): Promise<void> {
    try {
      // Labels are per data directory: anything of ours that this process is not running is left over.
      await this.executor.reapOrphans((_runId, jobId) => this.pool.isRunning(jobId));
    } catch (err) {
      this.options.onError?.('reaping orphaned containers failed', err);
    }
  }

  private onSchedulerChanges(changes: SchedulerChange[]): void {
    const runs = new Set<string>();
    for (const c of changes) {
      if (c.kind === 'note') this.runner.note(c.jobId, c.text);
      else if (c.kind === 'job') {
        this.publish({ type: 'job', runId: c.runId, jobId: c.jobId, status: c.status });
        if (c.status === 'queued') this.pool.kick();
      } else runs.add(c.runId);
    }
    for (const runId of runs) {
      const run = this.store.getRunSummary(runId);
      if (run) this.publish({ type: 'run', run });
    }
    this.pool.kick();
  }

  /** Artifact downloads for the HTTP server and the desktop app. */
  get artifacts(): ArtifactStore {
    return this.storage.artifacts;
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.options.onError?.('an event listener threw', err);
      }
    }
  }

  setTunnelState(state: TunnelState): void {
    this.tunnel = state;
    this.publish({ type: 'tunnel', tunnel: state });
  }

  private repository(name: string): RepositoryConfig | undefined {
    return this.config.repositories.find((r) => r.name === name);
  }

  private assertRunning(): void {
    if (this.stopping) throw new ApiError('UNAVAILABLE', 'the engine is stopping');
  }

  async handleEvent(event: TriggerEvent, withRuns?: WithRuns): Promise<TriggerOutcome> {
    this.assertRunning();
    const repo = this.repository(event.repo);
    if (!repo) return { runIds: [], reason: `repository '${event.repo}' is not configured in kiln.config.yml` };
    const outcome = await createRunsForEvent(this.factory, repo, event, this.lane.take(), withRuns);
    for (const jobId of outcome.abort) this.pool.abort(jobId, 'cancelled');
    this.pool.kick();
    return outcome.reason ? { runIds: outcome.runIds, reason: outcome.reason } : { runIds: outcome.runIds };
  }

  async triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }> {
    this.assertRunning();
    const repo = this.repository(request.repo);
    if (!repo) throw new ApiError('NOT_FOUND', `repository '${request.repo}' is not configured`);
    const branch = request.branch ?? (request.sha ? undefined : repo.defaultBranch);
    let sha = request.sha;
    if (!sha) {
      try {
        sha = await this.factory.checkout.resolveCommit({ url: repo.url, credentials: repo.credentials }, branch ?? repo.defaultBranch, this.factory.mirrorsDir);
      } catch (err) {
        throw new ApiError('BAD_REQUEST', `cannot resolve branch '${branch}' of ${repo.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const outcome = await this.handleEvent({
      kind: 'manual', repo: repo.name, branch, sha, ref: branch ? `refs/heads/${branch}` : undefined, triggeredBy: 'ui',
    });
    if (outcome.runIds.length === 0) throw new ApiError('BAD_REQUEST', outcome.reason ?? 'nothing to run');
    return { runIds: outcome.runIds };
  }

  /** Cancels queued jobs at once and aborts running ones (the executor stops the step). */
  private cancelNow(runId: string): void {
    for (const jobId of this.scheduler.cancelRun(runId)) this.pool.abort(jobId, 'cancelled');
  }

  async cancelRun(runId: string): Promise<void> {
    this.assertRunning();
    if (!this.store.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    this.cancelNow(runId);
  }

  async rerun(runId: string, options: { failedOnly: boolean }): Promise<{ runId: string }> {
    this.assertRunning();
    const old = this.store.getRun(runId);
    if (!old) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    if (!isTerminal(old.status)) throw new ApiError('CONFLICT', `run #${old.number} is still ${old.status}; cancel it or wait before re-running`);
    const plan = JSON.parse(old.plan_json) as Plan;
    if (plan.jobs.length === 0) throw new ApiError('BAD_REQUEST', `run #${old.number} has no jobs to re-run${old.error ? `: ${old.error}` : ''}`);
    const keep = new Map<string, Status>();
    if (options.failedOnly) for (const j of this.store.jobsOfRun(runId)) if (j.status === 'passed') keep.set(j.plan_id, 'passed');
    const event = toTriggerEvent(old);
    const newId = insertRun(this.factory, {
      event, plan, priority: effectivePriority(this.repository(old.repo), event.branch, plan.priority),
      concurrencyGroup: old.concurrency_group ?? undefined, rerunOf: old.id, keep,
    });
    this.pool.kick();
    return { runId: newId };
  }

  async listRuns(query: RunQuery): Promise<Page<RunSummary>> {
    const limit = Math.min(200, Math.max(1, Math.floor(query.limit ?? 50)));
    try {
      return this.store.listRuns({ repo: query.repo, branch: query.branch, status: query.status }, limit, query.cursor || undefined);
    } catch (err) {
      if (err instanceof BadCursorError) throw new ApiError('BAD_REQUEST', err.message);
      throw err;
    }
  }

  async getRun(runId: string): Promise<RunDetail> {
    const run = this.store.runDetail(runId);
    if (!run) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return run;
  }

  async getLog(jobId: string, offset: number, limit = 1000): Promise<LogChunk> {
    const job = this.store.getJob(jobId);
    if (!job) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    if (!Number.isFinite(offset) || offset < 0) throw new ApiError('BAD_REQUEST', `offset must be a number ≥ 0, got '${offset}'`);
    const lines = await this.logs.read(jobId, offset, Math.min(10_000, Math.max(1, Math.floor(limit))));
    const total = this.logs.count(jobId);
    const nextOffset = lines.length ? lines[lines.length - 1].seq + 1 : Math.min(Math.floor(offset), total);
    return { lines, nextOffset, total, complete: isTerminal(job.status) && nextOffset >= total };
  }

  async searchLog(jobId: string, query: string, limit = 100): Promise<LogMatch[]> {
    if (!this.store.getJob(jobId)) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    return this.logs.search(jobId, query, Math.min(1000, Math.max(1, Math.floor(limit))));
  }

  async listArtifacts(runId: string): Promise<ArtifactInfo[]> {
    if (!this.store.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return listArtifacts(this.db, runId);
  }

  async listDeliveries(limit = 50): Promise<DeliveryRecord[]> {
    return listDeliveries(this.db, Math.min(500, Math.max(1, Math.floor(limit))));
  }

  async listRepositories(): Promise<RepositorySettings[]> {
    // The short form (names and counts); getSettings() adds where each secret lives and the webhook secret ids.
    return this.settings.repositories().map(({ name, url, defaultBranch, secretNames, webhookSecretCount }) => ({ name, url, defaultBranch, secretNames, webhookSecretCount }));
  }

  // Settings: saved to kiln.config.yml (+ the vault) and applied to `config` in place (settings/settings-service.ts).
  async getSettings(): Promise<SettingsView> { return this.settings.view(this.tunnel); }
  async saveRepository(input: RepositoryInput): Promise<RepositorySettings> { this.assertRunning(); return this.settings.saveRepository(input); }
  async removeRepository(name: string): Promise<void> { this.assertRunning(); this.settings.removeRepository(name); }
  async saveServerSettings(input: ServerSettingsInput): Promise<SettingsView> { this.assertRunning(); return this.settings.saveServerSettings(input, this.tunnel); }

  /** The commit statuses a run posts to its forge, and whether they arrived. */
  async getRunReporting(runId: string) {
    if (!this.store.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return this.forge.runReporting(runId);
  }

  /** Tunnel channel, webhook secret, the forge's webhook and a ping, in one step (src-main/forge/connect.ts). */
  async connectRepository(input: ConnectInput): Promise<ConnectReport> {
    this.assertRunning();
    return connectRepository({
      repository: (name) => this.repository(name), tunnelUrl: () => this.config.tunnel?.url,
      saveTunnelUrl: async (url) => { await this.saveServerSettings({ tunnelUrl: url }); },
      saveRepository: (i) => this.saveRepository(i), nextDelivery: (repo, event, ms) => nextDelivery(this, repo, event, ms),
      ...this.options.forge?.connect,
    }, input);
  }

  /** Called after a save has applied (the tunnel owner reconnects); returns the unsubscribe function. */
  onSettingsChanged(listener: (change: SettingsChange) => void): () => void {
    return this.settings.subscribe(listener);
  }

  /** What the engine itself adjusts after a save, before the listeners hear of it. */
  private settingsApplied(change: SettingsChange): void {
    syncRepositories(this.db, this.config.repositories, this.clock());
    if (change.concurrency) this.pool.setLimits(Math.max(1, this.config.concurrency.jobs), Math.max(1, this.config.concurrency.perRepository));
    if (change.retention) this.storage.artifacts.setDefaultExpiry(this.config.retention.artifactsMs);
  }

  async storageMetrics(): Promise<StorageMetrics> {
    const extra = await (this.options.storageMetrics ?? this.storage.metrics)();
    let disk = { free: 0, total: 0 };
    try {
      const s = statfsSync(this.dataDir);
      disk = { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      // statfs unsupported: report zeros rather than fail the whole call
    }
    const m: StorageMetrics = {
      artifactBytes: 0, artifactCount: 0, cacheBytes: 0, cacheEntries: 0, cacheHits: 0, cacheMisses: 0, cacheHitRate: 0,
      workspaceBytes: 0, ...extra, logBytes: await this.logs.totalBytes(), diskFreeBytes: disk.free, diskTotalBytes: disk.total,
    };
    return m;
  }

  async health(): Promise<Health> {
    let docker: Health['docker'] = { ok: true };
    try {
      const r = await this.executor.ping();
      if (r && typeof r === 'object' && 'ok' in r && r.ok === false) {
        docker = { ok: false, message: 'message' in r && typeof r.message === 'string' ? r.message : 'Docker did not answer' };
      }
    } catch (err) {
      docker = { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    const c = this.scheduler.queue.counts();
    return {
      ok: docker.ok && !this.stopping, version: KILN_VERSION, docker, tunnel: this.tunnel, queue: { queued: c.waiting + c.queued, running: c.active },
      settings: { concurrency: { ...this.config.concurrency }, retention: { ...this.config.retention } },
    };
  }

  /** Stops claiming, aborts running jobs (they are released, not failed), waits for teardown, closes the database. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.reapTimer) clearInterval(this.reapTimer);
      this.storage.retention.stop();
      await this.pool.stop();
      this.runner.flushEvents();
      this.forge.stop();
      await this.logs.closeAll();
      this.commits.drain();
      this.db.close();
      this.listeners.clear();
    })();
    return this.stopping;
  }
}

/** The data directory's stable label id, created on first start. */
function dataDirInstanceId(dataDir: string): string {
  const file = join(dataDir, 'instance-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9-]{8,64}$/.test(id)) return id;
  }
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}
