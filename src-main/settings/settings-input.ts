/**
 * Checks what the settings calls receive (from HTTP bodies and IPC, so typed as unknown) and turns
 * it into normalised changes. Every problem is an ApiError('BAD_REQUEST') whose message starts
 * with the field as kiln.config.yml names it, e.g. `repositories[acme/web].url: …`.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ApiError } from '../../shared/api/engine-api.js';
import { PRIORITIES, type Priority } from '../../shared/model/status.js';
import { parseRate, parseSize } from './config-file.js';
import { parseDuration } from '../pipeline/duration.js';
import type { YamlValue } from './config-document.js';
import { ENV_NAME } from '../../shared/model/env-name.js';

export const REPO_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const MAX_SECRET_BYTES = 64 * 1024;

export interface RepositoryChange {
  name: string;
  url?: string;
  defaultBranch?: string;
  addWebhookSecrets: string[];
  removeWebhookSecrets: string[];
  secrets: Record<string, string | null>;
  /** As written to the file (`30/min`); null removes the limit. */
  rateLimit?: string | null;
  /** Branch glob → level; null removes the glob. */
  priority: Record<string, Priority | null>;
  /** Commit-status reporting: apiUrl null restores the default; token null removes it (to the vault otherwise). */
  forge?: { apiUrl?: string | null; token?: string | null; jobStatuses?: boolean; prComment?: boolean };
  /** As written to the file (`60s`, or ms); null removes it (the default applies). */
  pollInterval?: YamlValue | null;
  /** null removes it (the default applies). */
  maxChangedFiles?: number | null;
  debugFailures?: boolean;
}

export interface ServerChange {
  tunnelUrl?: string | null;
  publicUrl?: string | null;
  jobs?: number;
  perRepository?: number;
  /** Values as written to the file (the user's `30d`, or a number). */
  retention: Partial<Record<'artifacts' | 'caches' | 'cache-size' | 'workspaces', YamlValue>>;
  /** debug.keep as written to the file; null removes it (30 min). */
  debugKeep?: YamlValue | null;
  /** catch-up.interval as written to the file; null removes it (5 min). */
  catchUpInterval?: YamlValue | null;
}

/** Below this, listing a remote (catch-up, polling) would hammer it: the API refuses shorter intervals. */
const MIN_LISTING_INTERVAL_MS = 10_000;
/** Largest max-changed-files (GitHub's compare API stops at 3,000; a local diff can list more). */
const MAX_CHANGED_FILES = 1_000_000;

function bad(field: string, message: string): ApiError {
  return new ApiError('BAD_REQUEST', `${field}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw bad(where, `unknown field '${key}' (known: ${allowed.join(', ')})`);
  }
}

export function checkRepositoryName(name: unknown, field = 'repositories[].name'): string {
  if (typeof name !== 'string' || !REPO_NAME.test(name)) {
    throw bad(field, `must be owner/name as in the webhook's repository.full_name (letters, digits, '.', '_', '-'), got ${JSON.stringify(name) ?? 'nothing'}`);
  }
  return name;
}

/** Clone URLs git understands, or an absolute path to a repository on this machine. */
function checkUrl(url: unknown, field: string): string {
  if (typeof url !== 'string' || url.trim() === '') throw bad(field, 'must be a clone URL (https://…, ssh://…, git@host:owner/repo.git) or an absolute local path');
  if (url !== url.trim() || /[\0\r\n]/.test(url)) throw bad(field, 'must not contain spaces at its ends or line breaks');
  if (/^(https?|ssh|git|file):\/\/[^\s]+$/i.test(url)) return url;
  if (/^[\w.-]+@[\w.-]+:[^\s]+$/.test(url)) return url;
  if (isAbsolute(url)) {
    if (!existsSync(url)) throw bad(field, `${url} does not exist on this machine`);
    return url;
  }
  throw bad(field, `'${url}' is neither a clone URL (https://…, ssh://…, git@host:owner/repo.git) nor an absolute local path`);
}

/** git check-ref-format's rules, for a branch name. */
function checkBranch(branch: unknown, field: string): string {
  if (typeof branch !== 'string' || branch === '') throw bad(field, 'must be a branch name, e.g. main');
  if (/[\s~^:?*[\\\x00-\x1f\x7f]|\.\.|@\{|^[-/.]|\/$|\.lock$|\/\/|\.$/.test(branch)) throw bad(field, `'${branch}' is not a valid git branch name`);
  return branch;
}

function checkSecretValue(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw bad(field, 'must be a non-empty string (null removes the secret)');
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw bad(field, `is longer than ${MAX_SECRET_BYTES / 1024} KiB`);
  return value;
}

export function checkRepositoryInput(input: unknown): RepositoryChange {
  if (!isObject(input)) throw new ApiError('BAD_REQUEST', 'saveRepository takes an object {name, url?, defaultBranch?, addWebhookSecrets?, removeWebhookSecrets?, secrets?, rateLimit?, priority?, forge?, pollInterval?, maxChangedFiles?, debugFailures?}');
  const name = checkRepositoryName(input.name);
  const at = (key: string): string => `repositories[${name}].${key}`;
  onlyKeys(input, ['name', 'url', 'defaultBranch', 'addWebhookSecrets', 'removeWebhookSecrets', 'secrets', 'rateLimit', 'priority', 'forge', 'pollInterval', 'maxChangedFiles', 'debugFailures'], `repositories[${name}]`);
  const change: RepositoryChange = { name, addWebhookSecrets: [], removeWebhookSecrets: [], secrets: {}, priority: {} };
  if (input.forge !== undefined) change.forge = checkForgeInput(input.forge, at('forge'));
  if (input.rateLimit !== undefined) {
    const rate = input.rateLimit;
    if (rate === null || rate === '') change.rateLimit = null;
    else if (typeof rate !== 'string' || parseRate(rate) === undefined) throw bad(at('rate-limit'), `${JSON.stringify(rate)} is not a rate (use e.g. 30/min, 2/s, 100/h; empty removes the limit)`);
    else change.rateLimit = rate.trim();
  }
  if (input.priority !== undefined) {
    if (!isObject(input.priority)) throw bad(at('priority'), 'must be an object of branch glob → low | normal | high | critical (or null to remove)');
    for (const [glob, level] of Object.entries(input.priority)) {
      if (glob.trim() === '' || glob !== glob.trim() || /[\0-\x1f\x7f]/.test(glob)) throw bad(at('priority'), `${JSON.stringify(glob)} is not a branch glob (e.g. main, release/*)`);
      if (level !== null && !PRIORITIES.includes(level as Priority)) throw bad(`${at('priority')}.${glob}`, `must be one of ${PRIORITIES.join(', ')} (or null to remove), got ${JSON.stringify(level)}`);
      change.priority[glob] = level as Priority | null;
    }
  }
  if (input.pollInterval !== undefined) change.pollInterval = optionalInterval(input.pollInterval, at('poll-interval'));
  if (input.maxChangedFiles !== undefined) {
    const n = input.maxChangedFiles;
    if (n === null || n === '') change.maxChangedFiles = null;
    else if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CHANGED_FILES) {
      throw bad(at('max-changed-files'), `must be a whole number from 1 to ${MAX_CHANGED_FILES.toLocaleString('en')} (null or empty restores the default, 3000), got ${JSON.stringify(n)}`);
    } else change.maxChangedFiles = n;
  }
  if (input.debugFailures !== undefined) {
    if (typeof input.debugFailures !== 'boolean') throw bad(at('debug-failures'), `must be true or false, got ${JSON.stringify(input.debugFailures)}`);
    change.debugFailures = input.debugFailures;
  }
  if (input.url !== undefined) change.url = checkUrl(input.url, at('url'));
  if (input.defaultBranch !== undefined) change.defaultBranch = checkBranch(input.defaultBranch, at('default-branch'));
  if (input.addWebhookSecrets !== undefined) {
    if (!Array.isArray(input.addWebhookSecrets)) throw bad(at('webhook-secrets'), 'must be a list of secret values');
    change.addWebhookSecrets = input.addWebhookSecrets.map((v, i) => checkSecretValue(v, `${at('webhook-secrets')}[+${i}]`));
  }
  if (input.removeWebhookSecrets !== undefined) {
    if (!Array.isArray(input.removeWebhookSecrets) || !input.removeWebhookSecrets.every((id) => typeof id === 'string')) {
      throw bad(at('webhook-secrets'), 'removeWebhookSecrets must be a list of webhook secret ids');
    }
    change.removeWebhookSecrets = input.removeWebhookSecrets as string[];
  }
  if (input.secrets !== undefined) {
    if (!isObject(input.secrets)) throw bad(at('secrets'), 'must be an object of NAME → value (or null to remove)');
    for (const [key, value] of Object.entries(input.secrets)) {
      if (!ENV_NAME.test(key)) throw bad(at('secrets'), `'${key}' is not a valid secret name (letters, digits and _, not starting with a digit): it becomes an environment variable`);
      change.secrets[key] = value === null ? null : checkSecretValue(value, `${at('secrets')}.${key}`);
    }
  }
  return change;
}

function checkHttpUrl(value: unknown, field: string, example: string): string {
  let parsed: URL | undefined;
  try { parsed = typeof value === 'string' ? new URL(value) : undefined; } catch { parsed = undefined; }
  if (!parsed || !/^https?:$/.test(parsed.protocol) || typeof value !== 'string' || value !== value.trim()) {
    throw bad(field, `must be an http(s) URL (${example}), got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

function checkForgeInput(input: unknown, field: string): NonNullable<RepositoryChange['forge']> {
  if (!isObject(input)) throw bad(field, 'must be an object {apiUrl?, token?, jobStatuses?, prComment?}');
  onlyKeys(input, ['apiUrl', 'token', 'jobStatuses', 'prComment'], field);
  const out: NonNullable<RepositoryChange['forge']> = {};
  if (input.apiUrl !== undefined) {
    out.apiUrl = input.apiUrl === null || input.apiUrl === '' ? null : checkHttpUrl(input.apiUrl, `${field}.api-url`, 'https://api.github.com, https://HOST/api/v3 for GitHub Enterprise, https://HOST/api/v1 for Gitea and Forgejo');
  }
  if (input.token !== undefined) {
    // Never echo the value: it is a credential.
    if (input.token === null || input.token === '') out.token = null;
    else if (typeof input.token !== 'string' || /\s/.test(input.token) || input.token.length > 1024) throw bad(`${field}.token`, 'must be the API token as the forge shows it (no spaces or line breaks, at most 1024 characters)');
    else out.token = input.token;
  }
  if (input.jobStatuses !== undefined) {
    if (typeof input.jobStatuses !== 'boolean') throw bad(`${field}.job-statuses`, `must be true or false, got ${JSON.stringify(input.jobStatuses)}`);
    out.jobStatuses = input.jobStatuses;
  }
  if (input.prComment !== undefined) {
    if (typeof input.prComment !== 'boolean') throw bad(`${field}.pr-comment`, `must be true or false, got ${JSON.stringify(input.prComment)}`);
    out.prComment = input.prComment;
  }
  return out;
}

function checkLimit(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 256) throw bad(field, `must be a whole number from 1 to 256, got ${JSON.stringify(v)}`);
  return v;
}

/** A duration as it goes into the file: the user's text (`30d`) or a number of ms. */
function durationOf(v: unknown, field: string): YamlValue {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  if (typeof v !== 'string' || parseDuration(v) === undefined) throw bad(field, `${JSON.stringify(v)} is not a duration (use e.g. 30d, 24h, 15m, 90s)`);
  return v.trim();
}

/** A listing interval (poll-interval, catch-up.interval) as it goes into the file; null or '' removes it. */
function optionalInterval(v: unknown, field: string): YamlValue | null {
  if (v === null || v === '') return null;
  const value = durationOf(v, field);
  const ms = typeof value === 'number' ? value : parseDuration(value) ?? 0;
  if (ms < MIN_LISTING_INTERVAL_MS) throw bad(field, `${JSON.stringify(v)} is too short: the remote would be listed more often than every ${MIN_LISTING_INTERVAL_MS / 1000} s (use e.g. 60s, 5m)`);
  return value;
}

/** A size as it goes into the file: the user's text (`10GB`) or a number of bytes. */
function sizeOf(v: unknown, field: string): YamlValue {
  const bytes = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
  if (bytes === undefined || bytes <= 0) throw bad(field, `${JSON.stringify(v)} is not a size (use e.g. 10GB, 512MiB)`);
  return typeof v === 'string' ? v.trim() : bytes;
}

/** `current` is the effective concurrency, to check per-repository against jobs when only one changes. */
export function checkServerInput(input: unknown, current: { jobs: number; perRepository: number }): ServerChange {
  if (!isObject(input)) throw new ApiError('BAD_REQUEST', 'saveServerSettings takes an object {tunnelUrl?, concurrency?, retention?, publicUrl?, debugKeep?, catchUpInterval?}');
  onlyKeys(input, ['tunnelUrl', 'concurrency', 'retention', 'publicUrl', 'debugKeep', 'catchUpInterval'], 'settings');
  const change: ServerChange = { retention: {} };
  if (input.debugKeep !== undefined) change.debugKeep = input.debugKeep === null || input.debugKeep === '' ? null : durationOf(input.debugKeep, 'debug.keep');
  if (input.catchUpInterval !== undefined) change.catchUpInterval = optionalInterval(input.catchUpInterval, 'catch-up.interval');
  if (input.publicUrl !== undefined) {
    change.publicUrl = input.publicUrl === null || input.publicUrl === '' ? null : checkHttpUrl(input.publicUrl, 'server.public-url', 'the dashboard as your team reaches it, e.g. https://kiln.example.com');
  }
  if (input.tunnelUrl !== undefined) {
    const url = input.tunnelUrl;
    if (url === null || url === '') change.tunnelUrl = null;
    else {
      let parsed: URL | undefined;
      try { parsed = typeof url === 'string' ? new URL(url) : undefined; } catch { parsed = undefined; }
      if (!parsed || !/^https?:$/.test(parsed.protocol) || typeof url !== 'string' || url !== url.trim()) {
        throw bad('tunnel.url', `must be an https:// smee.io channel URL (e.g. https://smee.io/your-channel), got ${JSON.stringify(url)}`);
      }
      change.tunnelUrl = url;
    }
  }
  if (input.concurrency !== undefined) {
    if (!isObject(input.concurrency)) throw bad('concurrency', 'must be an object {jobs?, perRepository?}');
    onlyKeys(input.concurrency, ['jobs', 'perRepository'], 'concurrency');
    if (input.concurrency.jobs !== undefined) change.jobs = checkLimit(input.concurrency.jobs, 'concurrency.jobs');
    if (input.concurrency.perRepository !== undefined) change.perRepository = checkLimit(input.concurrency.perRepository, 'concurrency.per-repository');
    const jobs = change.jobs ?? current.jobs;
    const per = change.perRepository ?? current.perRepository;
    if (per > jobs) throw bad('concurrency.per-repository', `${per} is more than concurrency.jobs (${jobs}): a repository cannot run more jobs than the whole engine`);
  }
  if (input.retention !== undefined) {
    const r = input.retention;
    if (!isObject(r)) throw bad('retention', 'must be an object {artifacts?, caches?, cacheSize?, workspaces?}');
    onlyKeys(r, ['artifacts', 'caches', 'cacheSize', 'workspaces'], 'retention');
    if (r.artifacts !== undefined) change.retention.artifacts = durationOf(r.artifacts, 'retention.artifacts');
    if (r.caches !== undefined) change.retention.caches = durationOf(r.caches, 'retention.caches');
    if (r.workspaces !== undefined) change.retention.workspaces = durationOf(r.workspaces, 'retention.workspaces');
    if (r.cacheSize !== undefined) change.retention['cache-size'] = sizeOf(r.cacheSize, 'retention.cache-size');
  }
  return change;
}
