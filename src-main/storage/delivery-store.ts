/**
 * Webhook deliveries at rest: the delivery log (`deliveries`: every delivery received, with its
 * outcome, HTTP status and reason, for the UI; bodies and signatures are never stored) and the
 * replay table (`seen_deliveries`: delivery ids and body digests of processed deliveries).
 *
 * The replay table is also held in memory (loaded at start, updated when a write commits), so the
 * check per delivery never queries SQLite: two random-key lookups in a growing index. Insertion
 * order is time order, which lets expiry stop at the first live entry. About 200 bytes per
 * delivery: 10,000 deliveries a day kept for 3 days is some 6 MB.
 *
 * Writes go through the engine's group commit: a delivery processed into runs is recorded by the
 * engine inside the runs' own write (`record`), any other delivery in a write of its own (`write`).
 * The replay keys are known in memory only once the write that stored them has committed; a write
 * that rolls back leaves them unknown, so GitHub's redelivery passes.
 */
import { randomUUID } from 'node:crypto';
import type { DeliveryRecord } from '../../shared/model/run.js';
import type { Db } from './db.js';
import type { GroupCommit } from './group-commit.js';

/** A delivery to record. `remember`: a processed delivery, whose id and body digest are kept for replay protection. */
export type NewDelivery = Omit<DeliveryRecord, 'id'> & { bodySha256?: string; remember?: boolean };

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

export class DeliveryStore {
  private readonly insertDelivery;
  private readonly listDeliveries;
  private readonly insertSeen;
  private readonly deleteSeen;
  private readonly purgeSeen;
  private readonly seen = new Map<string, number>();

  constructor(private readonly db: Db, private readonly commits?: GroupCommit) {
    this.insertDelivery = db.prepare(`INSERT INTO deliveries
      (id, delivery_id, body_sha256, event, repo, received_at, outcome, http_status, reason, run_ids)
      VALUES (@id, @deliveryId, @bodySha256, @event, @repo, @receivedAt, @outcome, @httpStatus, @reason, @runIds)`);
    this.listDeliveries = db.prepare('SELECT * FROM deliveries ORDER BY received_at DESC, rowid DESC LIMIT ?');
    this.insertSeen = db.prepare('INSERT OR IGNORE INTO seen_deliveries (seen_at, key) VALUES (?, ?)');
    this.deleteSeen = db.prepare('DELETE FROM seen_deliveries WHERE key = ?');
    this.purgeSeen = db.prepare('DELETE FROM seen_deliveries WHERE seen_at < ?');
    for (const row of db.prepare('SELECT key, seen_at FROM seen_deliveries').iterate() as Iterable<{ key: string; seen_at: number }>) {
      this.seen.set(row.key, row.seen_at);
    }
  }

  /** Stores a delivery (and, when `remember`, its replay keys). Call inside a transaction: the runs' write, or `write`. */
  record(d: NewDelivery): DeliveryRecord {
    const rec: DeliveryRecord = {
      id: randomUUID(), deliveryId: d.deliveryId, event: d.event, ...(d.repo !== undefined ? { repo: d.repo } : {}),
      receivedAt: d.receivedAt, outcome: d.outcome, httpStatus: d.httpStatus, reason: d.reason, runIds: d.runIds,
    };
    this.insertDelivery.run({
      id: rec.id, deliveryId: rec.deliveryId, bodySha256: d.bodySha256 ?? null, event: rec.event, repo: rec.repo ?? null,
      receivedAt: rec.receivedAt, outcome: rec.outcome, httpStatus: rec.httpStatus, reason: rec.reason, runIds: JSON.stringify(rec.runIds),
    });
    if (d.remember && d.bodySha256 !== undefined) this.remember(d.deliveryId, d.bodySha256, d.receivedAt);
    return rec;
  }

  /** `record` in a group-commit write of its own; resolves once it is on disk. */
  write(d: NewDelivery): Promise<DeliveryRecord> {
    if (!this.commits) return Promise.resolve(this.db.transaction(() => this.record(d))());
    return this.commits.write(() => this.record(d));
  }

  /** The latest deliveries, newest first (at most 1,000). */
  list(limit = 100): DeliveryRecord[] {
    const n = Math.max(1, Math.min(1000, Math.floor(limit) || 100));
    return (this.listDeliveries.all(n) as DeliveryRow[]).map(toRecord);
  }

  /** When this delivery id, and this body digest, were last remembered (epoch ms), if they were. */
  seenAt(deliveryId: string, bodySha256: string): { id?: number; body?: number } {
    return { id: this.seen.get(idKey(deliveryId)), body: this.seen.get(bodyKey(bodySha256)) };
  }

  /**
   * Stores the delivery's replay keys; call inside a transaction. Memory learns them when it commits
   * (inside a group commit: when the group does).
   */
  remember(deliveryId: string, bodySha256: string, at: number): void {
    const keys = keysOf(deliveryId, bodySha256);
    for (const key of keys) this.insertSeen.run(at, key);
    if (this.commits) this.commits.afterCommit(() => this.learn(keys, at));
    else this.learn(keys, at);
  }

  /** `remember` in a transaction of its own, known in memory once it has committed. */
  rememberNow(deliveryId: string, bodySha256: string, at: number): void {
    const keys = keysOf(deliveryId, bodySha256);
    this.db.transaction(() => { for (const key of keys) this.insertSeen.run(at, key); })();
    this.learn(keys, at);
  }

  forget(deliveryId: string, bodySha256: string): void {
    for (const key of keysOf(deliveryId, bodySha256)) {
      this.deleteSeen.run(key);
      this.seen.delete(key);
    }
  }

  /** Deletes replay keys remembered before `cutoff`; returns the rows removed. */
  expire(cutoff: number): number {
    for (const [key, at] of this.seen) {
      if (at >= cutoff) break;
      this.seen.delete(key);
    }
    return this.purgeSeen.run(cutoff).changes;
  }

  private learn(keys: string[], at: number): void {
    for (const key of keys) {
      this.seen.delete(key); // re-inserted at the end: the map stays (nearly) in time order
      this.seen.set(key, at);
    }
  }
}

function toRecord(r: DeliveryRow): DeliveryRecord {
  return {
    id: r.id, deliveryId: r.delivery_id, event: r.event, ...(r.repo !== null ? { repo: r.repo } : {}), receivedAt: r.received_at,
    outcome: r.outcome, httpStatus: r.http_status, reason: r.reason, runIds: JSON.parse(r.run_ids) as string[],
  };
}

function idKey(id: string): string {
  return `id:${id}`;
}

function bodyKey(sha: string): string {
  return `body:${sha}`;
}

function keysOf(deliveryId: string, bodySha256: string): string[] {
  return [idKey(deliveryId), bodyKey(bodySha256)];
}
