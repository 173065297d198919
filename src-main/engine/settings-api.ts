/**
 * The settings half of the engine API. Saves go to kiln.config.yml (+ the vault) and are applied to
 * the configuration in place (settings/settings-service.ts); then the engine adjusts what depends
 * on it (the repositories table, the worker pool's limits, artifact expiry, the engine pool) before outside
 * listeners (the tunnel owner) hear of the save.
 */
import type { ConnectInput, ConnectReport, EngineInput, EngineSettings, RepositoryInput, RepositorySettings, ServerSettingsInput, SettingsView } from '../../shared/api/settings-types.js';
import { connectRepository, nextDelivery } from '../forge/connect.js';
import type { SettingsChange } from '../settings/settings-service.js';
import type { EngineParts } from './parts.js';
import { assertRunning } from './runs-service.js';

export class SettingsApi {
  constructor(private readonly p: Pick<EngineParts, 'settings' | 'bus' | 'life' | 'runs' | 'config' | 'clock' | 'pool' | 'storage' | 'repository' | 'forgeConnect' | 'reconfigureEngines' | 'renameEngine' | 'engines'>) {}

  async listRepositories(): Promise<RepositorySettings[]> {
    // The short form (names and counts); getSettings() adds where each secret lives and the webhook secret ids.
    return this.p.settings.repositories().map(({ name, url, defaultBranch, secretNames, webhookSecretCount }) => ({ name, url, defaultBranch, secretNames, webhookSecretCount }));
  }

  async getSettings(): Promise<SettingsView> {
    return this.p.settings.view(this.p.bus.tunnel);
  }

  async saveRepository(input: RepositoryInput): Promise<RepositorySettings> {
    assertRunning(this.p.life);
    return this.p.settings.saveRepository(input);
  }

  async removeRepository(name: string): Promise<void> {
    assertRunning(this.p.life);
    this.p.settings.removeRepository(name);
  }

  async saveServerSettings(input: ServerSettingsInput): Promise<SettingsView> {
    assertRunning(this.p.life);
    return this.p.settings.saveServerSettings(input, this.p.bus.tunnel);
  }

  /**
   * Saves, then pings the engine as saved (the pool has its new connection by then), so the answer
   * says at once when jobs would only wait for it; adding the first engine also says that it
   * replaced the default local one, which then runs nothing.
   */
  async saveEngine(input: EngineInput): Promise<EngineSettings> {
    assertRunning(this.p.life);
    const first = (input as { create?: unknown } | null)?.create === true && !this.p.config.engines?.length;
    const implicit = first ? this.p.engines.statuses().find((e) => !e.retiring) : undefined;
    const saved = this.p.settings.saveEngine(input);
    const replaces = implicit && implicit.name !== saved.name
      ? { replaces: `the default engine ${implicit.name} (${implicit.address}, ${implicit.source}): jobs now run only on the engines under engines: in kiln.config.yml; add ${implicit.name} there too to keep using it` }
      : {};
    const r = await this.p.engines.probe(saved.name);
    if (!r) return { ...saved, ...replaces };
    if (r.ok) return { ...saved, reachable: true, ...replaces };
    return { ...saved, reachable: false, warning: `${saved.name} is not reachable: ${(r.message ?? 'no answer').replace(/^Docker engine not reachable:\s*/, '')} — jobs wait until it is`, ...replaces };
  }

  async removeEngine(name: string): Promise<void> {
    assertRunning(this.p.life);
    this.p.settings.removeEngine(name);
  }

  /** Tunnel channel, webhook secret, the forge's webhook and a ping, in one step (forge/connect.ts). */
  async connectRepository(input: ConnectInput): Promise<ConnectReport> {
    assertRunning(this.p.life);
    return connectRepository({
      repository: this.p.repository, tunnelUrl: () => this.p.config.tunnel?.url,
      saveTunnelUrl: async (url) => { await this.saveServerSettings({ tunnelUrl: url }); },
      saveRepository: (i) => this.saveRepository(i),
      nextDelivery: (repo, event, ms) => nextDelivery({ subscribe: (l) => this.p.bus.events.on(l) }, repo, event, ms),
      ...this.p.forgeConnect,
    }, input);
  }

  /** What the engine itself adjusts after a save (subscribed to the bus before anyone else). */
  applied(change: SettingsChange): void {
    const { config } = this.p;
    this.p.runs.syncRepositories(config.repositories, this.p.clock());
    if (change.concurrency) this.p.pool.setLimits(Math.max(1, config.concurrency.jobs), Math.max(1, config.concurrency.perRepository));
    if (change.retention) this.p.storage.artifacts.setDefaultExpiry(config.retention.artifactsMs);
    if (change.renamedEngine) this.p.renameEngine(change.renamedEngine.from, change.renamedEngine.to);
    if (change.engines) this.p.reconfigureEngines();
  }
}
