/**
 * The webhook delivery log (`deliveries` table): every delivery Kiln received, with its outcome,
 * HTTP status and reason, for the UI's delivery view. Bodies and signatures are never stored.
 */
import { randomUUID } from 'node:crypto';
import type { DeliveryRecord } from '../../shared/model/run.js';
import type { Db } from '../storage/db.js';

interface DeliveryRow {
  id: string;
  delivery_id: string;
  event: string;
  repo: string | null;
  received_at: number;
  outcome: DeliveryRecord['outcome'];
  http_status: number;
  reason: string;
  run_ids: string;
}

export type NewDelivery = Omit<DeliveryRecord, 'id'> & { bodySha256?: string };

export class DeliveryLog {
  private readonly insertStmt;
  private readonly listStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(`INSERT INTO deliveries
      (id, delivery_id, body_sha256, event, repo, received_at, outcome, http_status, reason, run_ids)
      VALUES (@id, @deliveryId, @bodySha256, @event, @repo, @receivedAt, @outcome, @httpStatus, @reason, @runIds)`);
    this.listStmt = db.prepare('SELECT * FROM deliveries ORDER BY received_at DESC, rowid DESC LIMIT ?');
  }

  record(d: NewDelivery): DeliveryRecord {
    const rec: DeliveryRecord = {
      id: randomUUID(),
      deliveryId: d.deliveryId,
      event: d.event,
      ...(d.repo !== undefined ? { repo: d.repo } : {}),
      receivedAt: d.receivedAt,
      outcome: d.outcome,
      httpStatus: d.httpStatus,
      reason: d.reason,
      runIds: d.runIds,
    };
    this.insertStmt.run({
      id: rec.id,
      deliveryId: rec.deliveryId,
      bodySha256: d.bodySha256 ?? null,
      event: rec.event,
      repo: rec.repo ?? null,
      receivedAt: rec.receivedAt,
      outcome: rec.outcome,
      httpStatus: rec.httpStatus,
      reason: rec.reason,
      runIds: JSON.stringify(rec.runIds),
    });
    return rec;
  }

  list(limit = 100): DeliveryRecord[] {
    return listDeliveries(this.listStmt, limit);
  }
}

/**
 * The latest deliveries, newest first. Exported for the engine's `listDeliveries` so that both read
 * the table the same way.
 */
export function readDeliveries(db: Db, limit = 100): DeliveryRecord[] {
  return listDeliveries(db.prepare('SELECT * FROM deliveries ORDER BY received_at DESC, rowid DESC LIMIT ?'), limit);
}

function listDeliveries(stmt: { all(limit: number): unknown[] }, limit: number): DeliveryRecord[] {
  const n = Math.max(1, Math.min(1000, Math.floor(limit) || 100));
  return (stmt.all(n) as DeliveryRow[]).map(toRecord);
}

function toRecord(r: DeliveryRow): DeliveryRecord {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    event: r.event,
    ...(r.repo !== null ? { repo: r.repo } : {}),
    receivedAt: r.received_at,
    outcome: r.outcome,
    httpStatus: r.http_status,
    reason: r.reason,
    runIds: JSON.parse(r.run_ids) as string[],
  };
}
