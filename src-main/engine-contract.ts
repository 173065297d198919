/**
 * What the rest of the main side (HTTP server, webhook receiver, smee tunnel, Electron IPC, CLI)
 * needs from the engine, and the configuration it is built from. The engine (src-main/engine.ts)
 * implements KilnEngine; the HTTP layer and IPC depend only on this interface.
 */
import type { EngineApi, EngineEvent, TunnelState } from '../shared/api/engine-api.js';
import type { TriggerEvent } from '../shared/model/trigger-event.js';
import type { Priority } from '../shared/model/status.js';
import type { Db } from './storage/db.js';
import type { GroupCommit } from './storage/group-commit.js';

/** kiln.config.yml, after validation and defaults. Durations in ms, sizes in bytes. */
export interface KilnConfig {
  /** publicUrl: the dashboard as teammates reach it (VPN); commit statuses link to runs under it. */
  server: { host: string; port: number; apiToken?: string; publicUrl?: string };
  tunnel?: { url: string };
  concurrency: { jobs: number; perRepository: number };
  retention: { artifactsMs: number; cachesMs: number; cacheSizeBytes: number; workspacesMs: number };
  webhooks: { maxAgeMs: number; replayWindowMs: number; maxBodyBytes: number };
  repositories: RepositoryConfig[];
}

export interface RepositoryConfig {
  /** owner/name */
  name: string;
  /** clone URL (https, ssh, file://) or a local path */
  url: string;
  defaultBranch: string;
  /** All accepted, for rotation. */
  webhookSecrets: string[];
  secrets: Record<string, string>;
  /** Triggers per minute (token bucket); undefined = unlimited. */
  rateLimitPerMinute?: number;
  /** Branch glob → priority, overriding the pipeline's priority. */
  priority: Record<string, Priority>;
  credentials?: { username?: string; password?: string; sshKeyFile?: string };
  /** Commit statuses to the forge (src-main/forge); reporting is on when a token is set. */
  forge?: ForgeConfig;
}

export interface ForgeConfig {
  /** Default https://api.github.com; GHES https://HOST/api/v3; Gitea/Forgejo https://HOST/api/v1. */
  apiUrl: string;
  /** In memory only: from kiln.config.yml or the encrypted vault, never written elsewhere. */
  token?: string;
  /** One status per job besides the pipeline's (default false). */
  jobStatuses: boolean;
  /** Without a public dashboard URL, a failed pull request gets one comment with the failure (default true). */
  prComment?: boolean;
}

export interface TriggerOutcome {
  runIds: string[];
  /** Why nothing (or not everything) was started: "no pipeline file at <sha>", "trigger does not match", … */
  reason?: string;
}

/** Called with the stored runs' ids (and why not more, for a failed pipeline file) inside their transaction. */
export type WithRuns = (stored: TriggerOutcome) => void;

export interface KilnEngine extends EngineApi {
  readonly config: KilnConfig;
  readonly dataDir: string;
  /** The engine's database, for modules with their own tables (webhook deliveries). */
  readonly db: Db;
  /** Group commit over db: writes requested in one turn of the event loop share a transaction. */
  readonly commits: GroupCommit;
  /**
   * Plans and enqueues runs for an event (reads .kiln.yml at event.sha); supersedes older runs of the
   * same concurrency group. `withRuns`, when given, is called inside the transaction that stores the
   * runs — only when runs are stored — so what the caller writes there (a webhook's delivery record
   * and replay keys) commits with them or not at all. If it throws, nothing is stored.
   */
  handleEvent(event: TriggerEvent, withRuns?: WithRuns): Promise<TriggerOutcome>;
  /** Live events; returns the unsubscribe function. Listeners must not throw. */
  subscribe(listener: (event: EngineEvent) => void): () => void;
  /** Publishes an event to subscribers (the tunnel and the webhook receiver report through it). */
  publish(event: EngineEvent): void;
  /** The tunnel reports its state here; health() and the UI read it. */
  setTunnelState(state: TunnelState): void;
  /** Cancels running jobs, cleans up containers, closes the database. Idempotent. */
  stop(): Promise<void>;
}
