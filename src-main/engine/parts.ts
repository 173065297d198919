/**
 * The engine's parts, built in the order data flows through them, each from parts already built:
 * event bus → database and stores → forge reporter → settings (stored secrets join the
 * configuration, before anything that runs jobs reads it) → queue and scheduler → job runner →
 * worker pool. Parts that must react to a later part (the pool to queue
 * changes) do so through the bus, never through a reference to something not yet built.
 * Services (runs-service.ts, logs-service.ts, …) take the parts they need from this one object.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KilnConfig, RepositoryConfig } from '../core/engine-contract.js';
import { CONFIG_FILE } from '../settings/config-file.js';
import { JobQueue, QUEUE_DEFAULTS } from '../queue/job-queue.js';
import { Scheduler } from '../queue/scheduler.js';
import { WorkerPool } from '../queue/worker-pool.js';
import { SettingsService } from '../settings/settings-service.js';
import { isExclusive, openDatabase, type Db } from '../storage/db.js';
import { DiskGuard } from '../storage/disk-guard.js';
import { DOCKER_STORAGE_FULL, isDiskFull } from '../core/disk-full.js';
import { errorLine } from '../core/error-line.js';
import { DeliveryStore } from '../storage/delivery-store.js';
import { FlowStore } from '../storage/flow-store.js';
import { GroupCommit } from '../storage/group-commit.js';
import { LogStore } from '../storage/log-store.js';
import { JobRecordStore } from '../storage/job-record-store.js';
import { RefHeadStore } from '../storage/ref-head-store.js';
import { RunStore } from '../storage/run-store.js';
import { keyFileEncryptor, SecretVault } from '../storage/secret-vault.js';
import { createStorageServices, type StorageServices } from '../storage/storage-services.js';
import { DockerExecutor } from '../executor/docker-executor.js';
import type { EnginePool } from '../executor/engines/engine-pool.js';
import { buildEnginePool, engineSlots, poolEngines } from './engine-set.js';
import { mergeEngineMaterial } from '../settings/engine-settings.js';
import type { ConnectDeps } from '../forge/connect.js';
import { createForgeReporter, type ForgeReporter, type ForgeReporterOptions } from '../forge/reporter.js';
import { mirrorPathOf } from '../git/checkout.js';
import { DebugStore } from '../storage/debug-store.js';
import { DebugService, type DebugOptions } from './debug-service.js';
import { loadPorts } from './default-ports.js';
import { EngineBus } from './event-bus.js';
import { JobRunner, type HooksFor } from './job-runner.js';
import { storageHooksFor } from './job-storage-hooks.js';
import { OrderedLane } from './ordered-lane.js';
import type { CheckoutPort, JobExecutor, PipelinePort } from '../core/ports.js';
import type { Pipeline } from '../pipeline/pipeline-model.js';
import type { StorageMetrics } from '../../shared/model/run.js';

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
  /** How often waiting approvals are checked for expiry (default 15 s). */
  approvalCheckMs?: number;
  /** How often schedules are checked (default 15 s). */
  scheduleCheckMs?: number;
  /** The clock schedules fire by (default `clock`): tests move it across scheduled times and sleeps. */
  scheduleClock?: () => number;
  /** Retention runs at start-up and then on this interval (default hourly). */
  retentionIntervalMs?: number;
  /** Overrides for the pipeline compiler and git checkout (default: the real modules). */
  pipeline?: PipelinePort<Pipeline>;
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
  /** Disk guard overrides (tests: free space read from a stand-in, a short interval); default the config's `disk`. */
  disk?: { statfs?: (dir: string) => { free: number; total: number }; dockerCooldownMs?: number };
  /** Engine health pings (default every 2 s, 3 s to answer). */
  engineHealth?: { pingIntervalMs?: number; pingTimeoutMs?: number };
  /** Forge reporting: client pace, retries and backoff, and the one-step connect's endpoints (tests shorten or point them). */
  forge?: Pick<ForgeReporterOptions, 'client' | 'backoff'> & { connect?: ForgeConnectOptions };
  /** Keep-on-failure for runs started with debug (how long a failed job stays up; default 30 min). */
  debug?: DebugOptions;
}

export type ForgeConnectOptions = Pick<ConnectDeps, 'smeeBase' | 'pingTimeoutMs' | 'client'>;

export interface EngineParts {
  config: KilnConfig;
  dataDir: string;
  mirrorsDir: string;
  /** Stable per data directory (labels); `sessionId` is new for every start (queue claims). */
  instanceId: string;
  clock: () => number;
  onError: (message: string, err: unknown) => void;
  /** Set once stop() begins: API calls that would change state are refused from then on. */
  life: { stopping: boolean };
  bus: EngineBus;
  settings: SettingsService;
  /** Makes the engine pool match `config.engines` after a save (no-op for a caller's own executor). */
  reconfigureEngines(): void;
  /** An engine renamed in Settings: the pool's slot and the job rows follow (before reconfigureEngines). */
  renameEngine(from: string, to: string): void;
  db: Db;
  /** Free space where the data lives: holds new jobs back when low (storage/disk-guard.ts). */
  disk: DiskGuard;
  /** True when the database had to be opened with exclusive locking (the disk was full at start). */
  dbExclusive: boolean;
  /** Writes of one event-loop turn share a commit (webhook bursts: run inserts, delivery records). */
  commits: GroupCommit;
  runs: RunStore;
  /** Job outputs, approvals and schedules' last times (migration 8). */
  flow: FlowStore;
  logs: LogStore;
  /** Log groups, annotations and job summaries. */
  records: JobRecordStore;
  deliveries: DeliveryStore;
  /** Last-seen remote heads and catch-up counts per repository. */
  heads: RefHeadStore;
  /** Caches, artifacts, retention and their metrics. */
  storage: StorageServices;
  /** Commit statuses and pull-request comments to the forge, fed by the engine's events. */
  forge: ForgeReporter;
  forgeConnect?: ForgeConnectOptions;
  /** The forge client's pace, timeouts and retries (tests shorten them). */
  forgeClient?: ForgeReporterOptions['client'];
  storageMetrics?: () => Promise<Partial<StorageMetrics>>;
  scheduler: Scheduler;
  runner: JobRunner;
  pool: WorkerPool;
  /** Failed jobs of debug runs kept up for a terminal (debug-service.ts). */
  debug: DebugService;
  /** The Docker engines (one unless kiln.config.yml lists several); `executor` runs jobs through it. */
  engines: EnginePool;
  executor: JobExecutor;
  pipeline: PipelinePort<Pipeline>;
  checkout: CheckoutPort;
  /** Orders handleEvent's plan-and-insert sections by arrival. */
  lane: OrderedLane;
  repository(name: string): RepositoryConfig | undefined;
}

export function buildParts(options: EngineOptions): EngineParts {
  const { config, dataDir } = options;
  const clock = options.clock ?? Date.now;
  // One line each (what failed, the error and its causes), never a stack but under KILN_DEBUG=1: a
  // repository whose remote is unreachable, or a full disk, is a state the user reads, not a bug.
  const onError = options.onError ?? ((message: string, err: unknown) => console.error(errorLine(`kiln: ${message}`, err)));
  mkdirSync(dataDir, { recursive: true });
  const bus = new EngineBus(onError);
  const instanceId = options.instanceId ?? dataDirInstanceId(dataDir);
  // Claims of any earlier process on this data directory are recognisably not ours.
  const sessionId = `${instanceId}:${randomUUID()}`;
  const q = { ...QUEUE_DEFAULTS, ...options.queue };
  const mirrorsDir = join(dataDir, 'mirrors');
  mkdirSync(mirrorsDir, { recursive: true });
  // Engines' TLS material and SSH keys set in Settings are in the vault: they join the configuration first.
  const vault = options.vault ?? new SecretVault(join(dataDir, 'secrets.json'), keyFileEncryptor(join(dataDir, 'secret.key')));
  for (const problem of mergeEngineMaterial(config.engines, vault.loadEngines())) onError('an engine lacks its material', new Error(problem));
  // The engines run every job: the executor port is the pool, which hands each job to its engine.
  const engines = buildEnginePool({ config, instanceId, mirrorsDir, executor: options.executor, bus, onError, health: options.engineHealth });
  const ports = loadPorts({ instanceId, mirrorsDir, executor: engines, pipeline: options.pipeline, checkout: options.checkout });
  const repository = (name: string) => config.repositories.find((r) => r.name === name);

  // Parts that react to parts built below them (the runner, the pool).
  const late: { runner?: JobRunner; pool?: WorkerPool } = {};
  // Jobs wait while the reserve is being written (mayStart below); the pool hears when it is done.
  const disk = new DiskGuard({ dir: dataDir, policy: config.disk, onError, onReserveSettled: () => late.pool?.kick(), ...options.disk });
  const db = openDatabase(join(dataDir, 'kiln.db'), { freeRoom: () => disk.releaseReserve() });
  const dbExclusive = isExclusive(db);
  const commits = new GroupCommit(db, onError);
  const runs = new RunStore(db);
  // A log that cannot be written stops its job (job-runner.ts) and tells the guard; the runner is built below.
  const logs = new LogStore(join(dataDir, 'logs'), undefined, (jobId, cut) => {
    if (cut.diskFull) disk.reportFull(`the log of job ${jobId}`);
    late.runner?.logCut(jobId);
  });
  const records = new JobRecordStore(db);
  const flow = new FlowStore(db);
  const deliveries = new DeliveryStore(db, commits);
  const heads = new RefHeadStore(db);
  // The first engine's Docker, asked on each use: Settings can replace the engines.
  const docker = (): DockerExecutor['docker'] | undefined => {
    const first = engines.executorOf(engines.names[0]);
    return first instanceof DockerExecutor ? first.docker : undefined;
  };
  const storage = createStorageServices({
    db, dataDir, retention: config.retention, docker, instanceId, now: clock,
    mirrorsInUse: () => config.repositories.map((r) => mirrorPathOf({ url: r.url, credentials: r.credentials }, mirrorsDir)),
  });

  const forge = createForgeReporter({
    db, clock, onError, ...options.forge, write: (fn) => commits.write(fn), repository,
    getRun: (id) => { const run = runs.runDetail(id); return run && flow.decorateRun(run); }, publicUrl: () => config.server.publicUrl,
    logTail: async (jobId, n) => (await logs.read(jobId, Math.max(0, logs.count(jobId) - n), n)).map((l) => l.text),
    annotations: (runId) => records.annotations(runId),
  });
  let settings: SettingsService;
  try {
    // Stored secrets join the configuration; a vault that cannot be decrypted stops the start.
    settings = new SettingsService({
      config, configFile: options.configFile ?? join(dataDir, CONFIG_FILE), now: clock,
      vault,
      applied: (change) => bus.settings.emit(change), onError,
      describeForge: (repo) => forge.repositoryReporting(repo),
    });
  } catch (err) {
    db.close();
    throw err;
  }

  const life = { stopping: false };
  const queue = new JobQueue(db, { instanceId: sessionId, leaseMs: q.leaseMs, agingIntervalMs: q.agingIntervalMs, maxAttempts: q.maxAttempts });
  const scheduler = new Scheduler(db, runs, queue, clock, (changes) => bus.scheduler.emit(changes), commits, flow);
  const debug = new DebugService({
    scheduler, logs, bus, clock, life, instanceId, onError, store: new DebugStore(db), repository,
    // A kept job's container lives on the engine that ran it: the pool's slot of the job (a replaced
    // engine's old connection), else the engine recorded on the job when it started.
    dockerOf: (jobId) => {
      const ran = engines.executorOfJob(jobId) ?? engines.executorOf(runs.getJob(jobId)?.engine ?? engines.names[0]);
      return ran instanceof DockerExecutor ? ran.docker : undefined;
    },
    // A job's engine that Settings removed (or a config edit dropped) before a restart: unreachable now.
    unconfiguredEngineOf: (jobId) => {
      const name = runs.getJob(jobId)?.engine;
      return name && !engines.executorOfJob(jobId) && !engines.executorOf(name) ? name : undefined;
    },
    engineOf: (jobId) => runs.getJob(jobId)?.engine ?? undefined,
    jobExists: (jobId) => runs.getJob(jobId) !== undefined,
    timings: storage.timings,
    // An adopted job holds its slot on the engine that ran it (the pool is built below; recover() runs after).
    slots: { hold: (jobId) => pool.holdSlot(jobId, runs.getJob(jobId)?.engine ?? undefined), free: (jobId) => pool.freeSlot(jobId) },
    // debug.keep is read from the live configuration, which a settings save updates in place.
    options: options.debug ?? { get keepMs() { return config.debug?.keepMs; } },
  });
  const runner = new JobRunner({
    store: runs, scheduler, logs, executor: ports.executor, clock, hooksFor: options.hooksFor ?? storageHooksFor({
      db, artifacts: storage.artifacts, caches: storage.caches, reports: storage.reports, onDiskFull: (what) => disk.reportFull(what),
    }),
    timings: storage.timings, repository, publish: (event) => bus.events.emit(event), debugFor: (claim) => debug.jobDebug(claim),
    records: { store: records, write: (fn) => commits.write(fn) }, onError,
  });
  late.runner = runner;
  const pool = new WorkerPool({
    scheduler, concurrency: Math.max(1, config.concurrency.jobs), perRepository: Math.max(1, config.concurrency.perRepository),
    heartbeatMs: q.heartbeatMs, pollMs: q.pollMs, workerName: sessionId,
    execute: async (claim, signal, engine) => {
      const result = await runner.execute(claim, signal, engine);
      // Docker's own disk, or the data directory's (a mirror fetch, an artifact): the guard holds new jobs back.
      if (result.infrastructure && result.error?.startsWith(DOCKER_STORAGE_FULL)) disk.reportDockerFull(result.error, engine);
      else if (result.error?.includes('disk full:')) disk.reportFull(`job ${claim.jobId}: ${result.error}`);
      return result;
    },
    // Not while the reserve is being written either: a job filling the disk then would leave no reserve to record its result with.
    mayStart: () => !disk.state.low && !disk.writingReserve,
    finish: (claim, result) => runner.finish(claim, result),
    // A result the database had no room for: the guard turns low at once (and gives SQLite the reserve).
    onError: (message, err) => {
      if (isDiskFull(err)) disk.reportFull('the database (a job result)');
      onError(message, err);
    },
    engines: engineSlots(engines, runs),
  });
  late.pool = pool;
  engines.alsoLive = (runId, jobId) => debug.keepsResourcesOf(runId, jobId);
  // A job kept for debugging already failed (its result is recorded when the hold ends): an engine
  // going away under it is no reason to run it again.
  bus.engines.on((change) => (change.kind === 'down'
    ? pool.engineLost(change.engine, change.jobIds.filter((id) => !debug.isKept(id)), change.reason)
    : pool.kick()));
  return {
    config, dataDir, mirrorsDir, instanceId, clock, onError, life, bus, settings, db,
    reconfigureEngines: () => { if (!options.executor) engines.reconfigure(poolEngines({ config, instanceId, mirrorsDir })); },
    renameEngine: (from, to) => { engines.rename(from, to); runs.renameEngine(from, to); }, disk, dbExclusive, commits, runs, flow, logs, records, deliveries,
    heads, storage, storageMetrics: options.storageMetrics, forge, forgeConnect: options.forge?.connect, forgeClient: options.forge?.client, scheduler, runner, pool, debug, engines, executor: ports.executor, pipeline: ports.pipeline,
    checkout: ports.checkout, lane: new OrderedLane(), repository,
  };
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
