import type {
  ArtifactInfo, DeliveryRecord, LogLine, Page, RunDetail, RunSummary, StorageMetrics,
} from '../model/run.js';
import type { Status } from '../model/status.js';

/**
 * The engine API: the one contract that the HTTP server (`kiln serve`), the Electron IPC bridge and
 * the renderer's clients all implement or consume. Every method is async and may reject with an
 * ApiError; none of them throws synchronously.
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
  docker: { ok: boolean; message?: string };
  tunnel: TunnelState;
  queue: { queued: number; running: number };
  /** Optional: the effective limits from kiln.config.yml, for the settings page (read-only there). */
  settings?: {
    concurrency: { jobs: number; perRepository: number };
    retention: { artifactsMs: number; cachesMs: number; cacheSizeBytes: number; workspacesMs: number };
  };
}

export interface RepositorySettings {
  name: string;
  url: string;
  defaultBranch: string;
  /** Never the secret values: their names only. */
  secretNames: string[];
  webhookSecretCount: number;
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
  rerun(runId: string, options: { failedOnly: boolean }): Promise<{ runId: string }>;
  getLog(jobId: string, offset: number, limit?: number): Promise<LogChunk>;
  searchLog(jobId: string, query: string, limit?: number): Promise<LogMatch[]>;
  listArtifacts(runId: string): Promise<ArtifactInfo[]>;
  listDeliveries(limit?: number): Promise<DeliveryRecord[]>;
  listRepositories(): Promise<RepositorySettings[]>;
  storageMetrics(): Promise<StorageMetrics>;
  health(): Promise<Health>;
}

/** Errors cross process and network boundaries as this envelope and are rebuilt as `ApiError`s. */
export type ApiErrorCode = 'NOT_FOUND' | 'BAD_REQUEST' | 'CONFLICT' | 'UNAUTHORIZED' | 'UNAVAILABLE' | 'INTERNAL';

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
  'listDeliveries', 'listRepositories', 'storageMetrics', 'health',
] as const satisfies readonly (keyof EngineApi)[];

/**
 * The object the Electron preload exposes as `window.kiln` (contextBridge): one generic invoke for
 * every method of EngineApi (and DesktopApi), plus the live event feed. Nothing per channel.
 */
export interface KilnBridge {
  invoke(method: string, args: unknown[]): Promise<Envelope<unknown>>;
  /** Returns the unsubscribe function. */
  onEvent(listener: (event: EngineEvent) => void): () => void;
}

/** Desktop-only calls (Electron IPC): secrets kept with safeStorage, the local server's address. */
export interface DesktopApi {
  /** Write-only: a secret's value never comes back to the renderer. An empty value deletes it. */
  setSecret(repo: string, name: string, value: string): Promise<void>;
  /** The embedded HTTP server (webhooks, badges, downloads), e.g. `http://127.0.0.1:7070`. */
  serverUrl(): Promise<string>;
}

export const DESKTOP_API_METHODS = ['setSecret', 'serverUrl'] as const satisfies readonly (keyof DesktopApi)[];
export const IPC_INVOKE_CHANNEL = 'kiln:invoke';
export const IPC_EVENT_CHANNEL = 'kiln:event';
