/**
 * The settings the dashboard writes: repositories (with their webhook and job secrets, rate limit,
 * branch priorities, poll interval, changed-files limit and debug-failures), the tunnel URL,
 * concurrency, retention, how long debug keeps a failed job, the catch-up interval and the Docker
 * engines (their TLS material and SSH keys to the vault, see engine-settings.ts). One save is: check the input → edit kiln.config.yml's document →
 * check that the result loads → store secret values in the encrypted vault → write the file
 * atomically → re-derive the configuration from what was written (so external edits of the file
 * are picked up, never lost) → apply it to the live configuration object in place.
 *
 * Everything runs synchronously (small files), so two saves never interleave.
 *
 * Where secrets live: the file keeps what the user wrote there (shown as source 'file'); values set
 * through the API go only to the vault ('vault'), and a value set for a name the file also holds
 * moves it out of the file. When the engine started without a file, the first save creates one
 * from the live configuration and moves the secrets it had in memory into the vault.
 */
import { ApiError } from '../../shared/api/engine-api.js';
import type { TunnelState } from '../../shared/api/engine-api.js';
import type { EngineSettings, RepositoryInput, RepositoryReporting, RepositorySettings, ServerSettingsInput, SettingsView, WebhookSecretInfo } from '../../shared/api/settings-types.js';
import { DEFAULT_FORGE_API_URL, type KilnConfig, type RepositoryConfig } from '../core/engine-contract.js';
import type { EngineMaterialPart } from '../core/engine-contract.js';
import type { RepositorySecrets, SecretVault } from '../storage/secret-vault.js';
import { ConfigDocument } from './config-document.js';
import { checkEngineInput, checkEngineName } from './engine-input.js';
import { engineSettingsOf, engineWrites, mergeEngineMaterial } from './engine-settings.js';
import { checkRepositoryInput, checkRepositoryName, checkServerInput } from './settings-input.js';

export interface SettingsChange {
  tunnel: boolean;
  concurrency: boolean;
  retention: boolean;
  repositories: boolean;
  /** The `engines:` list changed (the engine pool follows). */
  engines: boolean;
  /** An engine was renamed: what is keyed by its name follows before the pool is reconfigured. */
  renamedEngine?: { from: string; to: string };
}

export interface SettingsServiceOptions {
  /** The live configuration: updated in place, so every reader of it sees a save at once. */
  config: KilnConfig;
  configFile: string;
  vault: SecretVault;
  now: () => number;
  /** Called after a save has been applied to `config`, before subscribers (the engine adjusts its pool and tables). */
  applied: (change: SettingsChange) => void;
  onError?: (message: string, err: unknown) => void;
  /** The repository's reporting state for the settings page (the engine's forge reporter). */
  describeForge?: (repo: RepositoryConfig) => RepositoryReporting | undefined;
}

type FileSecrets = Map<string, { secrets: Record<string, string>; webhookSecrets: string[]; forgeToken?: string }>;

const FILE_ID = /^file-(\d+)$/;
/** The defaults the page shows when the file sets none (the engine's: debug-service.ts, trigger/catch-up.ts). */
const DEFAULT_DEBUG_KEEP_MS = 30 * 60_000;
const DEFAULT_CATCH_UP_INTERVAL_MS = 5 * 60_000;

export class SettingsService {
  /** Secrets as the file (or the in-memory start configuration) has them, before the vault's. */
  private fileSecrets: FileSecrets;
  private readonly listeners = new Set<(change: SettingsChange) => void>();

  /** Reads the vault and merges its secrets into `config` (vault values win): call before the engine runs jobs. */
  constructor(private readonly o: SettingsServiceOptions) {
    this.fileSecrets = snapshot(o.config.repositories);
    merge(o.config.repositories, o.vault.load());
  }

  /** Hears of every applied save (the tunnel controller); returns the unsubscribe function. */
  subscribe(listener: (change: SettingsChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get configFile(): string {
    return this.o.configFile;
  }

  repositories(): RepositorySettings[] {
    const index = this.o.vault.index();
    return this.o.config.repositories.map((r) => {
      const stored = index[r.name] ?? { secretNames: [], webhookSecrets: [] };
      const file = this.fileSecrets.get(r.name) ?? { secrets: {}, webhookSecrets: [] };
      const vaultNames = new Set(stored.secretNames);
      const webhookSecrets: WebhookSecretInfo[] = [
        ...file.webhookSecrets.map((_, i) => ({ id: `file-${i}`, source: 'file' as const })),
        ...stored.webhookSecrets.map((w) => ({ id: w.id, source: 'vault' as const, addedAt: w.addedAt })),
      ];
      const names = Object.keys(r.secrets).sort();
      return {
        name: r.name, url: r.url, defaultBranch: r.defaultBranch,
        secretNames: names, webhookSecretCount: r.webhookSecrets.length,
        secrets: names.map((name) => ({ name, source: vaultNames.has(name) ? 'vault' as const : 'file' as const })),
        webhookSecrets,
        ...(r.rateLimitPerMinute !== undefined ? { rateLimitPerMinute: r.rateLimitPerMinute } : {}),
        priority: { ...r.priority },
        ...(r.pollIntervalMs !== undefined ? { pollIntervalMs: r.pollIntervalMs } : {}),
        ...(r.maxChangedFiles !== undefined ? { maxChangedFiles: r.maxChangedFiles } : {}),
        debugFailures: r.debugFailures === true,
        ...this.forgeOf(r),
      };
    });
  }

  private forgeOf(r: RepositoryConfig): { forge?: RepositoryReporting } {
    const forge = this.o.describeForge?.(r);
    if (!forge) return {};
    const stored = this.o.vault.index()[r.name]?.forgeToken;
    return { forge: forge.tokenSet ? { ...forge, tokenSource: stored ? 'vault' : 'file' } : forge };
  }

  view(tunnel: TunnelState): SettingsView {
    const c = this.o.config;
    return {
      configFile: this.o.configFile,
      tunnel: { url: c.tunnel?.url ?? null, state: tunnel },
      concurrency: { ...c.concurrency },
      retention: { ...c.retention },
      repositories: this.repositories(),
      publicUrl: c.server.publicUrl ?? null,
      debugKeepMs: c.debug?.keepMs ?? DEFAULT_DEBUG_KEEP_MS,
      catchUpIntervalMs: c.catchUp?.intervalMs ?? DEFAULT_CATCH_UP_INTERVAL_MS,
      engines: this.engines(),
    };
  }

  engines(): EngineSettings[] {
    return (this.o.config.engines ?? []).map(engineSettingsOf);
  }

  /** Adds or updates an engine: fields to the file, PEM text to the vault (the file says `vault`). */
  saveEngine(input: unknown): EngineSettings {
    const doc = ConfigDocument.open(this.o.configFile, this.o.config);
    const names = doc.engineNames();
    const addressOf = (name: string): string | undefined => this.o.config.engines?.find((e) => e.name === name)?.address;
    const change = checkEngineInput(input, { indexOf: (n) => names.indexOf(n), count: names.length, addressOf });
    const writes = engineWrites(change, addressOf(change.name));
    const name = change.rename ?? change.name;
    if (change.rename) doc.renameEngine(change.name, change.rename);
    doc.setEngine(name, writes.file);
    const renamed = change.rename ? { from: change.name, to: change.rename } : undefined;
    this.commit(doc, [], { engine: { name, material: writes.vault }, renamedEngine: renamed });
    const saved = this.engines().find((e) => e.name === name);
    if (!saved) throw new ApiError('INTERNAL', `engine ${name} was saved but is not in the configuration that was read back`);
    return saved;
  }

  /** Removes an engine from the file and its material from the vault. */
  removeEngine(name: string): void {
    checkEngineName(name, 'engine');
    const doc = ConfigDocument.open(this.o.configFile, this.o.config);
    if (!doc.removeEngine(name)) throw new ApiError('NOT_FOUND', `engine '${name}' is not configured`);
    this.commit(doc, [], { removedEngine: name });
  }

  saveRepository(input: RepositoryInput): RepositorySettings {
    const change = checkRepositoryInput(input);
    const { name } = change;
    const doc = ConfigDocument.open(this.o.configFile, this.o.config);
    const exists = doc.hasRepository(name);
    if (!exists && change.url === undefined) throw new ApiError('BAD_REQUEST', `repositories[${name}].url: required for a new repository (a clone URL or an absolute local path)`);
    const forge = change.forge && { apiUrl: change.forge.apiUrl, jobStatuses: change.forge.jobStatuses, prComment: change.forge.prComment, dropToken: change.forge.token !== undefined };
    doc.setRepository(name, {
      url: change.url, defaultBranch: change.defaultBranch ?? (exists ? undefined : 'main'), rateLimit: change.rateLimit, priority: change.priority, forge,
      pollInterval: change.pollInterval, maxChangedFiles: change.maxChangedFiles, debugFailures: change.debugFailures,
    });

    // What stays in the file after this save (also what a first save moves into the vault).
    const remaining = snapshotOf(this.fileSecrets);
    const file = this.fileSecrets.get(name) ?? { secrets: {}, webhookSecrets: [] };
    const kept = remaining.get(name) ?? { secrets: {}, webhookSecrets: [] };
    const storedIds = new Set((this.o.vault.index()[name]?.webhookSecrets ?? []).map((w) => w.id));
    const removeFromVault: string[] = [];
    for (const id of change.removeWebhookSecrets) {
      const fileIndex = FILE_ID.exec(id);
      const value = fileIndex ? file.webhookSecrets[Number(fileIndex[1])] : undefined;
      if (value !== undefined) {
        doc.removeWebhookSecret(name, value);
        kept.webhookSecrets = kept.webhookSecrets.filter((v) => v !== value);
      } else if (storedIds.has(id)) removeFromVault.push(id);
      else throw new ApiError('BAD_REQUEST', `repositories[${name}].webhook-secrets: there is no webhook secret with id '${id}'`);
    }
    // A value given through the API lives in the vault only; null removes the name everywhere.
    for (const secret of Object.keys(change.secrets)) {
      doc.removeSecret(name, secret);
      delete kept.secrets[secret];
    }
    if (change.forge?.token !== undefined) delete kept.forgeToken;

    this.commit(doc, [{ repo: name, secrets: change.secrets, addWebhookSecrets: change.addWebhookSecrets, removeWebhookSecrets: removeFromVault, forgeToken: change.forge?.token }], { fileSecrets: remaining });
    const saved = this.repositories().find((r) => r.name === name);
    if (!saved) throw new ApiError('INTERNAL', `repository ${name} was saved but is not in the configuration that was read back`);
    return saved;
  }

  removeRepository(name: string): void {
    checkRepositoryName(name, 'repository');
    const doc = ConfigDocument.open(this.o.configFile, this.o.config);
    if (!doc.removeRepository(name)) throw new ApiError('NOT_FOUND', `repository '${name}' is not configured`);
    this.commit(doc, [], { removedRepo: name });
  }

  saveServerSettings(input: ServerSettingsInput, tunnel: TunnelState): SettingsView {
    const change = checkServerInput(input, this.o.config.concurrency);
    const doc = ConfigDocument.open(this.o.configFile, this.o.config);
    if (change.tunnelUrl !== undefined) doc.setTunnel(change.tunnelUrl);
    if (change.publicUrl !== undefined) doc.setPublicUrl(change.publicUrl);
    if (change.jobs !== undefined) doc.setIn('concurrency', 'jobs', change.jobs);
    if (change.perRepository !== undefined) doc.setIn('concurrency', 'per-repository', change.perRepository);
    for (const [key, value] of Object.entries(change.retention)) doc.setIn('retention', key, value);
    if (change.debugKeep === null) doc.deleteIn('debug', 'keep');
    else if (change.debugKeep !== undefined) doc.setIn('debug', 'keep', change.debugKeep);
    if (change.catchUpInterval === null) doc.deleteIn('catch-up', 'interval');
    else if (change.catchUpInterval !== undefined) doc.setIn('catch-up', 'interval', change.catchUpInterval);
    this.commit(doc, []);
    return this.view(tunnel);
  }

  /**
   * Checks the edited document, stores secrets (vault first: a failed file write then leaves only
   * unused ciphertext behind), writes the file and applies what it now says.
   */
  private commit(doc: ConfigDocument, vaultChanges: VaultChange[], o: { removedRepo?: string; fileSecrets?: FileSecrets; engine?: { name: string; material: Partial<Record<EngineMaterialPart, string | null>> }; removedEngine?: string; renamedEngine?: { from: string; to: string } } = {}): void {
    const { removedRepo } = o;
    const { text, config: next } = doc.render();
    const changes = doc.existed ? vaultChanges : [...this.adoptInMemorySecrets(o.fileSecrets ?? this.fileSecrets, removedRepo), ...vaultChanges];
    for (const c of changes) {
      if (Object.keys(c.secrets).length || c.addWebhookSecrets.length || c.removeWebhookSecrets.length || c.forgeToken !== undefined) this.o.vault.update(c.repo, c, this.o.now());
    }
    if (removedRepo) this.o.vault.removeRepository(removedRepo);
    if (!doc.existed) {
      for (const e of this.o.config.engines ?? []) {
        const material = { ...e.tls, ...(e.sshKey !== undefined ? { sshKey: e.sshKey } : {}) };
        if (Object.values(material).some((v) => v !== undefined)) this.o.vault.updateEngine(e.name, material);
      }
    }
    const engine = o.engine;
    // The material follows a renamed engine before it is updated under the new name.
    if (o.renamedEngine) this.o.vault.renameEngine(o.renamedEngine.from, o.renamedEngine.to);
    // Removing parts the vault never held (a path in the file) needs no vault write.
    const values = engine ? Object.values(engine.material) : [];
    if (engine && (values.some((v) => v !== null) || (values.length && this.o.vault.engineIndex()[engine.name]))) this.o.vault.updateEngine(engine.name, engine.material);
    if (o.removedEngine) this.o.vault.removeEngine(o.removedEngine);
    try {
      doc.save(text);
    } catch (err) {
      // The file still names the old engine: its material goes back under that name.
      if (o.renamedEngine) this.o.vault.renameEngine(o.renamedEngine.to, o.renamedEngine.from);
      throw err;
    }
    this.apply(next, o.renamedEngine);
  }

  /** The first save creates the file from the live configuration; secrets it had only in memory go to the vault. */
  private adoptInMemorySecrets(inMemory: FileSecrets, except?: string): VaultChange[] {
    const stored = this.o.vault.load();
    const out: VaultChange[] = [];
    for (const [repo, file] of inMemory) {
      if (repo === except) continue;
      const have = stored[repo] ?? { secrets: {}, webhookSecrets: [] };
      const secrets = Object.fromEntries(Object.entries(file.secrets).filter(([k]) => !(k in have.secrets)));
      const known = new Set(have.webhookSecrets.map((w) => w.value));
      out.push({
        repo, secrets, addWebhookSecrets: file.webhookSecrets.filter((v) => !known.has(v)), removeWebhookSecrets: [],
        ...(file.forgeToken !== undefined && have.forgeToken === undefined ? { forgeToken: file.forgeToken } : {}),
      });
    }
    return out;
  }

  private apply(next: KilnConfig, renamedEngine?: SettingsChange['renamedEngine']): void {
    const live = this.o.config;
    this.fileSecrets = snapshot(next.repositories);
    merge(next.repositories, this.o.vault.load());
    for (const problem of mergeEngineMaterial(next.engines, this.o.vault.loadEngines())) this.o.onError?.('an engine lacks its material', new Error(problem));
    const change: SettingsChange = {
      tunnel: (live.tunnel?.url ?? null) !== (next.tunnel?.url ?? null),
      concurrency: JSON.stringify(live.concurrency) !== JSON.stringify(next.concurrency),
      retention: JSON.stringify(live.retention) !== JSON.stringify(next.retention),
      repositories: true,
      engines: JSON.stringify(live.engines ?? []) !== JSON.stringify(next.engines ?? []),
      ...(renamedEngine ? { renamedEngine } : {}),
    };
    if (next.engines) live.engines = next.engines;
    else delete live.engines;
    // In place: the webhook receiver, the job runner and retention hold this very object.
    live.repositories.splice(0, live.repositories.length, ...next.repositories);
    if (next.server.publicUrl) live.server.publicUrl = next.server.publicUrl;
    else delete live.server.publicUrl;
    if (next.tunnel) live.tunnel = { ...next.tunnel };
    else delete live.tunnel;
    Object.assign(live.concurrency, next.concurrency);
    Object.assign(live.retention, next.retention);
    // Read where they are used (the debug keeper, catch-up's schedule), so a save applies to the next kept job and listing.
    if (next.debug) live.debug = { ...next.debug };
    else delete live.debug;
    if (next.catchUp) live.catchUp = { ...next.catchUp };
    else delete live.catchUp;
    this.o.applied(change);
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.o.onError?.('a settings listener threw', err);
      }
    }
  }
}

interface VaultChange {
  repo: string;
  secrets: Record<string, string | null>;
  addWebhookSecrets: string[];
  removeWebhookSecrets: string[];
  /** A value sets the forge token, null removes it. */
  forgeToken?: string | null;
}

function snapshot(repos: readonly RepositoryConfig[]): FileSecrets {
  return new Map(repos.map((r) => [r.name, { secrets: { ...r.secrets }, webhookSecrets: [...r.webhookSecrets], ...(r.forge?.token ? { forgeToken: r.forge.token } : {}) }]));
}

function snapshotOf(secrets: FileSecrets): FileSecrets {
  return new Map([...secrets].map(([name, s]) => [name, { ...s, secrets: { ...s.secrets }, webhookSecrets: [...s.webhookSecrets] }]));
}

/** Vault values win over the file's; webhook secrets are all accepted, so they are joined. */
function merge(repos: RepositoryConfig[], stored: Record<string, RepositorySecrets>): void {
  for (const repo of repos) {
    const s = stored[repo.name];
    if (!s) continue;
    Object.assign(repo.secrets, s.secrets);
    repo.webhookSecrets = [...new Set([...repo.webhookSecrets, ...s.webhookSecrets.map((w) => w.value)])];
    // A token in the vault turns reporting on, with the file's API URL and options or the defaults.
    if (s.forgeToken) repo.forge = { ...repo.forge, apiUrl: repo.forge?.apiUrl ?? DEFAULT_FORGE_API_URL, jobStatuses: repo.forge?.jobStatuses ?? false, token: s.forgeToken };
  }
}
