/**
 * kiln.config.yml → KilnConfig. Problems are diagnostics with FILE:LINE:COL, never exceptions:
 * the structure is checked by a JSON schema (ajv), values (durations, sizes, rates, priorities)
 * by hand so that each message names the field and the expected form.
 *
 * Secrets: the file is the user's and stays where it is; Kiln reads secret values from it into
 * memory only and never writes them to its database or logs.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import type { Diagnostic, DiagnosticCode } from '../../shared/diagnostics.js';
import { PRIORITIES, type Priority } from '../../shared/model/status.js';
import type { KilnConfig, RepositoryConfig } from '../core/engine-contract.js';
import { fieldName, keyPositionOf, positionOf, type Path, type YamlSource } from '../pipeline/yaml-source.js';
import { parseDuration } from '../pipeline/duration.js';
import { ENV_NAME_PATTERN } from '../../shared/model/env-name.js';
import { ENGINES_SCHEMA, parseEngines } from './engines-config.js';

export const CONFIG_FILE = 'kiln.config.yml';

/** The embedded defaults: no repositories, HTTP on 127.0.0.1:7070, 4 jobs (2 per repository). */
export function defaultConfig(): KilnConfig {
  return {
    server: { host: '127.0.0.1', port: 7070 },
    concurrency: { jobs: 4, perRepository: 2 },
    retention: { artifactsMs: 30 * DAY, cachesMs: 30 * DAY, cacheSizeBytes: 10 * 1024 ** 3, workspacesMs: 24 * HOUR },
    webhooks: { maxAgeMs: 5 * 60_000, replayWindowMs: 3 * DAY, maxBodyBytes: 25 * 1024 ** 2 },
    repositories: [],
  };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const str = { type: 'string', minLength: 1 };
const durationOrNumber = { type: ['string', 'number'] };
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    server: { type: 'object', additionalProperties: false, properties: { host: str, port: { type: 'integer', minimum: 0, maximum: 65535 }, 'api-token': str, 'allowed-hosts': { type: 'array', items: str }, 'public-url': str } },
    tunnel: { type: ['object', 'null'], additionalProperties: false, required: ['url'], properties: { url: str } },
    concurrency: { type: 'object', additionalProperties: false, properties: { jobs: { type: 'integer', minimum: 1, maximum: 256 }, 'per-repository': { type: 'integer', minimum: 1, maximum: 256 } } },
    retention: { type: 'object', additionalProperties: false, properties: { artifacts: durationOrNumber, caches: durationOrNumber, 'cache-size': durationOrNumber, workspaces: durationOrNumber } },
    disk: { type: 'object', additionalProperties: false, properties: { 'min-free': durationOrNumber, 'min-free-percent': { type: 'number', minimum: 0, maximum: 90 }, reserve: durationOrNumber, 'check-interval': durationOrNumber } },
    webhooks: { type: 'object', additionalProperties: false, properties: { 'max-age': durationOrNumber, 'replay-window': durationOrNumber, 'max-body': durationOrNumber } },
    'catch-up': { type: 'object', additionalProperties: false, properties: { interval: durationOrNumber, 'clock-check': durationOrNumber } },
    debug: { type: 'object', additionalProperties: false, properties: { keep: durationOrNumber } },
    repositories: {
      type: ['array', 'null'],
      items: {
        type: 'object', additionalProperties: false, required: ['name', 'url'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$' },
          url: str,
          'default-branch': str,
          'webhook-secrets': { type: 'array', items: str },
          'webhook-secret': str,
          secrets: { type: ['object', 'null'], propertyNames: { pattern: ENV_NAME_PATTERN }, additionalProperties: { type: ['string', 'number', 'boolean'] } },
          'rate-limit': { type: ['string', 'number'] },
          priority: { type: ['object', 'null'], additionalProperties: { enum: PRIORITIES } },
          credentials: { type: 'object', additionalProperties: false, properties: { username: str, password: str, 'ssh-key-file': str } },
          forge: { type: 'object', additionalProperties: false, properties: { 'api-url': str, token: str, 'job-statuses': { type: 'boolean' }, 'pr-comment': { type: 'boolean' } } },
          'poll-interval': durationOrNumber,
          'max-changed-files': { type: 'integer', minimum: 1 },
          'debug-failures': { type: 'boolean' },
        },
      },
    },
    engines: ENGINES_SCHEMA,
  },
};

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validate = ajv.compile(SCHEMA);

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** `10GB`, `512MiB`, `1000` (bytes) → bytes; undefined when malformed. GB is 10^9, GiB 2^30. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const v = Math.round(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** `30/min`, `2/s`, `100/hour` → triggers per minute; undefined when malformed. */
export function parseRate(text: string | number): number | undefined {
  if (typeof text === 'number') return text > 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*$/i.exec(text);
  if (!m || Number(m[1]) <= 0) return undefined;
  const per = m[2].toLowerCase();
  const factor = per.startsWith('s') ? 60 : per.startsWith('h') ? 1 / 60 : 1;
  return Number(m[1]) * factor;
}

/**
 * Scalars as text. The configuration is used only when the schema passed, so these see the right
 * types then; before that they must not throw on what the schema rejects (`{ toString: 1 }`).
 */
const scalarText = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
const scalarNumber = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);

function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `'${String(value)}'`;
}

function pathOf(e: ErrorObject, data: unknown): Path {
  const path: Path = [];
  let cur: unknown = data;
  for (const raw of e.instancePath ? e.instancePath.slice(1).split('/') : []) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: string | number = Array.isArray(cur) ? Number(seg) : seg;
    path.push(key);
    cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[key] : undefined;
  }
  return path;
}

class Collector {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly source: YamlSource) {}
  add(code: DiagnosticCode, path: Path, message: string, atKey = false): void {
    const pos = atKey ? keyPositionOf(this.source, path) : positionOf(this.source, path);
    this.diagnostics.push({ code, severity: 'error', message, file: this.source.file, line: pos.line, col: pos.col });
  }
}

function schemaDiagnostics(errors: readonly ErrorObject[], source: YamlSource, out: Collector): void {
  for (const e of errors) {
    const path = pathOf(e, source.data);
    const where = fieldName(path);
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      out.add('UNKNOWN_KEY', [...path, String(p.additionalProperty)], `unknown key '${String(p.additionalProperty)}' in ${where}${known.length ? ` (known keys: ${known.join(', ')})` : ''}`, true);
    } else if (e.keyword === 'required') out.add('MISSING_KEY', path, `${where} is missing required key '${String(p.missingProperty)}'`, true);
    else if (e.keyword === 'type') out.add('WRONG_TYPE', path, `${where} must be ${String(p.type).replace(/,/g, ' or ')}, got ${describe(e.data)}`);
    else if (e.keyword === 'enum') out.add('INVALID_VALUE', path, `${where} must be one of ${PRIORITIES.join(', ')}, got ${describe(e.data)}`);
    else if (e.keyword === 'pattern' && path.includes('secrets')) out.add('INVALID_VALUE', path, `${where}: '${e.propertyName ?? ''}' is not a valid secret name (letters, digits and _)`, true);
    else if (e.keyword === 'pattern' && path[0] === 'engines') out.add('INVALID_VALUE', path, `${where} must be letters, digits, '.', '_' or '-', got ${describe(e.data)}`);
    else if (e.keyword === 'pattern') out.add('INVALID_VALUE', path, `${where} must be owner/name as in the webhook's repository.full_name, got ${describe(e.data)}`);
    else if (e.keyword === 'propertyNames') continue;
    else out.add('INVALID_VALUE', path, `${where} ${e.message ?? 'is invalid'}`);
  }
}

type Raw = Record<string, unknown>;

/** Parses configuration text (exported for tests and the desktop settings). Never throws. */
export function parseConfig(text: string, file: string): { config?: KilnConfig; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const syntax: Diagnostic[] = doc.errors.map((err) => {
    const pos = lineCounter.linePos(err.pos[0]);
    return { code: 'YAML_SYNTAX', severity: 'error', message: `YAML syntax error: ${err.message.replace(/ at line \d+, column \d+[\s\S]*$/, '')}`, file, line: pos.line, col: pos.col };
  });
  if (syntax.length) return { diagnostics: syntax };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // Excessive alias expansion and the like: a diagnostic, never a crash.
    return { diagnostics: [{ code: 'YAML_SYNTAX', severity: 'error', message: `cannot read YAML: ${(err as Error).message}`, file, line: 1, col: 1 }] };
  }
  const source: YamlSource = { file, text, doc, lineCounter, data };
  const out = new Collector(source);
  // Shape and values are checked in one pass so that one `kiln serve` shows every problem: the value
  // checks below skip what is not a string or number, which the schema has reported already.
  if (!validate(data)) schemaDiagnostics(validate.errors ?? [], source, out);
  const raw = (data && typeof data === 'object' ? data : {}) as Raw;
  const checkable = (value: unknown): value is string | number => typeof value === 'string' || typeof value === 'number';
  const config = defaultConfig();
  const section = (name: string) => (raw[name] && typeof raw[name] === 'object' ? raw[name] : {}) as Raw;
  const server = section('server');
  if (server.host !== undefined) config.server.host = scalarText(server.host);
  if (server.port !== undefined) config.server.port = scalarNumber(server.port);
  if (server['api-token'] !== undefined) config.server.apiToken = scalarText(server['api-token']);
  if (Array.isArray(server['allowed-hosts'])) {
    // Names the HTTP server answers to besides 127.0.0.1/localhost/[::1] (see http/local-guard.ts).
    config.server.allowedHosts = (server['allowed-hosts'] as unknown[]).map(scalarText);
    config.server.allowedHosts.forEach((h, i) => {
      if (h !== '' && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$/.test(h)) out.add('INVALID_VALUE', ['server', 'allowed-hosts', i], `server.allowed-hosts: '${h}' is not a host name with an optional port (use e.g. ci.example.com or kiln.local:7070, without a scheme or path)`);
    });
  }
  if (typeof server['public-url'] === 'string') {
    if (httpUrl(server['public-url'])) config.server.publicUrl = server['public-url'].replace(/\/+$/, '');
    else out.add('INVALID_VALUE', ['server', 'public-url'], `server.public-url: ${describe(server['public-url'])} is not an http(s) URL (the dashboard as your team reaches it, e.g. https://kiln.example.com)`);
  }
  if (raw.tunnel && typeof raw.tunnel === 'object') config.tunnel = { url: scalarText((raw.tunnel as Raw).url) };
  const conc = section('concurrency');
  if (conc.jobs !== undefined) config.concurrency.jobs = scalarNumber(conc.jobs);
  if (conc['per-repository'] !== undefined) config.concurrency.perRepository = scalarNumber(conc['per-repository']);
  const duration = (path: Path, value: unknown, set: (ms: number) => void) => {
    if (!checkable(value)) return;
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || ms <= 0) out.add('INVALID_VALUE', path, `${fieldName(path)}: ${describe(value)} is not a duration (use e.g. 30d, 24h, 15m, 90s)`);
    else set(ms);
  };
  const size = (path: Path, value: unknown, set: (b: number) => void) => {
    if (!checkable(value)) return;
    const b = parseSize(value);
    if (b === undefined) out.add('INVALID_VALUE', path, `${fieldName(path)}: ${describe(value)} is not a size (use e.g. 10GB, 512MiB)`);
    else set(b);
  };
  const ret = section('retention');
  duration(['retention', 'artifacts'], ret.artifacts, (v) => { config.retention.artifactsMs = v; });
  duration(['retention', 'caches'], ret.caches, (v) => { config.retention.cachesMs = v; });
  duration(['retention', 'workspaces'], ret.workspaces, (v) => { config.retention.workspacesMs = v; });
  size(['retention', 'cache-size'], ret['cache-size'], (v) => { config.retention.cacheSizeBytes = v; });
  const disk = section('disk');
  const setDisk = (patch: NonNullable<KilnConfig['disk']>) => { config.disk = { ...config.disk, ...patch }; };
  size(['disk', 'min-free'], disk['min-free'], (v) => setDisk({ minFreeBytes: v }));
  if (typeof disk['min-free-percent'] === 'number' && disk['min-free-percent'] >= 0 && disk['min-free-percent'] <= 90) setDisk({ minFreePercent: disk['min-free-percent'] });
  if (disk.reserve === 0) setDisk({ reserveBytes: 0 });
  else size(['disk', 'reserve'], disk.reserve, (v) => setDisk({ reserveBytes: v }));
  duration(['disk', 'check-interval'], disk['check-interval'], (v) => setDisk({ checkIntervalMs: v }));
  const hooks = section('webhooks');
  duration(['webhooks', 'max-age'], hooks['max-age'], (v) => { config.webhooks.maxAgeMs = v; });
  duration(['webhooks', 'replay-window'], hooks['replay-window'], (v) => { config.webhooks.replayWindowMs = v; });
  size(['webhooks', 'max-body'], hooks['max-body'], (v) => { config.webhooks.maxBodyBytes = v; });
  duration(['debug', 'keep'], section('debug').keep, (v) => { config.debug = { keepMs: v }; });
  const catchUp = section('catch-up');
  duration(['catch-up', 'interval'], catchUp.interval, (v) => { config.catchUp = { intervalMs: v, clockCheckMs: config.catchUp?.clockCheckMs ?? 5_000 }; });
  duration(['catch-up', 'clock-check'], catchUp['clock-check'], (v) => { config.catchUp = { intervalMs: config.catchUp?.intervalMs ?? 5 * 60_000, clockCheckMs: v }; });
  if (config.concurrency.perRepository > config.concurrency.jobs) config.concurrency.perRepository = config.concurrency.jobs;

  const names = new Set<string>();
  (Array.isArray(raw.repositories) ? (raw.repositories as unknown[]) : []).forEach((item, i) => {
    if (!item || typeof item !== 'object') return;
    const r = item as Raw;
    const at = (key: string): Path => ['repositories', i, key];
    const name = scalarText(r.name);
    if (names.has(name)) out.add('INVALID_VALUE', at('name'), `repository '${name}' is configured twice`);
    names.add(name);
    const repo: RepositoryConfig = {
      name, url: scalarText(r.url), defaultBranch: r['default-branch'] === undefined ? 'main' : scalarText(r['default-branch']),
      webhookSecrets: [...(Array.isArray(r['webhook-secrets']) ? (r['webhook-secrets'] as unknown[]).map(scalarText) : []), ...(r['webhook-secret'] ? [scalarText(r['webhook-secret'])] : [])],
      secrets: Object.fromEntries(Object.entries((r.secrets && typeof r.secrets === 'object' ? r.secrets : {}) as Raw).map(([k, v]) => [k, scalarText(v)])),
      priority: { ...((r.priority && typeof r.priority === 'object' ? r.priority : {}) as Record<string, Priority>) },
    };
    if (checkable(r['rate-limit'])) {
      const rate = parseRate(r['rate-limit']);
      if (rate === undefined) out.add('INVALID_VALUE', at('rate-limit'), `${fieldName(at('rate-limit'))}: ${describe(r['rate-limit'])} is not a rate (use e.g. 30/min, 2/s)`);
      else repo.rateLimitPerMinute = rate;
    }
    const cred = r.credentials && typeof r.credentials === 'object' ? (r.credentials as Raw) : undefined;
    if (cred) {
      repo.credentials = {
        ...(cred.username ? { username: scalarText(cred.username) } : {}),
        ...(cred.password ? { password: scalarText(cred.password) } : {}),
        ...(cred['ssh-key-file'] ? { sshKeyFile: scalarText(cred['ssh-key-file']) } : {}),
      };
    }
    const forge = r.forge && typeof r.forge === 'object' ? (r.forge as Raw) : undefined;
    if (forge) {
      const apiUrl = typeof forge['api-url'] === 'string' ? forge['api-url'].replace(/\/+$/, '') : 'https://api.github.com';
      if (!httpUrl(apiUrl)) out.add('INVALID_VALUE', [...at('forge'), 'api-url'], `${fieldName([...at('forge'), 'api-url'])}: ${describe(forge['api-url'])} is not an http(s) URL (https://api.github.com, https://HOST/api/v3 or https://HOST/api/v1)`);
      repo.forge = {
        apiUrl, jobStatuses: forge['job-statuses'] === true, ...(forge['pr-comment'] === false ? { prComment: false } : {}),
        ...(typeof forge.token === 'string' ? { token: forge.token } : {}),
      };
    }
    duration(at('poll-interval'), r['poll-interval'], (v) => { repo.pollIntervalMs = v; });
    if (typeof r['max-changed-files'] === 'number') repo.maxChangedFiles = r['max-changed-files'];
    if (r['debug-failures'] === true) repo.debugFailures = true;
    config.repositories.push(repo);
  });
  const engines = parseEngines(raw.engines, file, (path, message) => out.add('INVALID_VALUE', path, message));
  if (engines?.length) config.engines = engines;
  if (out.diagnostics.length === 0) return { config, diagnostics: [] };
  return { diagnostics: out.diagnostics.sort((a, b) => a.line - b.line || a.col - b.col) };
}

function httpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'https:' || u.protocol === 'http:') && text === text.trim();
  } catch {
    return false;
  }
}

/** Reads kiln.config.yml; without a file, the embedded defaults. An unreadable file is a FILE diagnostic. */
export function loadConfig(file?: string): { config?: KilnConfig; diagnostics: Diagnostic[] } {
  if (file === undefined) return { config: defaultConfig(), diagnostics: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    return { diagnostics: [{ code: 'FILE', severity: 'error', message: `cannot read configuration: ${why}`, file, line: 0, col: 0 }] };
  }
  return parseConfig(text, file);
}
