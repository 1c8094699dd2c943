import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existingRecordInside } from '../safe-path.js';
import { HttpError } from '../http-error.js';

export interface RecordFilesOptions {
  readonly recordDir: string;
  readonly contentDisposition: 'inline' | 'attachment';
}

function contentDisposition(kind: string, fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(fileName);
  return ascii === fileName ? `${kind};filename="${fileName}"` : `${kind};filename="${ascii}";filename*=UTF-8''${encoded}`;
}

/**
 * GET/HEAD /client/records/<file>: a finished record from record_dir, with
 * byte ranges (players seek) and Content-Disposition from
 * record_response_content_disposition_header_value. Only plain file names
 * directly inside record_dir are served: "..", encoded slashes, hidden files
 * and symlinks that lead out all answer 404.
 */
export async function registerRecordFiles(app: FastifyInstance, options: RecordFilesOptions): Promise<void> {
  await app.register(fastifyStatic, {
    root: options.recordDir,
    serve: false,
    decorateReply: true,
    dotfiles: 'deny',
  });
  const notFound = (name: string): HttpError => new HttpError(404, `Record '${name}' not found`);
  app.route<{ Params: { file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/client/records/:file',
    schema: {
      params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 1024 } } },
    },
    handler: async (req, reply) => {
      const name = req.params.file;
      const file = await existingRecordInside(options.recordDir, name);
      if (file === null) throw notFound(name);
      reply.header('Content-Disposition', contentDisposition(options.contentDisposition, path.basename(file)));
      return reply.sendFile(path.basename(file), options.recordDir);
    },
  });
  app.route({
    method: ['GET', 'HEAD'],
    url: '/client/records/*',
    handler: async () => {
      throw new HttpError(404, 'Not found');
    },
  });
}
