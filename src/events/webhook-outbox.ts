import type { ClaimTakeover, ReleasedClaim } from '../cluster/claim-takeover.js';

/**
 * The persistent webhook outbox: every event is stored with one delivery
 * row per receiver URL before anything is sent, so a restart or a crash
 * redelivers what was not acknowledged (at least once; receivers de-duplicate
 * by the event id). SqliteWebhookOutbox is the embedded implementation; a
 * PostgreSQL one implements the same interface.
 *
 * Delivery states: pending (due at nextAttemptMs) -> delivering (a worker
 * has it) -> delivered (2xx) | dead (attempts or age exhausted).
 */

export const WEBHOOK_EVENT_TYPES = [
  'stream.published',
  'stream.unpublished',
  'recording.started',
  'recording.finished',
  'recording.failed',
  'record.uploaded',
  'record.deleted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'dead';
export const DELIVERY_STATES: readonly DeliveryState[] = ['pending', 'delivering', 'delivered', 'dead'];

export interface WebhookEvent {
  /** Unique id (UUID): the receivers' idempotency key. */
  readonly id: string;
  readonly type: WebhookEventType;
  readonly createdMs: number;
  /** The exact JSON body POSTed (and signed). */
  readonly body: string;
}

export interface WebhookDelivery {
  readonly eventId: string;
  readonly type: WebhookEventType;
  readonly url: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly nextAttemptMs: number;
  /** HTTP status of the last try (null: no answer). */
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly deliveredMs: number | null;
}

/** A claimed delivery with the body to send. */
export interface DueDelivery extends WebhookDelivery {
  readonly body: string;
}

export interface DeliveryQuery {
  readonly states?: readonly DeliveryState[];
  readonly type?: WebhookEventType;
  readonly eventId?: string;
  readonly offset?: number;
  /** Default 100. Newest first. */
  readonly limit?: number;
}

export interface WebhookOutbox {
  /** Stores the event and one pending delivery per URL, in one transaction. */
  add(event: WebhookEvent, urls: readonly string[]): Promise<void>;
  /** Takes up to `limit` due pending deliveries (oldest first) and marks them delivering. */
  claim(nowMs: number, limit: number): Promise<DueDelivery[]>;
  /** Deliveries left delivering by a crash go back to pending, due now; returns how many. */
  resetInterrupted(nowMs: number): Promise<number>;
  /**
   * Deliveries another node claimed and abandoned (it is not alive, the claim
   * is older than the lease: ClaimTakeover) go back to pending, due now, for
   * any node to send. A shared outbox only; the embedded one has one node.
   */
  releaseAbandoned(nowMs: number, rule: Pick<ClaimTakeover, 'nodeTimeoutMs' | 'leaseMs'>): Promise<ReleasedClaim[]>;
  markDelivered(eventId: string, url: string, status: number, nowMs: number): Promise<void>;
  markRetry(eventId: string, url: string, status: number | null, error: string, nextAttemptMs: number, nowMs: number): Promise<void>;
  markDead(eventId: string, url: string, status: number | null, error: string, nowMs: number): Promise<void>;
  list(query: DeliveryQuery): Promise<{ total: number; deliveries: WebhookDelivery[] }>;
  counts(): Promise<Record<DeliveryState, number>>;
  /** Removes delivered and dead deliveries (and events left without deliveries) updated before `beforeMs`; returns how many. */
  prune(beforeMs: number): Promise<number>;
}
