import type { DeliveryState, WebhookDelivery, WebhookEventType } from './webhook-outbox.js';

/**
 * A webhook delivery row (joined with its event's type) as either engine
 * returns it: SQLite gives numbers, PostgreSQL's BIGINT columns strings.
 * One mapping for both outboxes.
 */
export interface DeliveryDbRow {
  event_id: string;
  type: string;
  url: string;
  state: string;
  attempts: number;
  next_attempt_ms: number | string;
  last_status: number | null;
  last_error: string | null;
  created_ms: number | string;
  updated_ms: number | string;
  delivered_ms: number | string | null;
}

export function deliveryOf(r: DeliveryDbRow): WebhookDelivery {
  return {
    eventId: r.event_id,
    type: r.type as WebhookEventType,
    url: r.url,
    state: r.state as DeliveryState,
    attempts: r.attempts,
    nextAttemptMs: Number(r.next_attempt_ms),
    lastStatus: r.last_status,
    lastError: r.last_error,
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
    deliveredMs: r.delivered_ms === null ? null : Number(r.delivered_ms),
  };
}
