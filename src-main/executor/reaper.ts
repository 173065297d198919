/**
 * Removes Kiln's leftovers: containers, networks and volumes labelled `kiln.instance` whose job is
 * not running (a crash between create and teardown, an engine connection lost during teardown).
 *
 * The rule:
 *   - resources of THIS instance (kiln.instance = instanceId) are removed as soon as
 *     `isJobLive(run, job)` says their job is not running;
 *   - resources of ANOTHER instance are removed only when `isJobLive` says not running AND they are
 *     older than `foreignMaxAgeMs` (default 24 h, longer than any job may run). Another process's
 *     running jobs are invisible to this one's `isJobLive`, so a young foreign resource may well
 *     belong to a live job (a `kiln run` beside the desktop app, another test on the same engine).
 *     A job kept for debugging may be extended past that age: its running job container says so
 *     itself (its keep-until file, step-script.ts, asked by exec), and the job's containers,
 *     network and volumes are spared while it does.
 * Containers go first (a network with containers attached cannot be removed). Idempotent; a
 * resource that vanished meanwhile is not an error.
 */
import type Dockerode from 'dockerode';
import { execCapture, LABEL, removeContainer, removeNetwork, removeVolume } from './containers.js';
import { KEPT_CHECK } from './step-script.js';
import type { ReapCounts } from '../core/job-contract.js';

export interface ReapOptions {
  instanceId: string;
  isJobLive(runId: string, jobId: string): boolean;
  foreignMaxAgeMs?: number;
  now?: number;
}

export const DEFAULT_FOREIGN_MAX_AGE_MS = 24 * 60 * 60 * 1000;

function isOrphan(labels: Record<string, string> | undefined, createdMs: number, options: ReapOptions): boolean {
  if (!labels) return false;
  const instance = labels[LABEL.instance];
  if (instance === undefined) return false;
  const run = labels[LABEL.run] ?? '';
  const job = labels[LABEL.job] ?? '';
  if (options.isJobLive(run, job)) return false;
  if (instance === options.instanceId) return true;
  const labelled = Number(labels[LABEL.created]);
  const created = Number.isFinite(labelled) && labelled > 0 ? labelled : createdMs;
  return (options.now ?? Date.now()) - created > (options.foreignMaxAgeMs ?? DEFAULT_FOREIGN_MAX_AGE_MS);
}

export async function reapOrphans(docker: Dockerode, options: ReapOptions): Promise<ReapCounts> {
  const counts: ReapCounts = { containers: 0, networks: 0, volumes: 0 };
  const filters = JSON.stringify({ label: [LABEL.instance] });

  const containers = (await docker.listContainers({ all: true, filters })).filter((c) => isOrphan(c.Labels, c.Created * 1000, options));
  const spared = await keptElsewhere(docker, containers, options.instanceId);
  const isSpared = (labels: Record<string, string> | undefined): boolean => spared.has(jobOf(labels));
  for (const c of containers) {
    if (isSpared(c.Labels)) continue;
    await removeContainer(docker, c.Id);
    counts.containers++;
  }

  const networks = await docker.listNetworks({ filters });
  for (const n of networks) {
    if (!isOrphan(n.Labels, Date.parse(n.Created ?? '') || 0, options) || isSpared(n.Labels)) continue;
    await removeNetwork(docker, n.Id);
    counts.networks++;
  }

  const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
  for (const v of volumes) {
    const created = Date.parse((v as unknown as { CreatedAt?: string }).CreatedAt ?? '') || 0;
    if (!isOrphan(v.Labels ?? undefined, created, options) || isSpared(v.Labels ?? undefined)) continue;
    await removeVolume(docker, v.Name);
    counts.volumes++;
  }
  return counts;
}

function jobOf(labels: Record<string, string> | undefined): string {
  return `${labels?.[LABEL.run] ?? ''}\u0000${labels?.[LABEL.job] ?? ''}`;
}

/** The jobs (run, job) of other instances whose running job container is kept for debugging now. */
async function keptElsewhere(docker: Dockerode, candidates: Dockerode.ContainerInfo[], instanceId: string): Promise<Set<string>> {
  const kept = new Set<string>();
  for (const c of candidates) {
    if (c.Labels[LABEL.instance] === instanceId || c.Labels[LABEL.role] !== 'job' || c.State !== 'running') continue;
    try {
      if ((await execCapture(docker.getContainer(c.Id), KEPT_CHECK)).exitCode === 0) kept.add(jobOf(c.Labels));
    } catch {
      // No shell, or it stopped meanwhile: not kept.
    }
  }
  return kept;
}

/**
 * Removes one job's containers (job and services) and networks of this instance, whatever state
 * they are in: a kept job whose debug deadline passed after a restart. `jobKey` is the kiln.job
 * label (the stored job's id). Idempotent.
 */
export async function removeJobResources(docker: Dockerode, o: { instanceId: string; runId: string; jobKey: string }): Promise<number> {
  const filters = JSON.stringify({ label: [`${LABEL.instance}=${o.instanceId}`, `${LABEL.run}=${o.runId}`, `${LABEL.job}=${o.jobKey}`] });
  const containers = await docker.listContainers({ all: true, filters });
  for (const c of containers) await removeContainer(docker, c.Id);
  for (const n of await docker.listNetworks({ filters })) await removeNetwork(docker, n.Id);
  return containers.length;
}

/**
 * Runs `reap` now (or after `firstAfterMs`) and then every `intervalMs` (default 5 min) until the
 * returned stop() is called.
 * Passes never overlap; a failing pass (engine down) is reported and the next one tries again.
 */
export function scheduleReaper<T = ReapCounts>(
  reap: () => Promise<T>,
  options: { intervalMs?: number; firstAfterMs?: number; onResult?(counts: T): void; onError?(err: unknown): void } = {},
): () => void {
  const intervalMs = options.intervalMs ?? 5 * 60 * 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const pass = async (): Promise<void> => {
    try {
      const counts = await reap();
      options.onResult?.(counts);
    } catch (err) {
      options.onError?.(err);
    }
    if (!stopped) {
      timer = setTimeout(() => void pass(), intervalMs);
      timer.unref();
    }
  };
  if (options.firstAfterMs) {
    timer = setTimeout(() => void pass(), options.firstAfterMs);
    timer.unref();
  } else {
    void pass();
  }
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
