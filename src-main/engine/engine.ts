/**
 * The engine: trigger → plan → queue → executor → store, behind KilnEngine. Built the same way by
 * the Electron main process, `kiln serve` and the tests: `await Engine.start({ config, dataDir })`.
 *
 * This file is wiring only: parts.ts builds the parts in data order, the services answer the API
 * (runs-service.ts, logs-service.ts, settings-api.ts, health-service.ts), event-bus.ts carries
 * what happens. docs/engine.md follows a webhook and a log line through them.
 *
 * Data directory: kiln.db (SQLite, WAL), logs/, mirrors/ (git), plus what the cache/artifact
 * stores keep. Start-up is crash recovery: claims of the previous (dead) process are expired at
 * once, orphaned containers are reaped, and every unfinished run's status is re-derived.
 */
import type {
  EngineEvent, FreeSpaceReport, FreeSpaceRequest, Health, KeptJobInfo, LogChunk, LogMatch, RunRecords, RunQuery, RunReporting, TriggerRequest, TunnelState,
} from '../../shared/api/engine-api.js';
import type { ConnectInput, ConnectReport, EngineInput, EngineSettings, RepositoryInput, RepositorySettings, ServerSettingsInput, SettingsView } from '../../shared/api/settings-types.js';
import type { ArtifactInfo, DeliveryRecord, Page, RunDetail, RunSummary, ScheduleInfo, StorageMetrics } from '../../shared/model/run.js';
import type { LogGroup } from '../../shared/model/job-records.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { AcceptedDelivery, DebugTerminals, DeliveryLedger, KilnConfig, KilnEngine, TriggerOutcome } from '../core/engine-contract.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { scheduleReaper } from '../executor/reaper.js';
import type { StorageServices } from '../storage/storage-services.js';
import type { SettingsChange } from '../settings/settings-service.js';
import type { ForgeReporter } from '../forge/reporter.js';
import { CatchUpService } from './catch-up-service.js';
import { ApprovalsService } from './approvals-service.js';
import { ScheduleService } from './schedule-service.js';
import { closeGitObjectReaders } from '../git/git-object-reader.js';
import { openPullRequestBranches } from '../forge/pull-requests.js';
import { DiskService } from './disk-service.js';
import { HealthService } from './health-service.js';
import { LogsService } from './logs-service.js';
import { buildParts, type EngineOptions, type EngineParts } from './parts.js';
import { assertRunning, RunsService } from './runs-service.js';
import { SettingsApi } from './settings-api.js';
import type { RunTestReport, RunTiming } from '../../shared/model/test-report.js';

export { KILN_VERSION } from './health-service.js';
export type { EngineOptions } from './parts.js';

const REAP_EVERY_MS = 5 * 60_000;

export class Engine implements KilnEngine {
  readonly config: KilnConfig;
  readonly dataDir: string;
  readonly instanceId: string;
  /** Caches, artifacts, retention and their metrics, over this engine's database and data directory. */
  readonly storage: StorageServices;
  readonly deliveries: DeliveryLedger;
  /** Commit statuses to the forge (forge/reporter.ts), fed by this engine's events. */
  readonly forge: ForgeReporter;
  private readonly runs: RunsService;
  private readonly logs: LogsService;
  private readonly settings: SettingsApi;
  private readonly status: HealthService;
  private readonly catchUp: CatchUpService;
  /** Free space: holds the queue while low, runs retention, answers the Storage page's deletions. */
  readonly disk: DiskService;
  private readonly approvals: ApprovalsService;
  /** `on.schedule`: fires runs at their cron times (schedule-service.ts). */
  readonly schedules: ScheduleService;
  private stopReaper: (() => void) | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(private readonly p: EngineParts, scheduleClock?: () => number) {
    this.config = p.config;
    this.dataDir = p.dataDir;
    this.instanceId = p.instanceId;
    this.storage = p.storage;
    this.deliveries = p.deliveries;
    this.forge = p.forge;
    this.runs = new RunsService(p);
    this.logs = new LogsService(p);
    this.settings = new SettingsApi(p);
    this.status = new HealthService(p);
    this.disk = new DiskService(p);
    this.catchUp = new CatchUpService({
      ...p, handleHead: (event) => this.runs.handleCaughtUpHead(event),
      pullRequestsOf: (repo) => openPullRequestBranches(repo, p.forgeClient),
    });
    this.approvals = new ApprovalsService(p);
    this.schedules = new ScheduleService({ ...p, clock: scheduleClock ?? p.clock, startRun: (event, fired) => this.runs.handleScheduled(event, fired) });
    // The engine's own reactions come first, before any outside listener subscribes.
    p.bus.scheduler.on((changes) => this.runs.onSchedulerChanges(changes));
    p.bus.settings.on((change) => this.settings.applied(change));
    p.bus.events.on((event) => p.forge.onEvent(event));
  }

  static async start(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(buildParts(options), options.scheduleClock);
    const { p } = engine;
    // On a full disk these writes fail; the engine starts anyway (the dashboard frees space) and
    // does them once there is room (disk-service.ts). No job starts before they are done.
    engine.disk.start(() => {
      p.runs.syncRepositories(p.config.repositories, p.clock());
      // Crash recovery: the previous process is gone, so its claims are dead now, not after the lease.
      // Jobs the previous process kept for debugging failed (recorded under their claims, not run again).
      p.debug.recover();
      p.scheduler.recoverForeignClaims();
      p.scheduler.reconcileRuns();
    });
    await engine.status.reap();
    p.forge.start();
    p.engines.start();
    p.pool.start();
    // Pushes sent while Kiln was not running: every repository's remote heads, listed in the background.
    engine.catchUp.start();
    engine.approvals.start(options.approvalCheckMs);
    engine.schedules.start(options.scheduleCheckMs);
    p.storage.retention.start(options.retentionIntervalMs);
    // Passes never overlap: the next is scheduled when one ends.
    engine.stopReaper = scheduleReaper(() => engine.status.reap(), { intervalMs: REAP_EVERY_MS, firstAfterMs: REAP_EVERY_MS });
    return engine;
  }

  /** Artifact downloads for the HTTP server and the desktop app. */
  get artifacts(): ArtifactStore {
    return this.p.storage.artifacts;
  }

  // Events
  subscribe(listener: (event: EngineEvent) => void): () => void { return this.p.bus.events.on(listener); }
  publish(event: EngineEvent): void { this.p.bus.events.emit(event); }
  setTunnelState(state: TunnelState): void {
    const was = this.p.bus.tunnel.state;
    this.p.bus.setTunnel(state);
    // smee.io does not queue: what was pushed while the tunnel was down is found by listing the remotes.
    if (state.state === 'connected' && was !== 'connected' && !this.p.life.stopping) this.catchUp.requestAll();
  }
  /** Lists the repository's remote heads now and builds what moved (a late webhook redelivery asks for it). */
  requestCatchUp(repo: string, head?: { ref: string; sha: string }): void { if (!this.p.life.stopping) this.catchUp.request(repo, head); }
  /** Resolves once no catch-up listing is in flight or waiting (for one repository, or all). */
  catchUpSettled(repo?: string): Promise<void> { return this.catchUp.settled(repo); }

  // Runs
  handleEvent(event: TriggerEvent, delivery?: AcceptedDelivery): Promise<TriggerOutcome & { delivery?: DeliveryRecord }> { return this.runs.handleEvent(event, delivery); }
  triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }> { return this.runs.triggerRun(request); }
  cancelRun(runId: string): Promise<void> { return this.runs.cancelRun(runId); }
  rerun(runId: string, options: { failedOnly: boolean; debug?: boolean; via?: 'ui' | 'api' }): Promise<{ runId: string }> { return this.runs.rerun(runId, options); }
  async listRuns(query: RunQuery): Promise<Page<RunSummary>> {
    const page = await this.runs.listRuns(query);
    return { ...page, items: page.items.map((r) => this.disk.annotate(r)) };
  }
  async getRun(runId: string): Promise<RunDetail> { return this.disk.annotate(await this.runs.getRun(runId)); }
  listArtifacts(runId: string): Promise<ArtifactInfo[]> { return this.runs.listArtifacts(runId); }
  listDeliveries(limit?: number): Promise<DeliveryRecord[]> { return this.runs.listDeliveries(limit); }
  getRunReporting(runId: string): Promise<RunReporting> { return this.runs.getRunReporting(runId); }
  getTestReport(runId: string, search?: string): Promise<RunTestReport> { return this.runs.getTestReport(runId, search); }
  getRunTiming(runId: string): Promise<RunTiming> { return this.runs.getRunTiming(runId); }

  // Debugging failed jobs (debug-service.ts)
  get terminals(): DebugTerminals { return this.p.debug; }
  async listKeptJobs(): Promise<KeptJobInfo[]> { return this.p.debug.list(); }
  async extendDebug(jobId: string, minutes?: number): Promise<KeptJobInfo> { return this.p.debug.extend(jobId, minutes); }
  endDebug(jobId: string, by?: 'dashboard' | 'api'): Promise<void> { return this.p.debug.end(jobId, by); }
  rerunFailedStep(jobId: string): Promise<{ exitCode: number }> { return this.p.debug.rerunStep(jobId); }
  approveJob(jobId: string, options: { by?: string } = {}): Promise<void> { return this.approvals.approve(jobId, options.by); }
  rejectJob(jobId: string, options: { by?: string } = {}): Promise<void> { return this.approvals.reject(jobId, options.by); }
  listSchedules(): Promise<ScheduleInfo[]> { return this.schedules.list(); }

  // Logs
  getLog(jobId: string, offset: number, limit?: number): Promise<LogChunk> { return this.logs.getLog(jobId, offset, limit); }
  searchLog(jobId: string, query: string, limit?: number): Promise<LogMatch[]> { return this.logs.searchLog(jobId, query, limit); }
  getLogGroups(jobId: string, from?: number): Promise<LogGroup[]> { return this.logs.getLogGroups(jobId, from); }
  getRunRecords(runId: string): Promise<RunRecords> { return this.logs.getRunRecords(runId); }

  // Settings
  listRepositories(): Promise<RepositorySettings[]> { return this.settings.listRepositories(); }
  getSettings(): Promise<SettingsView> { return this.settings.getSettings(); }
  saveRepository(input: RepositoryInput): Promise<RepositorySettings> { return this.settings.saveRepository(input); }
  removeRepository(name: string): Promise<void> { return this.settings.removeRepository(name); }
  saveServerSettings(input: ServerSettingsInput): Promise<SettingsView> { return this.settings.saveServerSettings(input); }
  saveEngine(input: EngineInput): Promise<EngineSettings> { return this.settings.saveEngine(input); }
  removeEngine(name: string): Promise<void> { return this.settings.removeEngine(name); }
  connectRepository(input: ConnectInput): Promise<ConnectReport> { return this.settings.connectRepository(input); }
  /** Called after a save has applied (the tunnel owner reconnects); returns the unsubscribe function. */
  onSettingsChanged(listener: (change: SettingsChange) => void): () => void { return this.p.settings.subscribe(listener); }

  // Health
  async health(): Promise<Health> { return { ...(await this.status.health()), disk: this.disk.health(), refChecks: this.catchUp.health() }; }
  freeSpace(request: FreeSpaceRequest): Promise<FreeSpaceReport> { assertRunning(this.p.life); return this.disk.freeSpace(request); }
  storageMetrics(): Promise<StorageMetrics> { return this.status.storageMetrics(); }
  /** The periodic leftovers pass, now: removes containers, networks and volumes of this data directory's jobs that are not running or kept. */
  reapLeftovers(): Promise<void> { return this.status.reap(); }

  /** Stops claiming, aborts running jobs (they are released, not failed), waits for teardown, closes the database. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { p } = this;
      p.life.stopping = true;
      this.stopReaper?.();
      await this.catchUp.stop();
      this.approvals.stop();
      await this.schedules.stop();
      p.storage.retention.stop();
      this.disk.stop();
      await p.pool.stop();
      p.debug.stop();
      p.engines.stop();
      p.runner.flushEvents();
      p.forge.stop();
      await p.logs.closeAll();
      closeGitObjectReaders(p.mirrorsDir);
      p.commits.drain();
      p.db.close();
      p.bus.events.clear();
    })();
    return this.stopping;
  }
}
