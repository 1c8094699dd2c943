import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseByteRange } from '../byte-range.js';
import { piecesFor, type ComposedAnswer, type Piece } from './compose-mp4.js';

async function* readPieces(pieces: readonly Piece[], log: FastifyRequest['log']): AsyncGenerator<Buffer> {
  for (const p of pieces) {
    if ('buffer' in p) {
      yield p.buffer;
      continue;
    }
    if (p.length === 0) continue;
    const stream = fs.createReadStream(p.path, { start: p.start, end: p.start + p.length - 1, highWaterMark: 1024 * 1024 });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      // the answer's head is sent already: the connection ends here, and the log says why
      log.error({ err, part: p.path, start: p.start, length: p.length }, 'Playback answer cut short: a part could not be read');
      throw err;
    }
  }
}

/**
 * Sends a composed answer as if it were a file: Accept-Ranges, a single
 * byte range (206, or 416 when outside), HEAD without a body, an ETag of
 * its cache key.
 */
export function sendComposed(req: FastifyRequest, reply: FastifyReply, answer: ComposedAnswer, etag: string): FastifyReply {
  const size = answer.size;
  reply.header('Accept-Ranges', 'bytes').header('Content-Type', 'video/mp4').header('ETag', `"${etag}"`);
  const range = parseByteRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
  if (range === 'unsatisfiable') {
    return reply.status(416).header('Content-Range', `bytes */${size}`).send();
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (range) reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
  reply.header('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD') return reply.send();
  return reply.send(Readable.from(readPieces(piecesFor(answer, start, end), req.log)));
}
