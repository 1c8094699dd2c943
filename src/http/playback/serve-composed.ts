import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseByteRange } from '../byte-range.js';
import { piecesFor, type ComposedAnswer, type Piece } from './compose-mp4.js';
import { PlaybackSourceError } from './playback-stitcher.js';

type OpenParts = Map<string, fs.promises.FileHandle>;

/**
 * Opens every part file the answer reads before its head is sent: a part
 * deleted from the disk while the answer streams (uploaded with
 * record_upload_delete_local, or retention) is still read whole through its
 * open descriptor. One gone already is PlaybackSourceError: the route looks
 * the parts up again, the catalog then says where it went.
 */
async function openParts(pieces: readonly Piece[]): Promise<OpenParts> {
  const files: OpenParts = new Map();
  for (const p of pieces) {
    if ('buffer' in p || p.length === 0 || files.has(p.path)) continue;
    try {
      files.set(p.path, await fs.promises.open(p.path, 'r'));
    } catch (err) {
      await closeParts(files);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PlaybackSourceError(`part '${path.basename(p.path)}' is no longer on this disk`);
      throw err;
    }
  }
  return files;
}

async function closeParts(files: OpenParts): Promise<void> {
  const handles = [...files.values()];
  files.clear();
  await Promise.allSettled(handles.map((h) => h.close()));
}

async function* readPieces(pieces: readonly Piece[], files: OpenParts, log: FastifyRequest['log']): AsyncGenerator<Buffer> {
  for (const p of pieces) {
    if ('buffer' in p) {
      yield p.buffer;
      continue;
    }
    if (p.length === 0) continue;
    const handle = files.get(p.path);
    if (!handle) throw new Error(`part ${p.path} was not opened`);
    const stream = handle.createReadStream({ start: p.start, end: p.start + p.length - 1, highWaterMark: 1024 * 1024, autoClose: false });
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
 * its cache key. The parts it reads are opened first (openParts).
 */
export async function sendComposed(req: FastifyRequest, reply: FastifyReply, answer: ComposedAnswer, etag: string): Promise<FastifyReply> {
  const size = answer.size;
  const range = parseByteRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
  const start = range === 'unsatisfiable' ? 0 : (range?.start ?? 0);
  const end = range === 'unsatisfiable' ? -1 : (range?.end ?? size - 1);
  const pieces = req.method === 'HEAD' ? [] : piecesFor(answer, start, end);
  const files = await openParts(pieces);
  reply.header('Accept-Ranges', 'bytes').header('Content-Type', 'video/mp4').header('ETag', `"${etag}"`);
  if (range === 'unsatisfiable') {
    await closeParts(files);
    return reply.status(416).header('Content-Range', `bytes */${size}`).send();
  }
  if (range) reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
  reply.header('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD') return reply.send();
  // the body closes once read to its end, or destroyed (client gone, read error), started or not:
  // the parts are closed then (a handle closes after its pending read)
  const body = Readable.from(readPieces(pieces, files, req.log));
  body.once('close', () => void closeParts(files));
  return reply.send(body);
}
