import type Database from 'better-sqlite3';
import { migrate } from '../catalog/sqlite-migrations.js';
import type { DeliveryQuery, DeliveryState, DueDelivery, WebhookDelivery, WebhookEvent, WebhookOutbox } from './webhook-outbox.js';
import { deliveryOf, type DeliveryDbRow } from './delivery-db-row.js';
import { shortError } from '../util/short-error.js';
import type { ReleasedClaim } from '../cluster/claim-takeover.js';

const MIGRATIONS = [
  `CREATE TABLE webhook_events (
     id TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     created_ms INTEGER NOT NULL,
     body TEXT NOT NULL
   );
   CREATE TABLE webhook_deliveries (
     event_id TEXT NOT NULL,
     url TEXT NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_ms INTEGER NOT NULL,
     last_status INTEGER,
     last_error TEXT,
     created_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL,
     delivered_ms INTEGER,
     PRIMARY KEY (event_id, url)
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ms);
   CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_ms);`,
];

const SELECT = `SELECT d.event_id, e.type, d.url, d.state, d.attempts, d.next_attempt_ms, d.last_status, d.last_error, d.created_ms, d.updated_ms, d.delivered_ms
  FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id`;

/** The webhook outbox in the catalog's SQLite file (tables webhook_events, webhook_deliveries; meta `webhooks_schema_version`). */
export class SqliteWebhookOutbox implements WebhookOutbox {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
    migrate(db, 'webhooks', MIGRATIONS);
  }

  async add(event: WebhookEvent, urls: readonly string[]): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare('INSERT OR IGNORE INTO webhook_events (id, type, created_ms, body) VALUES (?, ?, ?, ?)').run(event.id, event.type, event.createdMs, event.body);
      const add = this.#db.prepare(
        "INSERT OR IGNORE INTO webhook_deliveries (event_id, url, state, attempts, next_attempt_ms, created_ms, updated_ms) VALUES (?, ?, 'pending', 0, ?, ?, ?)",
      );
      for (const url of new Set(urls)) add.run(event.id, url, event.createdMs, event.createdMs, event.createdMs);
    })();
  }

  async claim(nowMs: number, limit: number): Promise<DueDelivery[]> {
    return this.#db.transaction(() => {
      const rows = this.#db
        .prepare(`${SELECT.replace('SELECT ', 'SELECT e.body, ')} WHERE d.state = 'pending' AND d.next_attempt_ms <= ? ORDER BY d.next_attempt_ms, d.created_ms LIMIT ?`)
        .all(nowMs, limit) as (DeliveryDbRow & { body: string })[];
      const mark = this.#db.prepare("UPDATE webhook_deliveries SET state = 'delivering', updated_ms = ? WHERE event_id = ? AND url = ?");
      for (const r of rows) mark.run(nowMs, r.event_id, r.url);
      return rows.map((r) => ({ ...deliveryOf(r), state: 'delivering' as const, updatedMs: nowMs, body: r.body }));
    })();
  }

  async resetInterrupted(nowMs: number): Promise<number> {
    return this.#db.prepare("UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = ?, updated_ms = ? WHERE state = 'delivering'").run(nowMs, nowMs).changes;
  }

  /** One node only: its own claims come back at its next start (resetInterrupted). */
  async releaseAbandoned(): Promise<ReleasedClaim[]> {
    return [];
  }

  async markDelivered(eventId: string, url: string, status: number, nowMs: number): Promise<void> {
    this.#db
      .prepare("UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, delivered_ms = ?, updated_ms = ? WHERE event_id = ? AND url = ?")
      .run(status, nowMs, nowMs, eventId, url);
  }

  async markRetry(eventId: string, url: string, status: number | null, error: string, nextAttemptMs: number, nowMs: number): Promise<void> {
    this.#db
      .prepare("UPDATE webhook_deliveries SET state = 'pending', attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_ms = ?, updated_ms = ? WHERE event_id = ? AND url = ?")
      .run(status, shortError(error), Math.round(nextAttemptMs), nowMs, eventId, url);
  }

  async markDead(eventId: string, url: string, status: number | null, error: string, nowMs: number): Promise<void> {
    this.#db
      .prepare("UPDATE webhook_deliveries SET state = 'dead', attempts = attempts + 1, last_status = ?, last_error = ?, updated_ms = ? WHERE event_id = ? AND url = ?")
      .run(status, shortError(error), nowMs, eventId, url);
  }

  async list(query: DeliveryQuery): Promise<{ total: number; deliveries: WebhookDelivery[] }> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.states && query.states.length > 0) {
      where.push(`d.state IN (${query.states.map(() => '?').join(', ')})`);
      params.push(...query.states);
    }
    if (query.type !== undefined) {
      where.push('e.type = ?');
      params.push(query.type);
    }
    if (query.eventId !== undefined) {
      where.push('d.event_id = ?');
      params.push(query.eventId);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.#db.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id ${clause}`).get(...params) as { n: number }).n;
    const rows = this.#db
      .prepare(`${SELECT} ${clause} ORDER BY d.created_ms DESC, d.event_id, d.url LIMIT ? OFFSET ?`)
      .all(...params, query.limit ?? 100, query.offset ?? 0) as DeliveryDbRow[];
    return { total, deliveries: rows.map(deliveryOf) };
  }

  async counts(): Promise<Record<DeliveryState, number>> {
    const out: Record<DeliveryState, number> = { pending: 0, delivering: 0, delivered: 0, dead: 0 };
    for (const r of this.#db.prepare('SELECT state, COUNT(*) AS n FROM webhook_deliveries GROUP BY state').all() as { state: DeliveryState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  async prune(beforeMs: number): Promise<number> {
    return this.#db.transaction(() => {
      const n = this.#db.prepare("DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'dead') AND updated_ms < ?").run(beforeMs).changes;
      this.#db.prepare('DELETE FROM webhook_events WHERE id NOT IN (SELECT event_id FROM webhook_deliveries)').run();
      return n;
    })();
  }
}
