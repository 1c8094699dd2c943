import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { PartsBusyError, type PartSource } from '../../catalog/part-source.js';
import { checkStreamName } from '../../streams/stream-name.js';
import { HttpError } from '../http-error.js';
import { formatGaps, parsePlaybackRange, planStitch, PlaybackRangeError, type PlaybackRange } from '../playback/playback-plan.js';
import {
  PlaybackBusyError,
  PlaybackClosedError,
  PlaybackDamagedError,
  PlaybackFailedError,
  PlaybackMismatchError,
  PlaybackSourceError,
  PlaybackUnsupportedError,
  type PlaybackStitcher,
} from '../playback/playback-stitcher.js';
import { sendComposed } from '../playback/serve-composed.js';
import { errorResponses } from '../schemas.js';
import { contentDisposition } from '../content-disposition.js';
import type { ClusterReads } from '../cluster-reads.js';

export interface StreamPlaybackOptions {
  readonly contentDisposition: 'inline' | 'attachment';
}

export interface StreamPlaybackDeps {
  readonly parts: PartSource;
  readonly stitcher: PlaybackStitcher;
  /** Parts other nodes hold (shared catalog); absent = every part is on this node. */
  readonly cluster?: ClusterReads;
}

interface PlaybackQuery {
  from?: string;
  to?: string;
  token?: string;
  exp?: string;
  sig?: string;
}

/** Seconds a client is told to wait when too many answers are being prepared. */
const RETRY_AFTER_SECONDS = 5;

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', maxLength: 40, description: 'Start: epoch milliseconds or ISO 8601 with a zone (required)' },
    to: { type: 'string', maxLength: 40, description: 'End: epoch milliseconds or ISO 8601; absent = to the end of what is recorded (at most 24 h after from)' },
    token: { type: 'string', maxLength: 1024, description: 'records_access_token, when set (or Authorization: Bearer)' },
    exp: { type: 'string', maxLength: 12, description: 'signed URL expiry, epoch seconds (/rest-api/records/sign)' },
    sig: { type: 'string', maxLength: 128, description: 'signed URL signature (/rest-api/records/sign): stands in for the token' },
  },
} as const;

function dispositionName(streamName: string, range: { fromMs: number; toMs: number }): string {
  return `${streamName}-${range.fromMs}-${range.toMs}.mp4`;
}

/**
 * GET/HEAD /client/streams/<stream>.mp4?from=&to=: one MP4 holding the
 * stream's recorded media over that wall-clock range, joined from every part
 * that overlaps it (PlaybackStitcher), gaps left out and listed in
 * X-Recording-Gaps, served from the cache with byte ranges.
 */
export async function registerStreamPlayback(app: FastifyInstance, options: StreamPlaybackOptions, deps: StreamPlaybackDeps): Promise<void> {
  await app.register(fastifyStatic, {
    root: deps.stitcher.cacheDir,
    serve: false,
    decorateReply: true,
    dotfiles: 'deny',
  });
  app.route<{ Params: { file: string }; Querystring: PlaybackQuery }>({
    method: ['GET', 'HEAD'],
    url: '/client/streams/:file',
    schema: {
      summary: "A stream's recording over a time range, joined from its parts into one MP4; byte ranges supported",
      params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 1024, description: '<stream name>.mp4' } } },
      querystring: querySchema,
      produces: ['video/mp4'],
      response: {
        200: { type: 'string', format: 'binary' },
        206: { type: 'string', format: 'binary' },
        ...errorResponses(400, 401, 404, 409, 422, 502, 503, 504),
      },
    },
    handler: async (req, reply) => {
      const file = req.params.file;
      if (!file.toLowerCase().endsWith('.mp4')) throw new HttpError(404, `Only <stream>.mp4 is served here, not '${file}'`);
      const name = checkStreamName(file.slice(0, -4));
      if (!name.ok) throw new HttpError(400, name.reason);
      let range: PlaybackRange;
      try {
        range = parsePlaybackRange(req.query);
      } catch (err) {
        if (err instanceof PlaybackRangeError) throw new HttpError(400, err.message);
        throw err;
      }
      // a part that moves between the lookup and the read is looked up once more
      for (let attempt = 1; ; attempt++) {
        let found;
        try {
          found = await deps.parts.partsOverlapping(name.value, range.fromMs, range.toMs);
        } catch (err) {
          if (err instanceof PartsBusyError) {
            return reply.status(503).header('Retry-After', String(RETRY_AFTER_SECONDS)).send({ error: 503, message: err.message });
          }
          throw err;
        }
        const parts = deps.cluster ? await deps.cluster.playbackParts(req, reply, name.value, found) : found;
        if (parts === null) return reply;
        const plan = planStitch(parts, range.fromMs, range.toMs);
        if (plan === null) throw new HttpError(404, `Nothing of stream '${name.value}' is recorded between ${range.fromMs} and ${range.toMs}`);
        try {
          const answer = await deps.stitcher.stitch(name.value, plan);
          reply.header('X-Recording-Range', `${plan.fromMs}-${plan.toMs}`);
          reply.header('X-Recording-Gaps', formatGaps(plan.gaps));
          reply.header('Content-Disposition', contentDisposition(options.contentDisposition, dispositionName(name.value, plan)));
          if (answer.kind === 'composed') return await sendComposed(req, reply, answer.answer, answer.key);
          return reply.sendFile(answer.fileName, deps.stitcher.cacheDir);
        } catch (err) {
          if (err instanceof PlaybackMismatchError || err instanceof PlaybackUnsupportedError) throw new HttpError(422, err.message);
          if (err instanceof PlaybackDamagedError) {
            // the record itself: the same request fails the same way until it is repaired or deleted
            req.log.warn({ stream: name.value, file: err.fileName, reason: err.message }, 'Playback refused: a part of the range is damaged');
            throw new HttpError(422, `${err.message}; ask for a range that leaves it out, or download it whole from /client/records/`);
          }
          if (err instanceof PlaybackSourceError && attempt === 1) {
            // a part left the disk between the lookup and the read (uploaded and deleted locally, or retention):
            // look the parts up once more, the catalog now says where it is
            req.log.info({ stream: name.value, reason: err.message }, 'Playback: a part moved while the answer was planned; planning again');
            continue;
          }
          if (err instanceof PlaybackSourceError) throw new HttpError(404, err.message);
          if (err instanceof PlaybackBusyError) {
            return reply.status(503).header('Retry-After', String(RETRY_AFTER_SECONDS)).send({ error: 503, message: err.message });
          }
          if (err instanceof PlaybackClosedError) throw new HttpError(503, 'Server is shutting down');
          if (err instanceof PlaybackFailedError) {
            // this server's trouble (ffmpeg missing, the time limit, the answer not written), logged by the stitcher: try again later
            return reply.status(503).header('Retry-After', String(RETRY_AFTER_SECONDS)).send({ error: 503, message: `Playback cannot be prepared now: ${err.message}` });
          }
          if (err instanceof PlaybackRangeError) throw new HttpError(400, err.message);
          throw err;
        }
      }
    },
  });
}
