import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BoxFormatError, type BoxHeader, type BoxNode, boxSize, freeBoxHeader, parseBoxes, readBoxHeader, serializeBox } from './box-tree.js';
import { addFragment, fragmentedTracks, TrackSamples } from './fragment-index.js';
import type { InsertRange } from './insert-range.js';
import { insertLength } from './insert-range.js';
import { buildMoov } from './moov-builder.js';

/**
 * How the finished MP4 was laid out:
 * - `reserved`: ftyp + moov written into the space reserved at the start of
 *   the temp file (moov first, nothing copied);
 * - `moov-last`: moov appended to the temp file (nothing copied);
 * - `inserted`: room for ftyp + moov inserted in front of the temp file by
 *   the file system (FALLOC_FL_INSERT_RANGE: extents shifted, no media
 *   copied), then filled as for `reserved`;
 * - `faststart`: a new file, ftyp + moov + one mdat with the media copied once.
 * In every case the fragment headers of the temp file are not part of the
 * result (turned into `free` boxes in place, or left behind by the copy).
 */
export type FinishLayout = 'reserved' | 'moov-last' | 'inserted' | 'faststart';

export interface FinishOptions {
  /** mp4_container_moov_first */
  readonly moovFirst: boolean;
  /** Where the `faststart` layout writes its new file. */
  readonly stagedPath: string;
  /**
   * Moov first without (enough) reserved space: make room in front of the
   * media without copying it. Null, or a file system that refuses, means
   * the copy (`faststart`).
   */
  readonly insertRange?: InsertRange | null;
}

export interface FinishResult {
  readonly layout: FinishLayout;
  /** The finished MP4: the temp file itself, or `stagedPath`. */
  readonly file: string;
  /** Why the insert-range layout was not used, when it was tried and the media was copied. */
  readonly insertRefused?: string;
}

const U32 = 0xffffffff;
const COPY_WINDOW = 1 << 20;
const YIELD_EVERY = 512;

interface Scan {
  ftyp: BoxHeader;
  ftypBytes: Buffer;
  reserve: BoxHeader | null;
  moov: BoxHeader;
  moovTree: BoxNode;
  /** moof, mfra, sidx…: boxes that have no place in an unfragmented file */
  fragmentBoxes: BoxHeader[];
  mdats: BoxHeader[];
  tables: Map<number, TrackSamples>;
  end: number;
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  const n = fs.readSync(fd, b, 0, length, offset);
  if (n !== length) throw new BoxFormatError(`short read at ${offset}`);
  return b;
}

async function scan(fd: number, fileSize: number): Promise<Scan> {
  let ftyp: BoxHeader | null = null;
  let ftypBytes: Buffer = Buffer.alloc(0);
  let reserve: BoxHeader | null = null;
  let moov: BoxHeader | null = null;
  let moovTree: BoxNode | null = null;
  let tables: Map<number, TrackSamples> | null = null;
  const fragmentBoxes: BoxHeader[] = [];
  const mdats: BoxHeader[] = [];
  const head = Buffer.alloc(16);
  /** The header of the box at `nextAt`, read along with the box before it (one read per fragment instead of three). */
  let next: Buffer | null = null;
  let nextAt = -1;
  let offset = 0;
  let n = 0;
  while (offset < fileSize) {
    if (++n % YIELD_EVERY === 0) await yieldToLoop();
    let got: number;
    if (next !== null && nextAt === offset) {
      got = next.copy(head, 0, 0, 16);
    } else {
      got = fs.readSync(fd, head, 0, 16, offset);
    }
    next = null;
    const h = readBoxHeader(head.subarray(0, got), 0, got);
    if (!h) throw new BoxFormatError(`truncated box header at ${offset}`);
    const box: BoxHeader = { ...h, offset, size: head.readUInt32BE(0) === 0 ? fileSize - offset : h.size };
    if (offset + box.size > fileSize) throw new BoxFormatError(`${box.type} at ${offset} runs past the end of the file`);
    switch (box.type) {
      case 'ftyp':
        ftyp = box;
        ftypBytes = readAt(fd, offset, box.size);
        break;
      case 'free':
      case 'skip':
        if (offset === 0) reserve = box;
        break;
      case 'moov': {
        if (moov) throw new BoxFormatError('two moov boxes');
        moov = box;
        const tree = parseBoxes(readAt(fd, offset, box.size))[0];
        if (!tree) throw new BoxFormatError('empty moov');
        moovTree = tree;
        tables = new Map([...fragmentedTracks(tree)].map(([id, t]) => [id, new TrackSamples(t)]));
        break;
      }
      case 'moof': {
        if (!tables) throw new BoxFormatError('moof before moov');
        const withNext = readAt(fd, offset, Math.min(box.size + 16, fileSize - offset));
        if (withNext.length > box.size) {
          next = withNext.subarray(box.size);
          nextAt = offset + box.size;
        }
        const tree = parseBoxes(withNext.subarray(0, box.size))[0];
        if (!tree) throw new BoxFormatError('empty moof');
        const dataEnd = addFragment(tree, offset, tables);
        if (dataEnd > fileSize) throw new BoxFormatError(`fragment at ${offset} refers to media past the end of the file`);
        fragmentBoxes.push(box);
        break;
      }
      case 'mdat':
        mdats.push(box);
        break;
      case 'mfra':
      case 'sidx':
      case 'styp':
        fragmentBoxes.push(box);
        break;
      default:
        break; // uuid, udta…: kept where they are
    }
    offset += box.size;
  }
  if (!ftyp || !moov || !moovTree || !tables) throw new BoxFormatError('no ftyp or moov: not an MP4 written by the recorder');
  if (mdats.length === 0) throw new BoxFormatError('no media in the file');
  return { ftyp, ftypBytes, reserve: reserve && reserve.offset + reserve.size <= ftyp.offset ? reserve : null, moov, moovTree, fragmentBoxes, mdats, tables, end: offset };
}

const FREE = Buffer.from('free', 'latin1');

/** Turns boxes into `free` boxes of the same size (their type field only). */
async function hideBoxes(fd: number, boxes: readonly BoxHeader[]): Promise<void> {
  let n = 0;
  for (const b of boxes) {
    if (++n % YIELD_EVERY === 0) await yieldToLoop();
    fs.writeSync(fd, FREE, 0, 4, b.offset + 4);
  }
}

function maxChunkEnd(tables: Map<number, TrackSamples>): number {
  let end = 0;
  for (const t of tables.values()) {
    let size = 0;
    let i = 0;
    for (const [offset, count] of t.chunks) {
      size = 0;
      for (let k = 0; k < count; k++) size += t.sizes[i + k] ?? 0;
      i += count;
      end = Math.max(end, offset + size);
    }
  }
  return end;
}

/**
 * Writes ftyp + moov into the `free` box at the start of the file (the
 * reserve) and hides the fragment structures: the moov inside the free box
 * first (readers still skip it), the rest of the reserve as a free box, the
 * old boxes turned into free boxes, the ftyp at offset 0 last.
 */
async function fillReserve(handle: fs.promises.FileHandle, s: Scan, moov: Buffer, room: number, hide: readonly BoxHeader[]): Promise<void> {
  const ftypSize = s.ftyp.size;
  await handle.write(moov, 0, moov.length, ftypSize);
  if (room > moov.length) await handle.write(freeBoxHeader(room - moov.length), 0, 8, ftypSize + moov.length);
  await hideBoxes(handle.fd, hide);
  await handle.write(s.ftypBytes, 0, ftypSize, 0);
}

interface Range {
  readonly from: number;
  readonly to: number;
}

/** Copies byte ranges of `src` one after another into `dst` from `dstOffset`, reading in large windows. */
async function copyRanges(src: fs.promises.FileHandle, dst: fs.promises.FileHandle, ranges: readonly Range[], dstOffset: number): Promise<void> {
  const buf = Buffer.allocUnsafe(COPY_WINDOW);
  let out = dstOffset;
  let i = 0;
  let pos = ranges[0]?.from ?? 0;
  const end = ranges.at(-1)?.to ?? 0;
  while (pos < end) {
    const windowEnd = Math.min(pos + COPY_WINDOW, end);
    const { bytesRead } = await src.read(buf, 0, windowEnd - pos, pos);
    if (bytesRead !== windowEnd - pos) throw new BoxFormatError(`short read at ${pos}`);
    const slices: Buffer[] = [];
    for (let k = i; k < ranges.length; k++) {
      const r = ranges[k] as Range;
      if (r.from >= windowEnd) break;
      const from = Math.max(r.from, pos);
      const to = Math.min(r.to, windowEnd);
      if (to > from) slices.push(buf.subarray(from - pos, to - pos));
    }
    let written = 0;
    for (const sl of slices) written += sl.length;
    if (slices.length > 0) {
      const { bytesWritten } = await dst.writev(slices, out);
      if (bytesWritten !== written) throw new Error(`short write at ${out}`);
    }
    out += written;
    while (i < ranges.length && (ranges[i] as Range).to <= windowEnd) i++;
    pos = windowEnd;
  }
}

/**
 * The `inserted` layout, in an order that leaves a readable file (or one
 * recovery restores: repairInterruptedInsert) at every step:
 * 1. the moov-last layout (moov appended, fragment headers hidden) while
 *    the file's pages are still in the page cache: an insert-range drops
 *    them, and hiding each fragment afterwards read its page back from
 *    disk (0.4 s for an hour, under load);
 * 2. insert whole blocks at offset 0 (the file system shifts its extents);
 * 3. moov with offsets shifted at the end of the room, a `free` box in
 *    front of it, ftyp at offset 0 last (two moovs now: readers take the
 *    first);
 * 4. the appended moov cut off.
 * Returns true, or why the file system refused (nothing changed then,
 * unless the probe said yes and the insert still failed: the file is then
 * in the moov-last layout, which the copy reads as well).
 */
async function finishByInsert(handle: fs.promises.FileHandle, file: string, s: Scan, ranges: InsertRange): Promise<true | string> {
  if (!(await ranges.supported(path.dirname(file)))) return `the file system of ${path.dirname(file)} does not insert ranges`;
  const ftypSize = s.ftyp.size;
  const { blksize } = await handle.stat();
  const block = blksize > 0 ? blksize : 4096;
  const chunkEnd = maxChunkEnd(s.tables);
  const build = (shift: number, co64: boolean): Buffer => serializeBox(buildMoov(s.moovTree, s.tables, { mapOffset: (o) => o + shift, co64 }));
  // the chunk offsets move by the inserted length, which depends on the moov's size (co64 or not)
  // (building a moov of an hour takes about 0.1 s: each is built once)
  let co64 = false;
  const plain = build(0, false);
  let length = insertLength(ftypSize + plain.length, block);
  let wide: Buffer | null = null;
  if (chunkEnd + length > U32) {
    co64 = true;
    wide = build(0, true);
    length = insertLength(ftypSize + wide.length, block);
  }
  const last = chunkEnd > U32 ? (wide ?? build(0, true)) : plain;
  await handle.write(last, 0, last.length, s.end);
  await handle.truncate(s.end + last.length);
  await hideBoxes(handle.fd, [s.moov, ...s.fragmentBoxes]);
  try {
    await ranges.insert(file, 0, length);
  } catch (err) {
    return (err as Error).message;
  }
  // moov at the end of the room, the gap in front of it a free box: the only box header a
  // crash can leave at a block boundary of the room is then the file as it was (recovery looks for it)
  const moov = build(length, co64);
  const gap = length - ftypSize - moov.length;
  await handle.write(moov, 0, moov.length, length - moov.length);
  if (gap > 0) await handle.write(freeBoxHeader(gap), 0, 8, ftypSize);
  await handle.write(s.ftypBytes, 0, ftypSize, 0);
  // the old ftyp (now a free box's worth of bytes behind the room) and the appended moov
  await hideBoxes(handle.fd, [{ ...s.ftyp, offset: s.ftyp.offset + length }]);
  await handle.truncate(length + s.end);
  return true;
}

/**
 * Finishes a fragmented MP4 written by the live muxer into an ordinary MP4
 * without ffmpeg: the sample tables are built from the fragment headers and
 * the media stays where it is (`reserved`, `moov-last`) or is copied once
 * (`faststart`, when the moov must come first and no space was reserved).
 * Throws BoxFormatError for a file it does not understand; the caller then
 * falls back to an ffmpeg remux.
 */
export async function finishFragmentedMp4(file: string, options: FinishOptions): Promise<FinishResult> {
  const handle = await fs.promises.open(file, 'r+');
  try {
    const { size: fileSize } = await handle.stat();
    const s = await scan(handle.fd, fileSize);
    const ftypSize = s.ftyp.size;

    if (!options.moovFirst || s.reserve) {
      const co64 = maxChunkEnd(s.tables) > U32;
      const moov = serializeBox(buildMoov(s.moovTree, s.tables, { mapOffset: (o) => o, co64 }));
      const room = s.reserve ? s.reserve.size - ftypSize : -1;
      const fits = room === moov.length || room >= moov.length + 8;
      if (!options.moovFirst) {
        // the new moov is written before the old structures are hidden, so the file is never without one
        await handle.write(moov, 0, moov.length, s.end);
        await handle.truncate(s.end + moov.length);
        await hideBoxes(handle.fd, [s.moov, ...s.fragmentBoxes]);
        return { layout: 'moov-last', file };
      }
      if (s.reserve && fits) {
        await fillReserve(handle, s, moov, room, [s.ftyp, s.moov, ...s.fragmentBoxes]);
        return { layout: 'reserved', file };
      }
    }

    let insertRefused: string | undefined;
    if (options.insertRange) {
      const done = await finishByInsert(handle, file, s, options.insertRange);
      if (done === true) return { layout: 'inserted', file };
      insertRefused = done;
    }

    // moov first without (enough) reserved space: ftyp + moov + one mdat holding the media, copied once
    const ranges: Range[] = s.mdats.map((m) => ({ from: m.offset + m.headerSize, to: m.offset + m.size }));
    const payload = ranges.reduce((n, r) => n + r.to - r.from, 0);
    const mdatHeader = payload + 8 > U32 ? 16 : 8;
    const starts: number[] = [];
    const place = (moovSize: number): void => {
      starts.length = 0;
      let at = ftypSize + moovSize + mdatHeader;
      for (const r of ranges) {
        starts.push(at);
        at += r.to - r.from;
      }
    };
    const mapOffset = (o: number): number => {
      let lo = 0;
      let hi = ranges.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((ranges[mid] as Range).from <= o) lo = mid;
        else hi = mid - 1;
      }
      const r = ranges[lo] as Range;
      if (o < r.from || o >= r.to) throw new BoxFormatError(`media at ${o} is not inside an mdat`);
      return (starts[lo] as number) + (o - r.from);
    };
    place(0);
    const sized = buildMoov(s.moovTree, s.tables, { mapOffset, co64: false });
    const co64 = ftypSize + boxSize(sized) + mdatHeader + payload > U32;
    place(co64 ? boxSize(buildMoov(s.moovTree, s.tables, { mapOffset, co64 })) : boxSize(sized));
    const moov = serializeBox(buildMoov(s.moovTree, s.tables, { mapOffset, co64 }));
    const head = Buffer.alloc(mdatHeader);
    if (mdatHeader === 16) {
      head.writeUInt32BE(1, 0);
      head.writeBigUInt64BE(BigInt(payload + 16), 8);
    } else {
      head.writeUInt32BE(payload + 8, 0);
    }
    head.write('mdat', 4, 'latin1');
    const out = await fs.promises.open(options.stagedPath, 'w');
    try {
      await out.writev([s.ftypBytes, moov, head], 0);
      await copyRanges(handle, out, ranges, ftypSize + moov.length + mdatHeader);
    } catch (err) {
      await out.close();
      await fs.promises.rm(options.stagedPath, { force: true });
      throw err;
    }
    await out.close();
    return { layout: 'faststart', file: options.stagedPath, ...(insertRefused ? { insertRefused } : {}) };
  } finally {
    await handle.close();
  }
}
