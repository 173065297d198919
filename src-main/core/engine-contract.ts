/**
 * What the rest of the main side (HTTP server, webhook receiver, smee tunnel, Electron IPC, CLI)
 * needs from the engine, and the configuration it is built from. The engine (src-main/engine/engine.ts)
 * implements KilnEngine; the HTTP layer and IPC depend only on this interface.
 */
import type { Duplex } from 'node:stream';
import type { EngineApi, EngineEvent, TunnelState } from '../../shared/api/engine-api.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { Priority } from '../../shared/model/status.js';
import type { DeliveryRecord } from '../../shared/model/run.js';

/** kiln.config.yml, after validation and defaults. Durations in ms, sizes in bytes. */
export interface KilnConfig {
  server: {
    host: string; port: number; apiToken?: string;
    /** Further names (host or host:port) the HTTP server answers to; see src-main/http/local-guard.ts. */
    allowedHosts?: string[];
    /** The dashboard as teammates reach it (VPN); commit statuses link to runs under it, and the local guard accepts its host. */
    publicUrl?: string;
  };
  tunnel?: { url: string };
  concurrency: { jobs: number; perRepository: number };
  retention: { artifactsMs: number; cachesMs: number; cacheSizeBytes: number; workspacesMs: number };
  /**
   * The low-space guard (storage/disk-guard.ts): no new job starts while free space is below the
   * larger of minFreeBytes and minFreePercent of the disk. Absent: 2 GiB, 5 %, a 32 MiB reserve, sampled every 5 s.
   */
  disk?: { minFreeBytes?: number; minFreePercent?: number; reserveBytes?: number; checkIntervalMs?: number };
  webhooks: { maxAgeMs: number; replayWindowMs: number; maxBodyBytes: number };
  /**
   * Catch-up (remote heads compared with the last-seen ones, see trigger/catch-up.ts): every
   * `intervalMs` for repositories with webhooks; the clock-jump (sleep) check every `clockCheckMs`.
   * Absent: the defaults (5 min, 5 s).
   */
  catchUp?: { intervalMs: number; clockCheckMs: number };
  /** How long a failed job of a run with debug stays kept (debug.keep); absent: 30 min. See docs/debug.md. */
  debug?: { keepMs: number };
  repositories: RepositoryConfig[];
  /**
   * The Docker engines jobs run on (kiln.config.yml `engines:`). Absent or empty: the one engine the
   * `docker` command would use (executor/engines/engine-address.ts), limited by concurrency only.
   */
  engines?: EngineConfig[];
}

/** One Docker engine of the worker pool. */
export interface EngineConfig {
  name: string;
  /** unix:///path, tcp://host:port, ssh://user@host[:port] */
  address: string;
  /** Jobs at once on this engine (the global and per-repository limits hold as well). */
  limit: number;
  /** What jobs may ask for with `runs-on:` — `gpu`, `arch=arm64` (a mapping `arch: arm64` reads as the latter). */
  labels: string[];
  /** PEM text, in memory only: read from the files the configuration names. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** The private key for ssh:// (PEM text, in memory only). */
  sshKey?: string;
  /** The SSH host key's fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints it): `host-key` in YAML. */
  hostKey?: string;
  /** Which of the TLS material and SSH key the file says are kept in the secret vault (`vault` instead of a path). */
  vaultParts?: EngineMaterialPart[];
}

/** The secret parts of an engine's configuration: PEM text, kept in memory or in the secret vault. */
export type EngineMaterialPart = 'ca' | 'cert' | 'key' | 'sshKey';

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
  /** Without a webhook secret the repository is poll-only: its heads are listed this often (default 60 s). */
  pollIntervalMs?: number;
  /** Commit statuses to the forge (src-main/forge); reporting is on when a token is set. */
  forge?: ForgeConfig;
  /** A push or pull request changing more files counts as "everything changed" for path filters (default 3,000, GitHub's limit). */
  maxChangedFiles?: number;
  /** Every failed job of this repository is kept for debugging, as if its run were started with debug (debug-failures). */
  debugFailures?: boolean;
}

/** Where commit statuses go when a repository names no API URL. */
export const DEFAULT_FORGE_API_URL = 'https://api.github.com';

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

/**
 * A webhook delivery that handleEvent records with the runs it starts, in their transaction:
 * its record (outcome accepted, 202) and replay keys commit with the runs or not at all.
 */
export interface AcceptedDelivery {
  deliveryId: string;
  /** The X-GitHub-Event name. */
  event: string;
  receivedAt: number;
  /** sha256 of the signed body: remembered with the delivery id for replay protection. */
  bodySha256: string;
  /** What the delivery asked for, as the record's reason begins: "push main at 1a2b3c4d5e6f". */
  summary: string;
}

/** The replay table as the webhook receiver's guard uses it (storage/delivery-store.ts). */
export interface SeenDeliveries {
  /** When this delivery id, and this body digest, were last remembered (epoch ms), if they were. */
  seenAt(deliveryId: string, bodySha256: string): { id?: number; body?: number };
  /** Inside a write: stores the keys; they are known once it commits. */
  remember(deliveryId: string, bodySha256: string, at: number): void;
  /** In a transaction of its own. */
  rememberNow(deliveryId: string, bodySha256: string, at: number): void;
  forget(deliveryId: string, bodySha256: string): void;
  /** Deletes keys remembered before `cutoff`; returns how many rows went. */
  expire(cutoff: number): number;
}

/** The delivery log and replay table, as the webhook receiver writes them. */
export interface DeliveryLedger extends SeenDeliveries {
  /**
   * Stores a delivery that started no run (rejected, ignored, a ping) in a group-commit write of
   * its own; `remember` keeps its replay keys. Resolves once it is on disk.
   */
  write(delivery: Omit<DeliveryRecord, 'id'> & { bodySha256?: string; remember?: boolean }): Promise<DeliveryRecord>;
}

/** A terminal into a kept job: raw bytes both ways (never logged), resize, the shell's exit. */
export interface DebugTerminal {
  readonly stream: Duplex;
  resize(cols: number, rows: number): Promise<void>;
  readonly exit: Promise<number>;
  /** Ends the terminal (the shell is hung up); the kept container stays. Idempotent. */
  close(): void;
}

/** Terminals into kept jobs (the terminal WebSocket, http/terminal-ws.ts, uses it). */
export interface DebugTerminals {
  /** Whether `jobId` is kept for debugging now (checked before a WebSocket handshake is accepted). */
  isKept(jobId: string): boolean;
  /** Opens a shell; rejects with ApiError CONFLICT when not kept, NOT_FOUND when its container vanished. */
  open(jobId: string, size: { cols: number; rows: number }): Promise<DebugTerminal>;
  /**
   * A shell's stream ended: why the container is gone (it vanished or stopped, and debugging ended;
   * or the job is no longer kept), or undefined while the kept container is still up.
   */
  containerGone(jobId: string): Promise<string | undefined>;
}

export interface KilnEngine extends EngineApi {
  /** Optional (engines with a Docker executor): terminals into jobs kept for debugging. */
  readonly terminals?: DebugTerminals;
  readonly config: KilnConfig;
  readonly dataDir: string;
  /** Webhook deliveries: the log the UI shows and the replay table (the receiver writes them). */
  readonly deliveries: DeliveryLedger;
  /**
   * Plans and enqueues runs for an event (reads .kiln.yml at event.sha); supersedes older runs of the
   * same concurrency group. A `delivery`, when given, is recorded (with its replay keys) in the
   * transaction that stores the runs — only when runs are stored — and returned: both commit or
   * neither does. When nothing is stored, the caller records the delivery itself.
   */
  handleEvent(event: TriggerEvent, delivery?: AcceptedDelivery): Promise<TriggerOutcome & { delivery?: DeliveryRecord }>;
  /** Live events; returns the unsubscribe function. Listeners must not throw. */
  subscribe(listener: (event: EngineEvent) => void): () => void;
  /** Publishes an event to subscribers (the tunnel and the webhook receiver report through it). */
  publish(event: EngineEvent): void;
  /** The tunnel reports its state here; health() and the UI read it. A reconnect starts a catch-up. */
  setTunnelState(state: TunnelState): void;
  /**
   * Lists the repository's remote heads now and builds each moved head no run has built; with
   * `head`, also that ref if the remote still has that commit as its head and no run has built it
   * (the webhook receiver asks this for a late redelivery instead of building its payload).
   */
  requestCatchUp?(repo: string, head?: { ref: string; sha: string }): void;
  /** Cancels running jobs, cleans up containers, closes the database. Idempotent. */
  stop(): Promise<void>;
}
