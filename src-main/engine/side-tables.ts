/**
 * Reads of tables other modules write (artifacts: issue 6; deliveries: the webhook receiver), and
 * the repositories table kept in step with configuration. Plain SELECTs on the v1 schema.
 */
import type { Db } from '../storage/db.js';
import type { RepositoryConfig } from '../engine-contract.js';
import type { ArtifactInfo, DeliveryRecord } from '../../shared/model/run.js';

interface ArtifactRow { id: string; run_id: string; job_id: string; path: string; size: number; sha256: string; created_at: number; expires_at: number | null }
interface DeliveryRow { id: string; delivery_id: string; event: string; repo: string | null; received_at: number; outcome: DeliveryRecord['outcome']; http_status: number; reason: string; run_ids: string }

export function listArtifacts(db: Db, runId: string): ArtifactInfo[] {
  const rows = db.prepare('SELECT * FROM artifacts WHERE run_id = ? ORDER BY job_id, path').all(runId) as ArtifactRow[];
  return rows.map((r) => ({
    id: r.id, runId: r.run_id, jobId: r.job_id, path: r.path, size: r.size, sha256: r.sha256, createdAt: r.created_at,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
  }));
}

export function listDeliveries(db: Db, limit: number): DeliveryRecord[] {
  const rows = db.prepare('SELECT * FROM deliveries ORDER BY received_at DESC, id DESC LIMIT ?').all(limit) as DeliveryRow[];
  return rows.map((r) => ({
    id: r.id, deliveryId: r.delivery_id, event: r.event, ...(r.repo === null ? {} : { repo: r.repo }), receivedAt: r.received_at,
    outcome: r.outcome, httpStatus: r.http_status, reason: r.reason, runIds: JSON.parse(r.run_ids) as string[],
  }));
}

/** Upserts configured repositories (name, url, default branch); never stores secrets. */
export function syncRepositories(db: Db, repos: readonly RepositoryConfig[], now: number): void {
  const upsert = db.prepare(`INSERT INTO repositories (name, url, default_branch, created_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET url = excluded.url, default_branch = excluded.default_branch`);
  db.transaction(() => {
    for (const r of repos) upsert.run(r.name, r.url, r.defaultBranch, now);
  })();
}
