import type { EngineInfo } from '../model/engine.js';
import type {
  ArtifactInfo, DeliveryRecord, LogLine, Page, RunDetail, RunSummary, ScheduleInfo, StorageMetrics,
} from '../model/run.js';
import type { Annotation, LogGroup, StepMarkdownSummary } from '../model/job-records.js';
import type { Status } from '../model/status.js';
import type { RunTestReport, RunTiming } from '../model/test-report.js';
import type {
  ConnectInput, ConnectReport, EngineInput, EngineSettings, RepositoryInput, RepositorySettings, ServerSettingsInput, SettingsView,
} from './settings-types.js';

/**
 * The engine API: the one contract that the HTTP server (`kiln serve`), the Electron IPC bridge and
 * the renderer's clients all implement or consume. Every method is async and may reject with an
 * ApiError; none of them throws synchronously. The settings page's data types live in
 * settings-types.ts.
 */
export interface RunQuery {
  cursor?: string;
  /** Default 50, at most 200. */
  limit?: number;
  repo?: string;
  branch?: string;
  status?: Status;
}

export interface TriggerRequest {
  repo: string;
  /** A branch, or a SHA, or both (the SHA wins for checkout, the branch names the run). */
  branch?: string;
  sha?: string;
  /** Start the run with debug: a job that fails is kept up for a terminal (see KeptJobInfo). */
  debug?: boolean;
  /** Who the run is recorded as started by: `ui` (the dashboard, the default) or `api` (a script over HTTP). */
  via?: 'ui' | 'api';
}

/** A failed job kept up for debugging: its container, services and network stay until `deadline`. */
export interface KeptJobInfo {
  runId: string;
  jobId: string;
  /** The step that failed; the terminal starts with its environment, in the workspace. */
  step: { index: number; name: string };
  keptAt: number;
  /** Epoch ms; the container is removed then unless extended. */
  deadline: number;
  /**
   * 'held': kept by this engine process, holding its concurrency slot (the failed step can be re-run
   * into the job's log); 'adopted': kept from before a restart (terminal only); 'stranded': kept
   * on an engine Kiln can no longer reach (see `stranded`): it holds no slot, and ending it only
   * drops the record.
   */
  state: 'held' | 'adopted' | 'stranded';
  /** For a stranded job: its engine, why Kiln cannot remove the container, and how to remove it by hand. */
  stranded?: { engine: string; why: string; containerId: string; removeCommand: string };
  /** On extendDebug's answer: true when the one-day cap cut the extension short; `message` says by how much. */
  capped?: boolean;
  message?: string;
}

export interface LogChunk {
  lines: LogLine[];
  /** The seq to ask for next. */
  nextOffset: number;
  /** True once the job has finished and every line has been returned. */
  complete: boolean;
  /** Optional: lines in the job log so far, so a viewer can size a virtual list before it has fetched them. */
  total?: number;
}

/** What a run's jobs produced besides their logs, for the run view. */
export interface RunRecords {
  /** Errors first, then warnings, then notices; Kiln's own (a step failed) among them, once each. */
  annotations: Annotation[];
  /** Job summaries ($KILN_SUMMARY), by job then step; Markdown, masked, to be rendered sanitised. */
  summaries: StepMarkdownSummary[];
}

export interface LogMatch {
  seq: number;
  step: number | null;
  text: string;
}

export type TunnelState =
  | { state: 'disabled' }
  | { state: 'connecting'; url: string }
  | { state: 'connected'; url: string; since: number }
  | { state: 'error'; url: string; message: string; since: number };

export interface Health {
  ok: boolean;
  version: string;
  /**
   * The Docker engine jobs run on: whether it answers, which one it is and why it was chosen
   * (`engine`: "local (unix:///var/run/docker.sock, from the default socket)"), and what discovery
   * consulted on the way (`tried`), so "nothing answers" can name every place Kiln looked.
   */
  docker: { ok: boolean; message?: string; engine?: string; tried?: string[] };
  tunnel: TunnelState;
  /**
   * `queued`: jobs ready to start, waiting only for a slot or an engine; `waitingOnNeeds`: jobs that
   * still wait for the jobs they need (present when any do). `running` counts jobs kept for
   * debugging (they hold their slots); `kept`, present when any is, says how many of them are.
   */
  queue: { queued: number; waitingOnNeeds?: number; running: number; kept?: number };
  /** Optional: free space where Kiln keeps its data, and whether it holds new jobs back (see DiskHealth). */
  disk?: DiskHealth;
  /** Every Docker engine of the worker pool (one unless kiln.config.yml lists several). */
  engines?: EngineInfo[];
  /** Catch-up per configured repository: when its remote heads were last listed, and how that went. */
  refChecks?: RefCheck[];
  /** Optional: the effective limits from kiln.config.yml, for the settings page (read-only there). */
  settings?: {
    concurrency: { jobs: number; perRepository: number };
    retention: { artifactsMs: number; cachesMs: number; cacheSizeBytes: number; workspacesMs: number };
  };
}

/** The low-space guard's view (docs/storage.md). */
export interface DiskHealth {
  /** False while no new job starts: free space is below `neededBytes`, a write found the disk full, or Docker's storage is full. */
  ok: boolean;
  freeBytes: number;
  totalBytes: number;
  /** The threshold: the larger of disk.min-free and disk.min-free-percent of the disk. */
  neededBytes: number;
  /** While not ok: "waiting: 1.1 GB free, Kiln needs 2.0 GB". */
  message?: string;
  /** The last write that failed for lack of space ("the log of job …") and when (epoch ms). */
  lastFull?: { what: string; at: number };
  /** The Docker engine's own storage, when it reported itself full. */
  docker?: string;
  /** The Docker engine's data root (`docker info`) and its free space, when it is on this machine. */
  dockerStorage?: { path: string; freeBytes: number; totalBytes: number };
  /** The database was opened with exclusive locking because the disk was full at start-up (reads work; writes once there is room). */
  databaseExclusive?: boolean;
  /** Job results waiting to be recorded (the database could not be written). */
  resultsWaiting?: number;
}

/** What the Storage page's buttons delete to free space (each optional; none: nothing). */
export interface FreeSpaceRequest {
  /** Every stored artifact. */
  artifacts?: boolean;
  /** Every cache entry not in use by a running job. */
  caches?: boolean;
  /** The logs of runs that finished at least this many days ago (0: of every finished run); the runs stay listed. */
  logsOlderThanDays?: number;
}

export interface FreeSpaceReport {
  artifactsDeleted: number;
  cachesDeleted: number;
  logsDeleted: number;
  /** Free space after minus before. */
  bytesFreed: number;
  disk: DiskHealth;
}

export type { EngineInfo } from '../model/engine.js';

/** One repository's catch-up state (see docs/webhooks.md, "Catching up"). */
export interface RefCheck {
  repo: string;
  /** 'poll': no webhook secret, so the remote is listed every poll interval; 'webhook': on the catch-up interval. */
  mode: 'webhook' | 'poll';
  /** 'pending' before the first listing ends. */
  result: 'pending' | 'ok' | 'failing';
  /** When the last listing ended (epoch ms). */
  lastCheckedAt?: number;
  /** Why the last listing failed (wrong credentials, unreachable host): git's reason, URL credentials redacted. */
  error?: string;
  /** Consecutive failures; the next listing waits interval × 2^failures (at most 30 min). */
  failures: number;
  nextCheckAt?: number;
  /** Runs catch-up has started for this repository (kept across restarts). */
  caughtUp: number;
}

/** A commit status's state on the forge (GitHub, GHES, Gitea and Forgejo share these four). */
export type ForgeStatusState = 'pending' | 'success' | 'failure' | 'error';

/** One status a run posts (or has posted) to its commit. */
export interface ForgeStatusInfo {
  context: string;
  state: ForgeStatusState;
  description: string;
  /** queued: waiting to be posted (or retried); posted; failed: given up (see reason). */
  delivery: 'queued' | 'posted' | 'failed';
  reason?: string;
  attempts: number;
  postedAt?: number;
}

/** A run's reporting state for the run view. */
export interface RunReporting {
  enabled: boolean;
  /** One line: "statuses posted", "2 statuses waiting to be posted", "the forge rejected the token (401): …". */
  summary: string;
  /** The newest status of each context. */
  statuses: ForgeStatusInfo[];
  /** The pull-request comment describing this run, when there is one. */
  comment?: { posted: boolean; reason?: string };
}

/** Live events. `seq` on log events is the job log offset, used for resumption. */
export type EngineEvent =
  | { type: 'run'; run: RunSummary }
  | { type: 'job'; runId: string; jobId: string; status: Status }
  | { type: 'log'; jobId: string; lines: LogLine[] }
  | { type: 'tunnel'; tunnel: TunnelState }
  | { type: 'delivery'; delivery: DeliveryRecord };

export interface EngineApi {
  listRuns(query: RunQuery): Promise<Page<RunSummary>>;
  getRun(runId: string): Promise<RunDetail>;
  triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }>;
  cancelRun(runId: string): Promise<void>;
  /** `debug`: the new run keeps a failed job up for a terminal (see KeptJobInfo). */
  /** `via`: who re-ran it (as TriggerRequest.via); a manual run's re-run is recorded as by them. */
  rerun(runId: string, options: { failedOnly: boolean; debug?: boolean; via?: 'ui' | 'api' }): Promise<{ runId: string }>;
  getLog(jobId: string, offset: number, limit?: number): Promise<LogChunk>;
  searchLog(jobId: string, query: string, limit?: number): Promise<LogMatch[]>;
  /** A job's log groups in seq order; with `from`, only those starting or ending at or after it, and open ones (a live viewer's refresh). */
  getLogGroups(jobId: string, from?: number): Promise<LogGroup[]>;
  /** A run's annotations and job summaries. */
  getRunRecords(runId: string): Promise<RunRecords>;
  listArtifacts(runId: string): Promise<ArtifactInfo[]>;
  listDeliveries(limit?: number): Promise<DeliveryRecord[]>;
  listRepositories(): Promise<RepositorySettings[]>;
  storageMetrics(): Promise<StorageMetrics>;
  health(): Promise<Health>;
  /** Deletes artifacts, caches or old runs' logs to free space (the Storage page); works on a full disk. */
  freeSpace(request: FreeSpaceRequest): Promise<FreeSpaceReport>;
  /** Settings for the settings page (no secret values). */
  getSettings(): Promise<SettingsView>;
  /** Creates or updates a repository, saved to kiln.config.yml (secrets to the encrypted vault); applies at once. */
  saveRepository(input: RepositoryInput): Promise<RepositorySettings>;
  /** Removes a repository from the configuration and its stored secrets; its runs stay in the history. */
  removeRepository(name: string): Promise<void>;
  /** Tunnel URL, concurrency, retention: saved and applied at once (the tunnel reconnects, new claims use the limits). */
  saveServerSettings(input: ServerSettingsInput): Promise<SettingsView>;
  /** Adds or updates a Docker engine (kiln.config.yml, material to the vault); the pool follows at once. */
  saveEngine(input: EngineInput): Promise<EngineSettings>;
  /** Removes a Docker engine and its stored material; it takes no new job, its running jobs finish. */
  removeEngine(name: string): Promise<void>;
  /** Optional (engines that report to a forge): the commit statuses a run posts and whether they arrived. */
  getRunReporting(runId: string): Promise<RunReporting>;
  /** Optional: sets up the tunnel channel, a webhook secret and the forge's webhook, and checks it with a ping. */
  connectRepository(input: ConnectInput): Promise<ConnectReport>;
  /** The run's test reports: totals, failures first, the slowest cases, the branch's flaky tests; with `search`, the matching cases. */
  getTestReport(runId: string, search?: string): Promise<RunTestReport>;
  /** The run's jobs on one time axis: queued, pulling, setting up, steps, after the steps, tearing down. */
  getRunTiming(runId: string): Promise<RunTiming>;
  /** Failed jobs kept up for debugging, oldest first. */
  listKeptJobs(): Promise<KeptJobInfo[]>;
  /** Moves a kept job's deadline `minutes` (default 30) past the later of now and its deadline; CONFLICT when not kept. */
  extendDebug(jobId: string, minutes?: number): Promise<KeptJobInfo>;
  /**
   * Ends debugging now: the kept container, services and network are removed and the job ends failed.
   * `by` says who asked, for the job's log ('dashboard' from its End button; default 'api').
   */
  endDebug(jobId: string, by?: 'dashboard' | 'api'): Promise<void>;
  /** Runs the failed step's script again in the kept container; its log joins the job's log. CONFLICT when not held. */
  rerunFailedStep(jobId: string): Promise<{ exitCode: number }>;
  /** Approves a job waiting for approval (`when: manual`): it is queued. CONFLICT when it does not wait. */
  approveJob(jobId: string, options?: { by?: string }): Promise<void>;
  /** Rejects a job waiting for approval: it ends cancelled and its dependants are skipped. */
  rejectJob(jobId: string, options?: { by?: string }): Promise<void>;
  /** Every repository's schedules (`on.schedule` on its default branch) with their next time. */
  listSchedules(): Promise<ScheduleInfo[]>;
}

/** Errors cross process and network boundaries as this envelope and are rebuilt as `ApiError`s. */
/** Every error code the API answers with: the one list HTTP, IPC and both clients check against. */
export const API_ERROR_CODES = ['NOT_FOUND', 'BAD_REQUEST', 'CONFLICT', 'UNAUTHORIZED', 'UNAVAILABLE', 'INTERNAL'] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return (API_ERROR_CODES as readonly unknown[]).includes(code);
}

export interface ApiErrorBody {
  name: string;
  code: ApiErrorCode;
  message: string;
}

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ApiErrorBody };

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
  toBody(): ApiErrorBody {
    return { name: this.name, code: this.code, message: this.message };
  }
}

export const HTTP_STATUS_OF: Record<ApiErrorCode, number> = {
  NOT_FOUND: 404, BAD_REQUEST: 400, CONFLICT: 409, UNAUTHORIZED: 401, UNAVAILABLE: 503, INTERNAL: 500,
};

/** The method names of EngineApi, for generic IPC proxying (preload) and handler registration. */
export const ENGINE_API_METHODS = [
  'listRuns', 'getRun', 'triggerRun', 'cancelRun', 'rerun', 'getLog', 'searchLog', 'listArtifacts',
  'listDeliveries', 'listRepositories', 'storageMetrics', 'health', 'freeSpace',
  'getSettings', 'saveRepository', 'removeRepository', 'saveServerSettings', 'getRunReporting', 'connectRepository',
  'getLogGroups', 'getRunRecords',
  'getTestReport', 'getRunTiming',
  'listKeptJobs', 'extendDebug', 'rerunFailedStep', 'endDebug',
  'approveJob', 'rejectJob', 'listSchedules',
  'saveEngine', 'removeEngine',
] as const satisfies readonly (keyof EngineApi)[];

/** Compile-time check that a list names every method of an API: a method added without IPC fails to build. */
type Covers<Api, Listed> = [Exclude<keyof Api, Listed>] extends [never] ? true : { missingFromMethodList: Exclude<keyof Api, Listed> };
const _engineApiCovered: Covers<EngineApi, (typeof ENGINE_API_METHODS)[number]> = true;

/**
 * The object the Electron preload exposes as `window.kiln` (contextBridge): one generic invoke for
 * every method of EngineApi (and DesktopApi), plus the live event feed. Nothing per channel.
 */
export interface KilnBridge {
  invoke(method: string, args: unknown[]): Promise<Envelope<unknown>>;
  /** Returns the unsubscribe function. */
  onEvent(listener: (event: EngineEvent) => void): () => void;
}

/**
 * Desktop-only calls (Electron IPC): the local server's address. Secrets are written through
 * saveRepository, as in a browser; the app's vault encrypts them with safeStorage.
 */
export interface DesktopApi {
  /** The embedded HTTP server (webhooks, badges, downloads), e.g. `http://127.0.0.1:7070`. */
  serverUrl(): Promise<string>;
  /**
   * The embedded server's terminal WebSocket for a kept job, with a one-time ticket bound to that job
   * (the page has no server origin); CONFLICT when the job is not kept for debugging now.
   */
  terminalUrl(jobId: string): Promise<string>;
}

export const DESKTOP_API_METHODS = ['serverUrl', 'terminalUrl'] as const satisfies readonly (keyof DesktopApi)[];
const _desktopApiCovered: Covers<DesktopApi, (typeof DESKTOP_API_METHODS)[number]> = true;
export const IPC_INVOKE_CHANNEL = 'kiln:invoke';
export const IPC_EVENT_CHANNEL = 'kiln:event';
