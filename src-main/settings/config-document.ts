/**
 * Edits of the user's kiln.config.yml through yaml's Document API, so that comments, key order,
 * quoting and flow/block style of everything not edited survive. Every edit is one small change
 * to the document; `render()` checks the result with the same parser the engine starts with, and
 * `save()` writes it atomically (temp file + rename) with the file's own mode.
 *
 * Secret values are never written here: the settings service keeps them in the encrypted vault.
 * Removing a secret the user wrote in the file does remove it from the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Document, isMap, isScalar, isSeq, parseDocument, YAMLMap, YAMLSeq } from 'yaml';
import { ApiError } from '../../shared/api/engine-api.js';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import { parseConfig } from './config-file.js';
import type { EngineMaterialPart, KilnConfig } from '../core/engine-contract.js';
import type { IN_VAULT } from './engines-config.js';
import { writeFileAtomic } from '../storage/secret-vault.js';

const HEADER = ` Kiln configuration. The Settings page edits this file and keeps your comments and order;
 secret values set there are stored encrypted in secrets.json beside the database, not here.`;

/** A YAML scalar value as kiln.config.yml writes it. */
export type YamlValue = string | number;

const DEFAULT_FORGE_API = 'https://api.github.com';

export class ConfigDocument {
  private constructor(readonly file: string, private readonly doc: Document, readonly existed: boolean, private readonly mode: number) {}

  /** Reads `file`; when it does not exist, a new document with `current`'s settings (and no secrets). */
  static open(file: string, current: KilnConfig): ConfigDocument {
    if (!existsSync(file)) return new ConfigDocument(file, freshDocument(current), false, 0o600);
    const text = readFileSync(file, 'utf8');
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length) {
      throw new ApiError('BAD_REQUEST', `${file} has a YAML error (${doc.errors[0].message.split('\n')[0]}): fix the file before saving settings`);
    }
    return new ConfigDocument(file, doc, true, statSync(file).mode & 0o777);
  }

  private repoItem(name: string): YAMLMap | undefined {
    const seq = this.doc.get('repositories', true);
    if (!isSeq(seq)) return undefined;
    return seq.items.find((item): item is YAMLMap => isMap(item) && String(item.get('name')) === name);
  }

  hasRepository(name: string): boolean {
    return this.repoItem(name) !== undefined;
  }

  /** Updates the given fields of a repository, or appends a new one (block style) when it is not listed. */
  setRepository(name: string, fields: {
    url?: string; defaultBranch?: string; rateLimit?: string | null; priority?: Record<string, string | null>;
    forge?: { apiUrl?: string | null; jobStatuses?: boolean; prComment?: boolean; dropToken?: boolean };
    pollInterval?: YamlValue | null; maxChangedFiles?: number | null; debugFailures?: boolean;
  }): void {
    let item = this.repoItem(name);
    if (!item) {
      let seq = this.doc.get('repositories', true);
      if (!isSeq(seq)) {
        seq = new YAMLSeq();
        this.doc.set('repositories', seq);
      }
      const repos = seq as YAMLSeq;
      repos.flow = false;
      item = this.doc.createNode({ name }) as YAMLMap;
      repos.add(item);
    }
    if (fields.url !== undefined) item.set('url', fields.url);
    if (fields.defaultBranch !== undefined) item.set('default-branch', fields.defaultBranch);
    if (fields.rateLimit === null) item.delete('rate-limit');
    else if (fields.rateLimit !== undefined) item.set('rate-limit', fields.rateLimit);
    if (fields.pollInterval === null) item.delete('poll-interval');
    else if (fields.pollInterval !== undefined) item.set('poll-interval', fields.pollInterval);
    if (fields.maxChangedFiles === null) item.delete('max-changed-files');
    else if (fields.maxChangedFiles !== undefined) item.set('max-changed-files', fields.maxChangedFiles);
    // false is the default: the key goes rather than staying as noise.
    if (fields.debugFailures === true) item.set('debug-failures', true);
    else if (fields.debugFailures === false) item.delete('debug-failures');
    for (const [glob, level] of Object.entries(fields.priority ?? {})) {
      const map = item.get('priority', true);
      if (level === null) {
        if (isMap(map)) map.delete(glob);
      } else if (isMap(map)) map.set(glob, level);
      else item.set('priority', this.doc.createNode({ [glob]: level }));
    }
    const priority = item.get('priority', true);
    if (isMap(priority) && priority.items.length === 0) item.delete('priority');
    if (fields.forge) this.setForge(item, fields.forge);
  }

  /** The repository's `forge:` block; a token set through the API moves to the vault, so it leaves the file. */
  private setForge(item: YAMLMap, f: { apiUrl?: string | null; jobStatuses?: boolean; prComment?: boolean; dropToken?: boolean }): void {
    const existing: unknown = item.get('forge', true);
    let forge: YAMLMap;
    if (isMap(existing)) forge = existing;
    else {
      if (f.apiUrl === undefined && f.jobStatuses === undefined && f.prComment === undefined) return;
      forge = this.doc.createNode({}) as YAMLMap;
      item.set('forge', forge);
    }
    if (f.apiUrl === null) forge.delete('api-url');
    else if (f.apiUrl !== undefined) forge.set('api-url', f.apiUrl);
    if (f.jobStatuses !== undefined) forge.set('job-statuses', f.jobStatuses);
    if (f.prComment === true) forge.delete('pr-comment');
    else if (f.prComment === false) forge.set('pr-comment', false);
    if (f.dropToken) forge.delete('token');
    if (forge.items.length === 0) item.delete('forge');
  }

  removeRepository(name: string): boolean {
    const seq = this.doc.get('repositories', true);
    if (!isSeq(seq)) return false;
    const i = seq.items.findIndex((item) => isMap(item) && String(item.get('name')) === name);
    if (i < 0) return false;
    seq.items.splice(i, 1);
    return true;
  }

  private engineItems(): YAMLMap[] {
    const seq = this.doc.get('engines', true);
    return isSeq(seq) ? seq.items.filter((item): item is YAMLMap => isMap(item)) : [];
  }

  /** Renames an engine's entry in place (its other fields and comments stay). */
  renameEngine(from: string, to: string): boolean {
    const item = this.engineItems().find((e) => String(e.get('name')) === from);
    item?.set('name', to);
    return item !== undefined;
  }

  /** The names under `engines:`, in order (the index is the one field names use: engines[1].address). */
  engineNames(): string[] {
    return this.engineItems().map((item) => String(item.get('name')));
  }

  /**
   * Updates an engine's fields, or appends it. A material part is `vault` (kept in the secret vault)
   * or null (removed, from the file as well); the text itself is never written here.
   */
  setEngine(name: string, fields: { address?: string; limit?: number | null; labels?: string[]; hostKey?: string | null; material: Partial<Record<EngineMaterialPart, typeof IN_VAULT | null>> }): void {
    let item = this.engineItems().find((e) => String(e.get('name')) === name);
    if (!item) {
      let seq = this.doc.get('engines', true);
      if (!isSeq(seq)) {
        seq = new YAMLSeq();
        this.doc.set('engines', seq);
      }
      (seq as YAMLSeq).flow = false;
      item = this.doc.createNode({ name }) as YAMLMap;
      (seq as YAMLSeq).add(item);
    }
    if (fields.address !== undefined) item.set('address', fields.address);
    if (fields.limit === null) item.delete('limit');
    else if (fields.limit !== undefined) item.set('limit', fields.limit);
    if (fields.labels !== undefined) {
      if (fields.labels.length === 0) item.delete('labels');
      else {
        const labels = this.doc.createNode(fields.labels) as YAMLSeq;
        labels.flow = true;
        item.set('labels', labels);
      }
    }
    if (fields.hostKey === null) item.delete('host-key');
    else if (fields.hostKey !== undefined) item.set('host-key', fields.hostKey);
    for (const part of ['ca', 'cert', 'key'] as const) {
      const value = fields.material[part];
      if (value === undefined) continue;
      const found: unknown = item.get('tls', true);
      let map: YAMLMap;
      if (isMap(found)) map = found;
      else {
        if (value === null) continue;
        map = this.doc.createNode({}) as YAMLMap;
        map.flow = true;
        item.set('tls', map);
      }
      if (value === null) map.delete(part);
      else map.set(part, value);
      if (map.items.length === 0) item.delete('tls');
    }
    if (fields.material.sshKey === null) item.delete('ssh-key');
    else if (fields.material.sshKey !== undefined) item.set('ssh-key', fields.material.sshKey);
  }

  removeEngine(name: string): boolean {
    const seq = this.doc.get('engines', true);
    if (!isSeq(seq)) return false;
    const i = seq.items.findIndex((item) => isMap(item) && String(item.get('name')) === name);
    if (i < 0) return false;
    seq.items.splice(i, 1);
    // An empty list would mean "no engine at all"; without the key Kiln uses the engine docker uses.
    if (seq.items.length === 0) this.doc.delete('engines');
    return true;
  }

  /** Removes a job secret written in the file (no-op when it is not there). */
  removeSecret(repo: string, secret: string): void {
    const map = this.repoItem(repo)?.get('secrets', true);
    if (!isMap(map)) return;
    map.delete(secret);
    if (map.items.length === 0) this.repoItem(repo)?.delete('secrets');
  }

  /** Removes a webhook secret written in the file, found by its value (webhook-secrets or webhook-secret). */
  removeWebhookSecret(repo: string, value: string): void {
    const item = this.repoItem(repo);
    if (!item) return;
    const seq = item.get('webhook-secrets', true);
    if (isSeq(seq)) {
      const i = seq.items.findIndex((n) => isScalar(n) && String(n.value) === value);
      if (i >= 0) seq.items.splice(i, 1);
      if (seq.items.length === 0) item.delete('webhook-secrets');
    }
    const single = item.get('webhook-secret', true);
    if (isScalar(single) && String(single.value) === value) item.delete('webhook-secret');
  }

  setPublicUrl(url: string | null): void {
    const server = this.doc.get('server', true);
    if (url !== null) this.setIn('server', 'public-url', url);
    else if (isMap(server)) {
      server.delete('public-url');
      if (server.items.length === 0) this.doc.delete('server');
    }
  }

  setTunnel(url: string | null): void {
    if (url === null) this.doc.delete('tunnel');
    else this.setIn('tunnel', 'url', url);
  }

  /** Sets `section.key`, making `section` a mapping when it is missing or empty. */
  setIn(section: string, key: string, value: YamlValue): void {
    const node = this.doc.get(section, true);
    if (isMap(node)) node.set(key, value);
    else this.doc.set(section, this.doc.createNode({ [key]: value }));
  }

  /** Removes `section.key`, and the section when nothing is left in it. */
  deleteIn(section: string, key: string): void {
    const node = this.doc.get(section, true);
    if (!isMap(node)) return;
    node.delete(key);
    if (node.items.length === 0) this.doc.delete(section);
  }

  /** The new text, checked with the engine's own parser: a file that would not load is never written. */
  render(): { text: string; config: KilnConfig } {
    const text = this.doc.toString({ lineWidth: 0 });
    const parsed = parseConfig(text, this.file);
    if (!parsed.config) {
      const first = parsed.diagnostics[0];
      throw new ApiError('BAD_REQUEST', first ? `the saved configuration would not load: ${formatDiagnostic(first)}` : `the saved configuration would not load`);
    }
    return { text, config: parsed.config };
  }

  save(text: string): void {
    writeFileAtomic(this.file, text, this.mode);
  }
}

function freshDocument(config: KilnConfig): Document {
  const data: Record<string, unknown> = {};
  if (config.tunnel) data.tunnel = { url: config.tunnel.url };
  data.concurrency = { jobs: config.concurrency.jobs, 'per-repository': config.concurrency.perRepository };
  const r = config.retention;
  data.retention = { artifacts: durationValue(r.artifactsMs), caches: durationValue(r.cachesMs), 'cache-size': sizeValue(r.cacheSizeBytes), workspaces: durationValue(r.workspacesMs) };
  data.repositories = config.repositories.map((repo) => ({
    name: repo.name, url: repo.url, 'default-branch': repo.defaultBranch,
    ...(repo.rateLimitPerMinute !== undefined ? { 'rate-limit': `${repo.rateLimitPerMinute}/min` } : {}),
    ...(Object.keys(repo.priority).length ? { priority: { ...repo.priority } } : {}),
    ...(repo.pollIntervalMs !== undefined ? { 'poll-interval': durationValue(repo.pollIntervalMs) } : {}),
    ...(repo.maxChangedFiles !== undefined ? { 'max-changed-files': repo.maxChangedFiles } : {}),
    ...(repo.debugFailures ? { 'debug-failures': true } : {}),
    // The token, like every secret, goes to the vault, not here.
    ...(repo.forge && (repo.forge.apiUrl !== DEFAULT_FORGE_API || repo.forge.jobStatuses || repo.forge.prComment === false)
      ? { forge: { ...(repo.forge.apiUrl !== DEFAULT_FORGE_API ? { 'api-url': repo.forge.apiUrl } : {}), ...(repo.forge.jobStatuses ? { 'job-statuses': true } : {}), ...(repo.forge.prComment === false ? { 'pr-comment': false } : {}) } } : {}),
  }));
  // Engines given in memory: their material moves to the vault with this first save (settings-service.ts).
  if (config.engines?.length) {
    data.engines = config.engines.map((e) => {
      const tls = Object.fromEntries((['ca', 'cert', 'key'] as const).filter((p) => e.tls?.[p] !== undefined).map((p) => [p, 'vault']));
      return {
        name: e.name, address: e.address, limit: e.limit, ...(e.labels.length ? { labels: [...e.labels] } : {}), ...(e.hostKey ? { 'host-key': e.hostKey } : {}),
        ...(Object.keys(tls).length ? { tls } : {}), ...(e.sshKey !== undefined ? { 'ssh-key': 'vault' } : {}),
      };
    });
  }
  const server: Record<string, unknown> = {};
  if (config.server.publicUrl) server['public-url'] = config.server.publicUrl;
  if (Object.keys(server).length) data.server = server;
  if (config.debug) data.debug = { keep: durationValue(config.debug.keepMs) };
  if (config.catchUp) data['catch-up'] = { interval: durationValue(config.catchUp.intervalMs), 'clock-check': durationValue(config.catchUp.clockCheckMs) };
  const doc = new Document(data);
  doc.commentBefore = HEADER;
  for (const key of ['tunnel', 'concurrency', 'retention', 'debug', 'catch-up']) {
    const node = doc.get(key, true);
    if (isMap(node)) node.flow = true;
  }
  return doc;
}

/** ms → `30d`, `1h30m`, `90s`; a number of ms when not whole seconds. */
export function durationValue(ms: number): YamlValue {
  if (ms % 1000 !== 0 || ms <= 0) return ms;
  let s = ms / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(s / size);
    if (n > 0) parts.push(`${n}${unit}`);
    s -= n * size;
  }
  return parts.join('');
}

/** bytes → `10GiB`, `500MB`; a number of bytes otherwise. */
export function sizeValue(bytes: number): YamlValue {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['TB', 1e12], ['GB', 1e9], ['MB', 1e6]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return bytes;
}
