/**
 * Collects host data nothing will use again. Jobs keep their workspace inside their container (the
 * executor never bind-mounts host paths), so a finished or crashed job leaves no workspace on the
 * host: its container, network and volumes are the reaper's (executor/reaper.ts). What does pile
 * up is host-side git data:
 * - git mirrors under <dataDir>/mirrors of repositories no longer configured (each repository URL
 *   gets a bare mirror, kept and fetched incrementally while the repository is configured);
 * - job workspace directories under <dataDir>/workspaces, which versions before this one created.
 * Both go once untouched for `retention.workspaces`. Mirrors of configured repositories are never
 * removed: they are what makes the next checkout incremental.
 */
import { readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface LeftoversGcDeps {
  dataDir: string;
  maxAgeMs: number;
  now: () => number;
  /** Mirror directories of the repositories configured now (absolute paths). */
  mirrorsInUse?: () => Iterable<string>;
}

export interface LeftoversGcReport {
  mirrors: number;
  directories: number;
  errors: string[];
}

export function workspacesDir(dataDir: string): string {
  return join(dataDir, 'workspaces');
}

export function mirrorsDir(dataDir: string): string {
  return join(dataDir, 'mirrors');
}

export async function collectLeftovers(deps: LeftoversGcDeps): Promise<LeftoversGcReport> {
  const report: LeftoversGcReport = { mirrors: 0, directories: 0, errors: [] };
  const cutoff = deps.now() - deps.maxAgeMs;
  const inUse = new Set(deps.mirrorsInUse ? [...deps.mirrorsInUse()] : []);
  const mirrors = mirrorsDir(deps.dataDir);
  for (const name of safeReaddir(mirrors)) {
    const path = join(mirrors, name);
    if (!name.endsWith('.git') || inUse.has(path)) continue;
    // A fetch writes FETCH_HEAD: its time is the mirror's last use.
    const used = Math.max(mtime(path), mtime(join(path, 'FETCH_HEAD')));
    if (used >= cutoff) continue;
    if (await remove(path, report)) report.mirrors++;
  }
  const root = workspacesDir(deps.dataDir);
  for (const name of safeReaddir(root)) {
    const path = join(root, name);
    if (mtime(path) >= cutoff) continue;
    if (await remove(path, report)) report.directories++;
  }
  return report;
}

async function remove(path: string, report: LeftoversGcReport): Promise<boolean> {
  try {
    await rm(path, { recursive: true, force: true });
    return true;
  } catch (err) {
    report.errors.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
