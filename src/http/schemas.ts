import { WCS_STREAM_STATUSES } from '../streams/stream-filter.js';

/**
 * JSON schemas shared by the routes. Request schemas reject unknown fields
 * (additionalProperties: false; the server turns ajv's removeAdditional off
 * so they answer 400 instead of being dropped). They also feed the OpenAPI
 * document at /rest-api/docs.
 */

export const errorSchema = {
  type: 'object',
  description: 'Every error: the HTTP status and a message',
  properties: { error: { type: 'integer' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

/** A body that must be absent, null or `{}`. */
export const emptyBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {},
} as const;

export const emptyAnswerSchema = { type: 'object', properties: {}, additionalProperties: false } as const;

export const mediaSessionIdSchema = { type: 'string', minLength: 1, maxLength: 64 } as const;

export const streamSchema = {
  type: 'object',
  properties: {
    mediaSessionId: { type: 'string' },
    name: { type: 'string' },
    published: { type: 'boolean' },
    status: { type: 'string' },
    mediaProvider: { type: 'string', description: '"Flash" for RTMP publishers, as WCS names them' },
    record: { type: 'boolean', description: 'true while the stream is recorded' },
    audioCodec: { type: 'string' },
    videoCodec: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    login: { type: 'string' },
    createdDate: { type: 'integer', description: 'publish time, ms since the epoch' },
  },
} as const;

export const streamFilterSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  description: 'Every field given must match; at least one field',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    mediaSessionId: mediaSessionIdSchema,
    status: { type: 'string', enum: [...WCS_STREAM_STATUSES] },
  },
} as const;

export function errorResponses(...codes: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(codes.map((c) => [c, errorSchema]));
}

/** A pause as listed with a recording in progress (find_all) and with a finished record. */
export const pauseSchema = {
  type: 'object',
  properties: {
    pausedAt: { type: 'integer', description: 'server clock of the pause, ms since the epoch' },
    resumedAt: { type: ['integer', 'null'], description: 'server clock of the resume; null while paused' },
    positionMs: { type: 'integer', description: 'where the pause is in the record, ms from its first media' },
    skippedMs: { type: 'integer', description: "the stream's media time left out, ms (0 until the record continued)" },
  },
} as const;
