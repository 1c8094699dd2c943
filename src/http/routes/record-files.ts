import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { containerOf, CONTENT_TYPES, isCuttable } from '../../records/containers.js';
import { CutRangeError, parseCutRange } from '../cut-range.js';
import { HttpError } from '../http-error.js';
import { CutFailedError, CutSourceError, CutterClosedError, type Mp4Cutter } from '../mp4-cutter.js';
import { existingRecordInside } from '../safe-path.js';
import { errorResponses } from '../schemas.js';

export interface RecordFilesOptions {
  readonly recordDir: string;
  readonly contentDisposition: 'inline' | 'attachment';
}

interface RecordQuery {
  start?: string;
  end?: string;
  token?: string;
}

function contentDisposition(kind: string, fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(fileName);
  return ascii === fileName ? `${kind};filename="${fileName}"` : `${kind};filename="${ascii}";filename*=UTF-8''${encoded}`;
}

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    start: { type: 'string', maxLength: 32, description: 'MP4 only: seconds from the start of the record where the part begins' },
    end: { type: 'string', maxLength: 32, description: 'MP4 only: seconds from the start of the record where the part ends' },
    token: { type: 'string', maxLength: 1024, description: 'records_access_token, when set (or Authorization: Bearer)' },
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
 * files and symlinks that lead out all answer 404.
 */
export async function registerRecordFiles(app: FastifyInstance, options: RecordFilesOptions, cutter: Mp4Cutter): Promise<void> {
  await app.register(fastifyStatic, {
    root: options.recordDir,
    serve: false,
    decorateReply: true,
    dotfiles: 'deny',
  });
  const send = (reply: FastifyReply, dir: string, fileName: string): FastifyReply => {
    reply.header('Content-Disposition', contentDisposition(options.contentDisposition, fileName));
    return reply.sendFile(fileName, dir);
  };
  app.route<{ Params: { file: string }; Querystring: RecordQuery }>({
    method: ['GET', 'HEAD'],
    url: '/client/records/:file',
    schema: {
      summary: 'A record, whole or (MP4, ?start=&end=) a part of it; byte ranges supported',
      params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 1024 } } },
      querystring: querySchema,
      produces: [...new Set(Object.values(CONTENT_TYPES))],
      response: { 200: { type: 'string', format: 'binary' }, 206: { type: 'string', format: 'binary' }, ...errorResponses(400, 401, 404, 500, 503) },
    },
    handler: async (req, reply) => {
      const name = req.params.file;
      const file = await existingRecordInside(options.recordDir, name);
      if (file === null) throw new HttpError(404, `Record '${name}' not found`);
      const fileName = path.basename(file);
      if (!isCuttable(containerOf(fileName))) return send(reply, options.recordDir, fileName);
      let range;
      try {
        range = parseCutRange(req.query);
      } catch (err) {
        if (err instanceof CutRangeError) throw new HttpError(400, err.message);
        throw err;
      }
      if (range === null) return send(reply, options.recordDir, fileName);
      try {
        const part = await cutter.cut(fileName, range);
        return send(reply, cutter.cutterDir, part.fileName);
      } catch (err) {
        if (err instanceof CutRangeError) throw new HttpError(400, err.message);
        if (err instanceof CutSourceError) throw new HttpError(404, err.message);
        if (err instanceof CutterClosedError) throw new HttpError(503, 'Server is shutting down');
        if (err instanceof CutFailedError) throw new HttpError(500, err.message);
        throw err;
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
