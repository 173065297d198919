/**
 * The desktop-only calls (DesktopApi): writing a secret (safeStorage, then applied to the running
 * engine's repository configuration, which jobs read when they start) and the embedded server's URL.
 */
import { ApiError, type DesktopApi } from '../../shared/api/engine-api.js';
import type { RepositoryConfig } from '../engine-contract.js';
import type { SecretStore } from './secret-store.js';

export function createDesktopApi(deps: { secrets: SecretStore; repositories: RepositoryConfig[]; serverUrl: () => string }): DesktopApi {
  return {
    async setSecret(repo: string, name: string, value: string): Promise<void> {
      if (typeof repo !== 'string' || typeof name !== 'string' || typeof value !== 'string') throw new ApiError('BAD_REQUEST', 'setSecret(repo, name, value) takes three strings');
      const target = deps.repositories.find((r) => r.name === repo);
      if (!target) throw new ApiError('NOT_FOUND', `repository '${repo}' is not configured`);
      deps.secrets.set(repo, name, value);
      if (value === '') delete target.secrets[name];
      else target.secrets[name] = value;
    },
    async serverUrl(): Promise<string> {
      return deps.serverUrl();
    },
  };
}

/** Merges stored secrets into the configuration before the engine starts (stored values win). */
export function applyStoredSecrets(repositories: RepositoryConfig[], stored: Record<string, Record<string, string>>): void {
  for (const repo of repositories) Object.assign(repo.secrets, stored[repo.name] ?? {});
}
