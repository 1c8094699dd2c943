import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { piecesFor, type ComposedAnswer, type Piece } from './compose-mp4.js';

/** A single byte range of a `Range` header against a file of `size` bytes (pure). */
export type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable' | null;

/**
 * Parses `Range: bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; several or
 * another unit: null, the whole file is sent, as RFC 9110 allows).
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

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
  const range = parseByteRange(req.headers.range, size);
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
