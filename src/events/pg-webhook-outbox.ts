import type pg from 'pg';
import type { DeliveryQuery, DeliveryState, DueDelivery, WebhookDelivery, WebhookEvent, WebhookOutbox } from './webhook-outbox.js';
import { deliveryOf, type DeliveryDbRow } from './delivery-db-row.js';
import { shortError } from '../util/short-error.js';
import type { ClaimTakeover, ReleasedClaim } from '../cluster/claim-takeover.js';
import { nodeAliveSql } from '../cluster/cluster-store.js';

/**
 * The webhook outbox in the shared PostgreSQL catalog (tables made by the
 * catalog's migration 2): the same contract as SqliteWebhookOutbox. Every
 * node may deliver any event: a claim takes deliveries with FOR UPDATE SKIP
 * LOCKED, so two nodes never take the same one, and records which node took
 * it; resetInterrupted() gives back only this node's (a node restarting
 * does not take deliveries another node is sending).
 */

const COLUMNS = 'd.event_id, e.type, d.url, d.state, d.attempts, d.next_attempt_ms, d.last_status, d.last_error, d.created_ms, d.updated_ms, d.delivered_ms';

export class PgWebhookOutbox implements WebhookOutbox {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: () => Promise<void>,
    /** This node: the deliveries it claims are marked with it. */
    private readonly nodeId: string,
  ) {}

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    return this.pool.query<R>(sql, values);
  }

  async add(event: WebhookEvent, urls: readonly string[]): Promise<void> {
    // one statement: the event and its deliveries together, or nothing
    await this.#query(
      `WITH ev AS (INSERT INTO webhook_events (id, type, created_ms, body) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING)
       INSERT INTO webhook_deliveries (event_id, url, state, attempts, next_attempt_ms, created_ms, updated_ms)
       SELECT $1, u, 'pending', 0, $3, $3, $3 FROM unnest($5::text[]) AS u
       ON CONFLICT (event_id, url) DO NOTHING`,
      [event.id, event.type, Math.round(event.createdMs), event.body, [...new Set(urls)]],
    );
  }

  async claim(nowMs: number, limit: number): Promise<DueDelivery[]> {
    const r = await this.#query<DeliveryDbRow & { body: string }>(
      `WITH due AS (
         SELECT event_id, url FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_ms <= $1
         ORDER BY next_attempt_ms, created_ms LIMIT $2 FOR UPDATE SKIP LOCKED),
       taken AS (
         UPDATE webhook_deliveries d SET state = 'delivering', updated_ms = $1, claimed_by = $3
         FROM due WHERE d.event_id = due.event_id AND d.url = due.url RETURNING d.*)
       SELECT e.body, ${COLUMNS} FROM taken d JOIN webhook_events e ON e.id = d.event_id
       ORDER BY d.next_attempt_ms, d.created_ms, d.url`,
      [Math.round(nowMs), limit, this.nodeId],
    );
    return r.rows.map((row) => ({ ...deliveryOf(row), body: row.body }));
  }

  async resetInterrupted(nowMs: number): Promise<number> {
    const r = await this.#query(
      "UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = $1, updated_ms = $1, claimed_by = NULL WHERE state = 'delivering' AND claimed_by = $2",
      [Math.round(nowMs), this.nodeId],
    );
    return r.rowCount ?? 0;
  }

  async releaseAbandoned(nowMs: number, rule: Pick<ClaimTakeover, 'nodeTimeoutMs' | 'leaseMs'>): Promise<ReleasedClaim[]> {
    const r = await this.#query<{ event_id: string; url: string; claimed_by: string | null }>(
      `UPDATE webhook_deliveries d SET state = 'pending', next_attempt_ms = $1, updated_ms = $1, claimed_by = NULL
       FROM (SELECT event_id, url, claimed_by FROM webhook_deliveries
             WHERE state = 'delivering' AND claimed_by IS DISTINCT FROM $2 AND updated_ms <= $1::bigint - $3::bigint
               AND NOT ${nodeAliveSql('webhook_deliveries.claimed_by', '$4')}
             FOR UPDATE SKIP LOCKED) old
       WHERE d.event_id = old.event_id AND d.url = old.url AND d.state = 'delivering'
       RETURNING d.event_id, d.url, old.claimed_by`,
      [Math.round(nowMs), this.nodeId, Math.round(rule.leaseMs), Math.round(rule.nodeTimeoutMs)],
    );
    return r.rows.map((row) => ({ what: `${row.event_id} -> ${row.url}`, node: row.claimed_by }));
  }

  async markDelivered(eventId: string, url: string, status: number, nowMs: number): Promise<void> {
    await this.#query(
      "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, last_status = $1, last_error = NULL, delivered_ms = $2, updated_ms = $2 WHERE event_id = $3 AND url = $4",
      [status, Math.round(nowMs), eventId, url],
    );
  }

  async markRetry(eventId: string, url: string, status: number | null, error: string, nextAttemptMs: number, nowMs: number): Promise<void> {
    await this.#query(
      "UPDATE webhook_deliveries SET state = 'pending', attempts = attempts + 1, last_status = $1, last_error = $2, next_attempt_ms = $3, updated_ms = $4, claimed_by = NULL WHERE event_id = $5 AND url = $6",
      [status, shortError(error), Math.round(nextAttemptMs), Math.round(nowMs), eventId, url],
    );
  }

  async markDead(eventId: string, url: string, status: number | null, error: string, nowMs: number): Promise<void> {
    await this.#query(
      "UPDATE webhook_deliveries SET state = 'dead', attempts = attempts + 1, last_status = $1, last_error = $2, updated_ms = $3 WHERE event_id = $4 AND url = $5",
      [status, shortError(error), Math.round(nowMs), eventId, url],
    );
  }

  async list(query: DeliveryQuery): Promise<{ total: number; deliveries: WebhookDelivery[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.states && query.states.length > 0) {
      params.push([...query.states]);
      where.push(`d.state = ANY($${params.length})`);
    }
    if (query.type !== undefined) {
      params.push(query.type);
      where.push(`e.type = $${params.length}`);
    }
    if (query.eventId !== undefined) {
      params.push(query.eventId);
      where.push(`d.event_id = $${params.length}`);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const from = 'FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id';
    const total = await this.#query<{ n: number }>(`SELECT COUNT(*)::int AS n ${from} ${clause}`, params);
    const rows = await this.#query<DeliveryDbRow>(
      `SELECT ${COLUMNS} ${from} ${clause} ORDER BY d.created_ms DESC, d.event_id, d.url LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, query.limit ?? 100, query.offset ?? 0],
    );
    return { total: total.rows[0]?.n ?? 0, deliveries: rows.rows.map(deliveryOf) };
  }

  async counts(): Promise<Record<DeliveryState, number>> {
    const out: Record<DeliveryState, number> = { pending: 0, delivering: 0, delivered: 0, dead: 0 };
    const r = await this.#query<{ state: DeliveryState; n: number }>('SELECT state, COUNT(*)::int AS n FROM webhook_deliveries GROUP BY state');
    for (const row of r.rows) out[row.state] = row.n;
    return out;
  }

  async prune(beforeMs: number): Promise<number> {
    const r = await this.#query("DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'dead') AND updated_ms < $1", [Math.round(beforeMs)]);
    // events left without deliveries (add() writes an event and its deliveries in one statement)
    await this.#query('DELETE FROM webhook_events e WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)');
    return r.rowCount ?? 0;
  }
}
