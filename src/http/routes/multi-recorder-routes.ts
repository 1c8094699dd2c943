import type { FastifyInstance } from 'fastify';
import { DiskSpaceError } from '../../recording/recorder-manager.js';
import { HttpError } from '../http-error.js';
import { requireText } from '../name-guard.js';
import { emptyAnswerSchema, emptyBodySchema, errorResponses, mediaSessionIdSchema } from '../schemas.js';
import {
  AlreadyAddedError,
  MultiRecorderUriError,
  NotAddedError,
  RecorderExistsError,
  TranscodingLimitError,
  UnknownRecorderError,
  UnknownStreamError,
  UnsupportedStreamError,
  type MultiRecorderManager,
} from '../../recording/multi/multi-recorder-manager.js';

const uriSchema = { type: 'string', minLength: 1, maxLength: 255, description: 'multi-recorder://<name>' } as const;

const uriBodySchema = {
  type: 'object',
  required: ['uri'],
  additionalProperties: false,
  properties: { uri: uriSchema },
} as const;

const memberBodySchema = {
  type: 'object',
  required: ['uri', 'mediaSessionId'],
  additionalProperties: false,
  properties: { uri: uriSchema, mediaSessionId: mediaSessionIdSchema },
} as const;

/** Our errors as HTTP statuses (WCS: 409 exists / already added, 404 unknown). */
function httpError(err: unknown): unknown {
  if (err instanceof MultiRecorderUriError || err instanceof UnsupportedStreamError) return new HttpError(400, err.message);
  if (err instanceof UnknownRecorderError || err instanceof UnknownStreamError || err instanceof NotAddedError) return new HttpError(404, err.message);
  if (err instanceof RecorderExistsError || err instanceof AlreadyAddedError) return new HttpError(409, err.message);
  if (err instanceof DiskSpaceError) return new HttpError(507, err.message);
  if (err instanceof TranscodingLimitError) return new HttpError(503, err.message);
  return err;
}

/** Longest recorder URI in bytes (255 characters of up to 4 bytes; the schema counts characters). */
const MAX_URI_BYTES = 255 * 4;

async function answer(uri: string, run: () => unknown): Promise<Record<string, never>> {
  requireText(uri, 'uri', MAX_URI_BYTES);
  try {
    await run();
  } catch (err) {
    throw httpError(err);
  }
  return {};
}

/** /rest-api/multipleRecorder/*: several streams recorded into one MP4. */
export function registerMultiRecorderRoutes(app: FastifyInstance, multi: MultiRecorderManager): void {
  app.post<{ Body: { uri: string } }>(
    '/rest-api/multipleRecorder/startup',
    {
      schema: {
        summary: 'Starts a multiple streams recorder (one MP4, each stream its own tracks); 409 if the URI exists',
        body: uriBodySchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 409, 413) },
      },
    },
    async (req) => answer(req.body.uri, () => multi.startup(req.body.uri)),
  );
  app.post<{ Body: { uri: string; mediaSessionId: string } }>(
    '/rest-api/multipleRecorder/add',
    {
      schema: {
        summary:
          'Adds a published stream to a recorder (new tracks from now on; H.264 copied, VP8 encoded to H.264, audio to AAC); 404 unknown recorder or stream, 409 already added, 503 (Retry-After) every transcoding place taken',
        body: memberBodySchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 409, 413, 503) },
      },
    },
    async (req, reply) =>
      answer(req.body.uri, () => {
        try {
          multi.add(req.body.uri, req.body.mediaSessionId);
        } catch (err) {
          if (err instanceof TranscodingLimitError) void reply.header('Retry-After', String(err.retryAfterSeconds));
          throw err;
        }
      }),
  );
  app.post<{ Body: { uri: string; mediaSessionId: string } }>(
    '/rest-api/multipleRecorder/remove',
    {
      schema: {
        summary: 'Removes a stream from a recorder (its tracks end here); 404 unknown recorder or stream not added',
        body: memberBodySchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => answer(req.body.uri, () => multi.remove(req.body.uri, req.body.mediaSessionId)),
  );
  app.post(
    '/rest-api/multipleRecorder/find_all',
    {
      schema: {
        summary: 'Multiple recorders in progress; 404 when there are none (as WCS)',
        body: emptyBodySchema,
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                uri: { type: 'string' },
                mediaSessionsId: { type: 'array', items: { type: 'string' }, description: 'streams being recorded now, in join order' },
                fileName: { type: 'string', description: 'elements not known yet ({endTimeMillis}, {duration}) stay literal' },
              },
            },
          },
          ...errorResponses(400, 401, 404, 413),
        },
      },
    },
    async () => {
      const list = multi.findAll();
      if (list.length === 0) throw new HttpError(404, 'No multiple recorders');
      return list;
    },
  );
  app.post<{ Body: { uri: string } }>(
    '/rest-api/multipleRecorder/terminate',
    {
      schema: {
        summary: 'Stops a recorder: answers once the MP4 is assembled; on_multiple_record_hook_script then runs',
        body: uriBodySchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => answer(req.body.uri, () => multi.terminate(req.body.uri)),
  );
}
