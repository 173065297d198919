/**
 * Workspace garbage collection: the executor removes a job's workspace when the job ends; this
 * collector removes what a crash or a killed process left behind.
 *
 * - Host directories directly under <dataDir>/workspaces whose modification time is older than
 *   `maxAgeMs`, unless a running kiln container mounts them or the caller says they are in use.
 * - Docker volumes labelled `kiln.instance=<instanceId>` older than `maxAgeMs` (by their
 *   `kiln.created` label, else Docker's CreatedAt) that no container uses. A volume labelled
 *   `kiln.keep` is never collected. Removal of a volume that became used meanwhile fails with 409
 *   and is skipped, so the collector is safe while jobs run.
 * Only this instance's volumes are considered: other Kiln instances on the same engine keep theirs.
 */
import { readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';

export interface WorkspaceGcDeps {
  dataDir: string;
  maxAgeMs: number;
  now: () => number;
  docker?: Dockerode;
  instanceId?: string;
  /** Workspace directory names (or absolute paths) of jobs running right now. */
  inUse?: () => Iterable<string>;
}

export interface WorkspaceGcReport {
  directories: number;
  volumes: number;
  errors: string[];
}

export function workspacesDir(dataDir: string): string {
  return join(dataDir, 'workspaces');
}

export async function collectWorkspaces(deps: WorkspaceGcDeps): Promise<WorkspaceGcReport> {
  const report: WorkspaceGcReport = { directories: 0, volumes: 0, errors: [] };
  const cutoff = deps.now() - deps.maxAgeMs;
  const busy = new Set<string>(deps.inUse ? [...deps.inUse()] : []);
  if (deps.docker && deps.instanceId) {
    try {
      for (const src of await mountedSources(deps.docker, deps.instanceId)) busy.add(src);
    } catch (err) {
      // Without knowing what is mounted, deleting directories would be a guess: keep them all.
      report.errors.push(`cannot list running containers, host workspaces kept: ${message(err)}`);
      return report;
    }
  }
  const root = workspacesDir(deps.dataDir);
  for (const name of safeReaddir(root)) {
    const path = join(root, name);
    if (busy.has(name) || busy.has(path)) continue;
    try {
      if (statSync(path).mtimeMs >= cutoff) continue;
      await rm(path, { recursive: true, force: true });
      report.directories++;
    } catch (err) {
      report.errors.push(`workspace ${path}: ${message(err)}`);
    }
  }
  if (deps.docker && deps.instanceId) await collectVolumes(deps.docker, deps.instanceId, cutoff, report);
  return report;
}

async function mountedSources(docker: Dockerode, instanceId: string): Promise<string[]> {
  const containers = await docker.listContainers({ filters: { label: [`kiln.instance=${instanceId}`] } });
  return containers.flatMap((c) => (c.Mounts ?? []).flatMap((m) => [m.Source, m.Name].filter((s): s is string => typeof s === 'string' && s !== '')));
}

async function collectVolumes(docker: Dockerode, instanceId: string, cutoff: number, report: WorkspaceGcReport): Promise<void> {
  let volumes: Dockerode.VolumeInspectInfo[];
  try {
    volumes = (await docker.listVolumes({ filters: { label: [`kiln.instance=${instanceId}`] } })).Volumes ?? [];
  } catch (err) {
    report.errors.push(`cannot list volumes: ${message(err)}`);
    return;
  }
  for (const v of volumes) {
    const labels = v.Labels ?? {};
    if ('kiln.keep' in labels) continue;
    const created = Number(labels['kiln.created']) || Date.parse((v as { CreatedAt?: string }).CreatedAt ?? '');
    if (!Number.isFinite(created) || created >= cutoff) continue;
    try {
      const users = await docker.listContainers({ all: true, filters: { volume: [v.Name] } });
      if (users.length > 0) continue;
      await docker.getVolume(v.Name).remove();
      report.volumes++;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 409 || status === 404) continue; // in use again, or already gone
      report.errors.push(`volume ${v.Name}: ${message(err)}`);
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
