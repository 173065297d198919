/**
 * What the settings page reads and writes through the engine API: repositories (with their secrets'
 * names, never values, and their forge reporting), the server-wide settings, and the Docker engines
 * under `engines:`. Kept apart from engine-api.ts so the contract there stays a readable list of
 * calls; this file only describes data. Secret values and key material appear only in the *Input
 * types, write-only: no call returns them.
 */
import type { Priority } from '../model/status.js';
import type { TunnelState } from './engine-api.js';

export interface RepositorySettings {
  name: string;
  url: string;
  defaultBranch: string;
  /** Never the secret values: their names only. */
  secretNames: string[];
  webhookSecretCount: number;
  /**
   * Optional (engines that support saving settings): where each job secret lives — 'file' is
   * kiln.config.yml as the user wrote it, 'vault' is encrypted storage written through the API.
   */
  secrets?: SecretInfo[];
  /** Optional: each webhook secret by id (for removal during rotation), never by value. */
  webhookSecrets?: WebhookSecretInfo[];
  /** Optional: triggers per minute (token bucket); absent when unlimited. */
  rateLimitPerMinute?: number;
  /** Optional: branch glob → priority, overriding the pipeline's priority (first matching glob wins). */
  priority?: Record<string, Priority>;
  /** Optional: reporting results to the forge (commit statuses); absent when the engine does not report. */
  forge?: RepositoryReporting;
  /** Optional: how often a poll-only repository (no webhook secret) is listed, when set (poll-interval); absent: 60 s. */
  pollIntervalMs?: number;
  /** Optional: a push changing more files counts as "everything changed" (max-changed-files), when set; absent: 3000. */
  maxChangedFiles?: number;
  /** Optional: every failed job is kept for a debug terminal, as if each run had debug (debug-failures). */
  debugFailures?: boolean;
}

/** How a repository reports to its forge; never the token itself. */
export interface RepositoryReporting {
  /** True when a token is set: runs of pushes and pull requests then post commit statuses. */
  enabled: boolean;
  /** e.g. https://api.github.com, https://HOST/api/v3 (GHES), https://HOST/api/v1 (Gitea, Forgejo). */
  apiUrl: string;
  kind: 'github' | 'gitea';
  tokenSet: boolean;
  /** Where the token lives, when set. */
  tokenSource?: SecretSource;
  /** One status per job (`kiln/<pipeline>/<job>`) besides the pipeline's. */
  jobStatuses: boolean;
  /** Without a public URL, failed pull requests get one comment with the failure (updated in place). */
  prComment?: boolean;
  /** The last post's outcome: "statuses posted", "the token lacks permission (403): …". */
  lastOutcome?: { ok: boolean; message: string; at: number };
}

/** Connect a repository in one step: tunnel channel, webhook secret, the forge's webhook, a ping. */
export interface ConnectInput {
  /** owner/name; a new repository also needs `url`. */
  name: string;
  url?: string;
  /** A token that may manage webhooks (kept like the status token); without one, and none stored, the manual values come back. */
  token?: string;
  apiUrl?: string;
}

export type ConnectStep = 'repository' | 'channel' | 'secret' | 'webhook' | 'ping';

export interface ConnectReport {
  ok: boolean;
  /** Each step's result in order; a failed step names what to fix and ends the list. */
  steps: Array<{ step: ConnectStep; ok: boolean; message: string }>;
  /** Without a token: what to paste into the forge's webhook form (the secret is shown this once). */
  manual?: { payloadUrl: string; contentType: 'application/json'; secret: string; events: string[] };
}

/** What can be changed about a repository's reporting; omitted fields are unchanged. */
export interface RepositoryForgeInput {
  /** null or '' restores the default (https://api.github.com). */
  apiUrl?: string | null;
  /** Write-only, stored encrypted; null removes it (reporting stops). */
  token?: string | null;
  jobStatuses?: boolean;
  prComment?: boolean;
}

export type SecretSource = 'file' | 'vault';

export interface SecretInfo {
  name: string;
  source: SecretSource;
}

export interface WebhookSecretInfo {
  /** Stable for vault secrets; 'file-N' (N-th of the file's) for secrets written in kiln.config.yml. */
  id: string;
  source: SecretSource;
  /** When it was added through the API (vault secrets only). */
  addedAt?: number;
}

/** The settings page's view: everything but secret values. */
export interface SettingsView {
  /** The kiln.config.yml that saves go to (created on the first save when the engine started from defaults). */
  configFile: string;
  tunnel: { url: string | null; state: TunnelState };
  concurrency: { jobs: number; perRepository: number };
  retention: { artifactsMs: number; cachesMs: number; cacheSizeBytes: number; workspacesMs: number };
  repositories: RepositorySettings[];
  /** Optional: the dashboard's public URL that commit statuses link to (absent: no link). */
  publicUrl?: string | null;
  /** Optional: how long a failed job of a run with debug stays up (debug.keep). */
  debugKeepMs?: number;
  /** Optional: how often every repository's remote is listed for lost webhooks (catch-up.interval). */
  catchUpIntervalMs?: number;
  /** Optional: the Docker engines under `engines:` (empty: jobs run on the engine `docker` uses). */
  engines?: EngineSettings[];
}

/** One Docker engine as the settings page edits it; never its TLS material or SSH key. */
export interface EngineSettings {
  name: string;
  /** unix:///…, tcp://host:port, ssh://user@host[:port] */
  address: string;
  limit: number;
  labels: string[];
  /** The SSH host key's fingerprint (`SHA256:…`), when set. */
  hostKey?: string;
  /** Which TLS parts are set and where each lives ('vault': set here, encrypted; 'file': a path in kiln.config.yml). */
  tls: { ca?: SecretSource; cert?: SecretSource; key?: SecretSource };
  /** Where the SSH private key lives, when one is set. */
  sshKey?: SecretSource;
  /** On a save's answer only: whether the engine answered a ping just after the save (absent when not asked). */
  reachable?: boolean;
  /** On a save's answer, when it did not answer: "far is not reachable: getaddrinfo ENOTFOUND far — jobs wait until it is". */
  warning?: string;
  /** On the answer to adding the first engine: the default local engine it replaced, and how to keep that one. */
  replaces?: string;
}

/**
 * Adds (`create: true`) or updates an engine under `engines:`. Omitted fields are unchanged. The
 * TLS material and SSH key are PEM text, write-only: stored encrypted, never returned; null removes.
 */
export interface EngineInput {
  name: string;
  /** true: a new engine, refused when one of that name exists; otherwise the named engine is updated. */
  create?: boolean;
  /**
   * An update's new name for the engine `name`: it keeps its connection, running jobs and history
   * (docs/engines.md). CONFLICT when another engine has that name.
   */
  rename?: string;
  /** Required to create. */
  address?: string;
  /** Jobs at once on this engine (default 2); null goes back to the default. */
  limit?: number | null;
  /** `gpu`, `arch=arm64`; replaces the engine's labels; null or [] removes them. */
  labels?: string[] | null;
  /** `SHA256:…`; null or '' removes it. */
  hostKey?: string | null;
  tls?: { ca?: string | null; cert?: string | null; key?: string | null };
  sshKey?: string | null;
}

/**
 * Creates (when `name` is new) or updates a repository. Omitted fields are unchanged. Secret values
 * are write-only: they are stored encrypted and never returned by any call.
 */
export interface RepositoryInput {
  /** owner/name, as in the webhook payload's repository.full_name. */
  name: string;
  /** Clone URL (https://, ssh://, git@host:path, file://) or an absolute local path; required to create. */
  url?: string;
  /** Default 'main' when creating. */
  defaultBranch?: string;
  /** Webhook secrets to add; every secret stays accepted until removed (rotation without lost deliveries). */
  addWebhookSecrets?: string[];
  /** Webhook secrets to remove, by WebhookSecretInfo.id. */
  removeWebhookSecrets?: string[];
  /** Job secrets: a value sets (or replaces) it, null removes it; names not listed are unchanged. */
  secrets?: Record<string, string | null>;
  /** Triggers per minute as `30/min`, `2/s` or `100/h`; null or '' removes the limit. */
  rateLimit?: string | null;
  /** Branch glob → priority; null removes the glob; globs not listed are unchanged. */
  priority?: Record<string, Priority | null>;
  /** Optional: commit-status reporting (API URL, write-only token, per-job statuses). */
  forge?: RepositoryForgeInput;
  /** Poll-only repositories: how often the remote is listed, as `60s`, `5m` (or ms); null or '' restores the default (60 s). */
  pollInterval?: string | number | null;
  /** A whole number from 1; null or '' restores the default (3000). */
  maxChangedFiles?: number | null;
  /** Keep every failed job of this repository for debugging. */
  debugFailures?: boolean;
}

/** Server-wide settings; omitted fields are unchanged. */
export interface ServerSettingsInput {
  /** The smee.io channel URL; null or '' removes the tunnel. */
  tunnelUrl?: string | null;
  concurrency?: { jobs?: number; perRepository?: number };
  /** Durations as `30d`, `24h`, `90m` (or ms); the cache size as `10GB`, `512MiB` (or bytes). */
  retention?: { artifacts?: string | number; caches?: string | number; cacheSize?: string | number; workspaces?: string | number };
  /** Optional: the dashboard's public URL, linked from commit statuses (target_url); null or '' removes it. */
  publicUrl?: string | null;
  /** How long a failed job of a run with debug stays up, as `30m`, `2h` (or ms); null or '' restores the default (30 min). */
  debugKeep?: string | number | null;
  /** How often every repository's remote refs are listed (catch-up.interval), as `5m` (or ms); null or '' restores the default (5 min). */
  catchUpInterval?: string | number | null;
}
