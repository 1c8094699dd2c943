import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseByteRange } from './byte-range.js';
import type { OpenedRecord } from './safe-path.js';
import { evaluateConditions, fileValidators } from './validators.js';

/**
 * Answers a GET or HEAD with a record already opened (openRecordInside):
 * the bytes come from that descriptor, never from the path again, with
 * byte ranges (players seek), ETag / Last-Modified and 304 for a copy the
 * client already has. The handle is closed when
 * the answer ends (or at once for HEAD and errors).
 */
export function sendOpenedRecord(req: FastifyRequest, reply: FastifyReply, opened: OpenedRecord, contentType: string, disposition: string): FastifyReply {
  const { handle, stat } = opened;
  const size = stat.size;
  reply.header('Accept-Ranges', 'bytes');
  const validators = fileValidators(size, stat.mtimeMs);
  reply.header('ETag', validators.etag);
  reply.header('Last-Modified', validators.lastModified);
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const conditions = evaluateConditions(
    { ifNoneMatch: header('if-none-match'), ifModifiedSince: header('if-modified-since'), ifRange: header('if-range') },
    validators,
  );
  if (conditions === 'not-modified') {
    void handle.close();
    return reply.status(304).send();
  }
  const range = conditions.rangeAllowed ? parseByteRange(header('range'), size) : null;
  if (range === 'unsatisfiable') {
    void handle.close();
    reply.header('Content-Range', `bytes */${size}`);
    return reply.status(416).send({ error: 416, message: `Range not satisfiable: the file is ${size} bytes` });
  }
  reply.header('Content-Type', contentType);
  reply.header('Content-Disposition', disposition);
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  if (range) {
    reply.status(206);
    reply.header('Content-Range', `bytes ${start}-${end}/${size}`);
  } else reply.status(200);
  reply.header('Content-Length', String(length));
  if (req.method === 'HEAD' || length === 0) {
    void handle.close();
    return reply.send();
  }
  return reply.send(handle.createReadStream({ start, end, autoClose: true }));
}
