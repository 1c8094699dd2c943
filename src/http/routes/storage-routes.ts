import type { FastifyInstance } from 'fastify';
import { DELIVERY_STATES, WEBHOOK_EVENT_TYPES, type DeliveryState, type WebhookEventType, type WebhookOutbox } from '../../events/webhook-outbox.js';
import { UPLOAD_STATES, type UploadRow, type UploadState, type UploadStore } from '../../storage/upload-store.js';
import { errorResponses } from '../schemas.js';

export interface StorageRoutesSource {
  /** null when record_upload_url is empty. */
  readonly uploads: UploadStore | null;
  /** null when record_webhook_url is empty. */
  readonly outbox: WebhookOutbox | null;
}

/** Query strings are not coerced by this server's schemas: numbers come as digit strings. */
const pageProperties = {
  offset: { type: 'string', pattern: '^[0-9]{1,7}$', description: 'rows to skip (default 0)' },
  limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'rows to answer, 1 to 1000 (default 100)' },
} as const;

function pageOf(q: { offset?: string; limit?: string }): { offset: number; limit: number } {
  return { offset: Number(q.offset ?? 0), limit: Math.min(1000, Math.max(1, Number(q.limit ?? 100))) };
}

/** An upload row as the API shows it (the bucket, key and state; never credentials or the endpoint). */
export function uploadJson(u: UploadRow): Record<string, unknown> {
  return {
    state: u.state,
    bucket: u.bucket,
    key: u.key,
    node: u.node,
    size: u.size,
    attempts: u.attempts,
    nextAttemptMillis: u.state === 'pending' ? u.nextAttemptMs : null,
    lastError: u.lastError,
    sha256: u.sha256,
    etag: u.etag,
    uploadedMillis: u.uploadedMs,
    localDeleted: u.localDeleted,
    remoteDeletedMillis: u.remoteDeletedAt,
  };
}

export const uploadSchema = {
  type: ['object', 'null'],
  description: 'The record\'s copy in S3-compatible storage (record_upload_url); null when it was never queued',
  properties: {
    state: { type: 'string', enum: [...UPLOAD_STATES] },
    bucket: { type: 'string' },
    key: { type: 'string' },
    node: { type: 'string' },
    size: { type: 'integer' },
    attempts: { type: 'integer' },
    nextAttemptMillis: { type: ['integer', 'null'] },
    lastError: { type: ['string', 'null'] },
    sha256: { type: ['string', 'null'] },
    etag: { type: ['string', 'null'] },
    uploadedMillis: { type: ['integer', 'null'] },
    localDeleted: { type: 'boolean' },
    remoteDeletedMillis: { type: ['integer', 'null'] },
  },
} as const;

/** GET /rest-api/uploads and GET /rest-api/webhooks/deliveries: the state of the two persisted queues (docs/storage.md, docs/webhooks.md). */
export function registerStorageRoutes(app: FastifyInstance, source: StorageRoutesSource): void {
  app.get<{ Querystring: { state?: UploadState; offset?: string; limit?: string } }>(
    '/rest-api/uploads',
    {
      schema: {
        summary: 'The upload queue: records being copied to the bucket, newest change first',
        querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: [...UPLOAD_STATES] }, ...pageProperties } },
        response: {
          200: {
            type: 'object',
            properties: {
              enabled: { type: 'boolean' },
              counts: { type: 'object', additionalProperties: { type: 'integer' } },
              total: { type: 'integer' },
              uploads: { type: 'array', items: { ...uploadSchema, type: 'object', properties: { ...uploadSchema.properties, fileName: { type: 'string' } } } },
            },
          },
          ...errorResponses(400, 401),
        },
      },
    },
    async (req) => {
      const store = source.uploads;
      if (store === null) return { enabled: false, counts: {}, total: 0, uploads: [] };
      const q = req.query;
      const [counts, page] = await Promise.all([store.counts(), store.list({ ...(q.state ? { states: [q.state] } : {}), ...pageOf(q) })]);
      return { enabled: true, counts, total: page.total, uploads: page.rows.map((u) => ({ fileName: u.fileName, ...uploadJson(u) })) };
    },
  );
  app.get<{ Querystring: { state?: DeliveryState; type?: WebhookEventType; eventId?: string; offset?: string; limit?: string } }>(
    '/rest-api/webhooks/deliveries',
    {
      schema: {
        summary: 'Webhook deliveries (one per event and URL), newest event first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: [...DELIVERY_STATES] },
            type: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] },
            eventId: { type: 'string', minLength: 1, maxLength: 64 },
            ...pageProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              enabled: { type: 'boolean' },
              counts: { type: 'object', additionalProperties: { type: 'integer' } },
              total: { type: 'integer' },
              deliveries: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    eventId: { type: 'string' },
                    type: { type: 'string' },
                    url: { type: 'string' },
                    state: { type: 'string' },
                    attempts: { type: 'integer' },
                    nextAttemptMillis: { type: ['integer', 'null'] },
                    lastStatus: { type: ['integer', 'null'] },
                    lastError: { type: ['string', 'null'] },
                    createdMillis: { type: 'integer' },
                    deliveredMillis: { type: ['integer', 'null'] },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401),
        },
      },
    },
    async (req) => {
      const box = source.outbox;
      if (box === null) return { enabled: false, counts: {}, total: 0, deliveries: [] };
      const q = req.query;
      const [counts, page] = await Promise.all([
        box.counts(),
        box.list({
          ...(q.state ? { states: [q.state] } : {}),
          ...(q.type ? { type: q.type } : {}),
          ...(q.eventId ? { eventId: q.eventId } : {}),
          ...pageOf(q),
        }),
      ]);
      return {
        enabled: true,
        counts,
        total: page.total,
        deliveries: page.deliveries.map((d) => ({
          eventId: d.eventId,
          type: d.type,
          url: d.url,
          state: d.state,
          attempts: d.attempts,
          nextAttemptMillis: d.state === 'pending' ? d.nextAttemptMs : null,
          lastStatus: d.lastStatus,
          lastError: d.lastError,
          createdMillis: d.createdMs,
          deliveredMillis: d.deliveredMs,
        })),
      };
    },
  );
}
