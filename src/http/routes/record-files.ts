import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { containerOf, CONTENT_TYPES, isCuttable } from '../../records/containers.js';
import { CutRangeError, parseCutRange, type CutRange } from '../cut-range.js';
import { HttpError } from '../http-error.js';
import { CutDamagedError, CutFailedError, CutNoSpaceError, CutSourceError, CutterBusyError, CutterClosedError, CUT_RETRY_AFTER_SECONDS, type CutResult, type Mp4Cutter } from '../mp4-cutter.js';
import { openRecordInside, recordPathInside, type OpenedRecord } from '../safe-path.js';
import { sendOpenedRecord } from '../send-record.js';
import { errorResponses } from '../schemas.js';
import { contentDisposition } from '../content-disposition.js';
import type { BucketRecords } from '../../storage/bucket-records.js';
import { sendBucketRecord } from '../send-bucket-record.js';
import type { ClusterReads } from '../cluster-reads.js';

export interface RecordFilesOptions {
  readonly recordDir: string;
  readonly contentDisposition: 'inline' | 'attachment';
}

interface RecordQuery {
  start?: string;
  end?: string;
  token?: string;
  exp?: string;
  sig?: string;
}

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    start: { type: 'string', maxLength: 32, description: 'MP4 only: seconds from the start of the record where the part begins' },
    end: { type: 'string', maxLength: 32, description: 'MP4 only: seconds from the start of the record where the part ends' },
    token: { type: 'string', maxLength: 1024, description: 'records_access_token, when set (or Authorization: Bearer)' },
    exp: { type: 'string', maxLength: 12, description: 'signed URL expiry, epoch seconds (/rest-api/records/sign)' },
    sig: { type: 'string', maxLength: 128, description: 'signed URL signature (/rest-api/records/sign): stands in for the token' },
  },
} as const;

/**
 * GET/HEAD /client/records/<file>: a finished record from record_dir, with
 * byte ranges (players seek), its container's Content-Type and
 * Content-Disposition from record_response_content_disposition_header_value.
 * `?start=S&end=E` on an MP4 record answers that part of it, cut once by
 * the Mp4Cutter and kept in mp4_cutter_dir; other containers are served
 * whole whatever the parameters (as WCS does). Only plain file names
 * directly inside record_dir are served: "..", encoded slashes, hidden
 * files and symlinks that lead out all answer 404. Each file is opened once
 * and served from that descriptor after checking what was opened (a regular
 * file directly inside the folder): a symlink swapped in between a check and
 * the open can never serve a file from elsewhere.
 */
export async function registerRecordFiles(
  app: FastifyInstance,
  options: RecordFilesOptions,
  cutter: Mp4Cutter,
  bucket: BucketRecords | null = null,
  cluster?: ClusterReads,
): Promise<void> {
  const open = async (dir: string, fileName: string): Promise<OpenedRecord> => {
    const opened = await openRecordInside(dir, fileName);
    if (opened === null) throw new HttpError(404, `Record '${fileName}' not found`);
    return opened;
  };
  /** A whole record: the local file, else (record_upload_url) its verified copy in the bucket, proxied with the byte range. */
  const sendWhole = async (req: FastifyRequest, reply: FastifyReply, fileName: string): Promise<FastifyReply> => {
    const opened = await openRecordInside(options.recordDir, fileName);
    if (opened !== null) return send(req, reply, opened, fileName);
    const row = bucket !== null && recordPathInside(options.recordDir, fileName) !== null ? await bucket.inBucket(fileName) : null;
    if (row === null) throw new HttpError(404, `Record '${fileName}' not found`);
    const container = containerOf(fileName);
    const type = container === null ? 'application/octet-stream' : CONTENT_TYPES[container];
    return sendBucketRecord(req, reply, bucket!.bucket, row.key, row.size, type, contentDisposition(options.contentDisposition, fileName));
  };
  const send = (req: FastifyRequest, reply: FastifyReply, opened: OpenedRecord, fileName: string): FastifyReply => {
    const container = containerOf(fileName);
    const type = container === null ? 'application/octet-stream' : CONTENT_TYPES[container];
    return sendOpenedRecord(req, reply, opened, type, contentDisposition(options.contentDisposition, fileName));
  };
  /**
   * The part of a record, or the HTTP answer for why not: 422 naming a
   * damaged record, 503 with Retry-After when the cutter is busy or cannot
   * cut now (ffmpeg missing, over its time limit, the part not written);
   * never 500.
   */
  const cutOrAnswer = async (req: FastifyRequest, reply: FastifyReply, fileName: string, range: CutRange): Promise<CutResult> => {
    try {
      return await cutter.cut(fileName, range);
    } catch (err) {
      if (err instanceof CutDamagedError) {
        // the record itself: the same request fails the same way until it is repaired or replaced
        req.log.warn({ record: err.fileName, reason: err.why }, 'Record part refused: the record is damaged');
        throw new HttpError(422, `${err.message}; download it whole without ?start=&end=, or ask for another record`);
      }
      if (err instanceof CutFailedError) {
        // this server's trouble, logged by the cutter: try again later
        reply.header('Retry-After', String(err.retryAfterSeconds));
        throw new HttpError(503, err.message);
      }
      if (err instanceof CutRangeError) throw new HttpError(400, err.message);
      if (err instanceof CutSourceError) throw new HttpError(404, err.message);
      if (err instanceof CutterBusyError) {
        reply.header('Retry-After', String(err.retryAfterSeconds));
        throw new HttpError(503, err.message);
      }
      if (err instanceof CutNoSpaceError) throw new HttpError(507, err.message);
      if (err instanceof CutterClosedError) throw new HttpError(503, 'Server is shutting down');
      // anything else is a fault of this server, not of the request: said, logged, and never a 500
      req.log.error({ record: fileName, err }, 'Record part could not be cut');
      reply.header('Retry-After', String(CUT_RETRY_AFTER_SECONDS));
      throw new HttpError(503, `Record '${fileName}' cannot be cut now; try again later`);
    }
  };
  app.route<{ Params: { file: string }; Querystring: RecordQuery }>({
    method: ['GET', 'HEAD'],
    url: '/client/records/:file',
    schema: {
      summary: 'A record, whole or (MP4, ?start=&end=) a part of it; byte ranges supported',
      description:
        'A part (?start=&end=) of a damaged record (cut short, unreadable by ffprobe or ffmpeg) answers 422 naming the record; ' +
        'a part that cannot be cut now (busy, ffmpeg missing or over its time limit, the part not written) 503 with Retry-After; 507 no room for it.',
      params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 1024 } } },
      querystring: querySchema,
      produces: [...new Set(Object.values(CONTENT_TYPES))],
      response: {
        200: { type: 'string', format: 'binary' },
        206: { type: 'string', format: 'binary' },
        ...errorResponses(400, 401, 404, 416, 422, 502, 503, 504, 507),
      },
    },
    handler: async (req, reply) => {
      const fileName = req.params.file;
      // a record another node holds (shared catalog): proxied to it, from the bucket, or 503 saying why not
      if (cluster && (await cluster.serveRecord(req, reply, fileName))) return reply;
      if (!isCuttable(containerOf(fileName))) return sendWhole(req, reply, fileName);
      let range;
      try {
        range = parseCutRange(req.query);
      } catch (err) {
        if (err instanceof CutRangeError) throw new HttpError(400, err.message);
        throw err;
      }
      if (range === null) return sendWhole(req, reply, fileName);
      // a stored part may be removed from the cache (mp4_cutter_cache_max_size) between the cut and the open: cut once more
      for (let attempt = 1; ; attempt++) {
        const part = await cutOrAnswer(req, reply, fileName, range);
        const opened = await openRecordInside(part.dir, part.fileName);
        if (opened !== null) return send(req, reply, opened, part.fileName);
        if (attempt === 2) throw new HttpError(404, `Record '${fileName}' not found`);
      }
    },
  });
  // anything deeper than one plain name (a "/" after decoding) is never a record
  app.route({
    method: ['GET', 'HEAD'],
    url: '/client/records/*',
    schema: {
      params: { type: 'object', properties: { '*': { type: 'string' } } },
      response: errorResponses(404),
    },
    handler: async () => {
      throw new HttpError(404, 'Not found');
    },
  });
}
