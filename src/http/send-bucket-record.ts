import type { FastifyReply, FastifyRequest } from 'fastify';
import { NoSuchObjectError, RangeNotSatisfiableError, s3ErrorText, type S3Bucket } from '../storage/s3-bucket.js';
import { parseByteRange } from './byte-range.js';
import { HttpError } from './http-error.js';

/**
 * Answers a GET or HEAD of a record that is only in the bucket by proxying
 * it: one ranged GET to the store (the client's single byte range, checked
 * against the size the catalog knows), streamed through. The client sees
 * the same URL, auth, headers and status codes as for a local file; the
 * store's address and credentials never reach it.
 */
export async function sendBucketRecord(
  req: FastifyRequest,
  reply: FastifyReply,
  bucket: S3Bucket,
  key: string,
  size: number,
  contentType: string,
  disposition: string,
): Promise<FastifyReply> {
  reply.header('Accept-Ranges', 'bytes');
  const range = parseByteRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
  if (range === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${size}`);
    return reply.status(416).send({ error: 416, message: `Range not satisfiable: the file is ${size} bytes` });
  }
  reply.header('Content-Type', contentType);
  reply.header('Content-Disposition', disposition);
  reply.header('X-Record-Source', 'bucket');
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  if (req.method === 'HEAD' || length === 0) {
    if (range) reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
    reply.header('Content-Length', String(length));
    return reply.send();
  }
  const abort = new AbortController();
  req.raw.once('close', () => abort.abort());
  try {
    const got = await bucket.get(key, range ? `bytes=${start}-${end}` : undefined, abort.signal);
    if (got.size !== size) {
      got.body.destroy();
      throw new HttpError(502, `The bucket's copy of the record has ${got.size} bytes, the catalog says ${size}`);
    }
    if (got.lastModified) reply.header('Last-Modified', got.lastModified.toUTCString());
    if (range) reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
    else reply.status(200);
    reply.header('Content-Length', String(got.contentLength));
    return reply.send(got.body);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof NoSuchObjectError) throw new HttpError(404, 'Record not found in the bucket');
    if (err instanceof RangeNotSatisfiableError) throw new HttpError(416, 'Range not satisfiable');
    req.log.warn({ key, err: s3ErrorText(err) }, 'Bucket read failed');
    throw new HttpError(502, 'The record storage did not answer');
  }
}
