/**
 * The base and head branch of a repository's open pull requests, from the forge's API, for heads
 * that catch-up finds as `refs/pull/<n>/head` without a webhook having said what they merge into.
 * Needs the repository's forge token (the one that posts statuses: reading pull requests is part of
 * the same permissions); without one, undefined, and catch-up falls back to the last webhook seen.
 */
import type { RepositoryConfig } from '../core/engine-contract.js';
import { DEFAULT_FORGE_API_URL } from '../core/engine-contract.js';
import { createForgeClient, type ForgeClientOptions } from './client.js';

export type PullRequestBranches = Map<number, { baseBranch: string; branch: string }>;

export async function openPullRequestBranches(
  repo: RepositoryConfig, client?: Pick<ForgeClientOptions, 'writePaceMs' | 'timeoutMs' | 'retries' | 'retryBaseMs'>,
): Promise<PullRequestBranches | undefined> {
  const token = repo.forge?.token;
  if (!token) return undefined;
  const [owner, name] = repo.name.split('/');
  const forge = createForgeClient({ apiUrl: repo.forge?.apiUrl ?? DEFAULT_FORGE_API_URL, token, ...client });
  const open = await forge.openPullRequests(owner, name);
  return new Map(open.map((p) => [p.number, { baseBranch: p.base, branch: p.head }]));
}
