import fs from 'node:fs';
import { findChild, parseBoxes, requireChild, type BoxNode } from '../../recording/mp4/box-tree.js';
import { trackIdOf } from '../../recording/mp4/fragment-index.js';
import { topLevelScan } from '../../recording/mp4-boxes.js';

/**
 * The samples of a regular (unfragmented) MP4, read from its moov only:
 * per track, each sample's decode time, duration, composition offset,
 * size, place in the file and whether it is a sync sample. What the
 * composed playback answer needs to point into the part without copying it.
 */
export interface PartTrack {
  readonly trak: BoxNode;
  readonly trackId: number;
  readonly handler: string;
  /** mdhd timescale */
  readonly timescale: number;
  /** The edit list's first media time (media units; 0 without an edit list) and leading empty edit (seconds). */
  readonly mediaTime: number;
  readonly emptyEditSeconds: number;
  /** Typed arrays: an hour of parts is hundreds of thousands of samples, kept in memory. */
  readonly dts: Float64Array;
  readonly durations: Uint32Array;
  readonly ctos: Int32Array;
  readonly sizes: Uint32Array;
  readonly offsets: Float64Array;
  readonly sync: Uint8Array;
}

export interface PartMedia {
  readonly path: string;
  readonly ftyp: Buffer | null;
  readonly moov: BoxNode;
  /** mvhd timescale */
  readonly movieTimescale: number;
  readonly tracks: readonly PartTrack[];
}

/** The part cannot be composed (fragmented, unusual tables): ffmpeg joins it instead. */
export class ComposeUnsupportedError extends Error {}
/** The part's own tables say it is damaged (media past the end of the file: cut short): no way of joining it will read it. */
export class PartDamagedError extends Error {}

const MAX_MOOV_BYTES = 64 * 1024 * 1024;
/** More samples in one track than 24 h of 90 fps video is not a record part. */
const MAX_SAMPLES = 10_000_000;

function payloadOf(node: BoxNode | undefined, what: string): Buffer {
  const p = node?.payload;
  if (!p) throw new ComposeUnsupportedError(`no ${what}`);
  return p;
}

function parseTrack(trak: BoxNode, movieTimescale: number): PartTrack {
  const mdia = requireChild(trak, 'mdia');
  const mdhd = payloadOf(findChild(mdia, 'mdhd'), 'mdhd');
  const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
  const hdlr = payloadOf(findChild(mdia, 'hdlr'), 'hdlr');
  const handler = hdlr.toString('latin1', 8, 12);
  const stbl = requireChild(requireChild(mdia, 'minf'), 'stbl');
  const box = (type: string): Buffer | undefined => findChild(stbl, type)?.payload;

  let mediaTime = 0;
  let emptyEditSeconds = 0;
  const elst = findChild(trak, 'edts') && findChild(requireChild(trak, 'edts'), 'elst')?.payload;
  if (elst) {
    const v1 = elst[0] === 1;
    const count = elst.readUInt32BE(4);
    let p = 8;
    let media = 0;
    for (let i = 0; i < count; i++) {
      const seg = v1 ? Number(elst.readBigUInt64BE(p)) : elst.readUInt32BE(p);
      const mt = v1 ? Number(elst.readBigInt64BE(p + 8)) : elst.readInt32BE(p + 4);
      p += v1 ? 20 : 12;
      if (mt === -1) {
        emptyEditSeconds += seg / movieTimescale;
        continue;
      }
      media++;
      if (media === 1) mediaTime = mt;
    }
    if (media > 1) throw new ComposeUnsupportedError('an edit list of more than one media edit');
  }

  // stts -> decode times and durations
  const stts = payloadOf({ type: 'stts', payload: box('stts') }, 'stts');
  const sttsEntries = stts.readUInt32BE(4);
  let sampleCount = 0;
  for (let i = 0; i < sttsEntries; i++) sampleCount += stts.readUInt32BE(8 + 8 * i);
  if (sampleCount > MAX_SAMPLES) throw new ComposeUnsupportedError(`${sampleCount} samples in one track`);
  const dts = new Float64Array(sampleCount);
  const durations = new Uint32Array(sampleCount);
  let t = 0;
  let s = 0;
  for (let i = 0; i < sttsEntries; i++) {
    const count = stts.readUInt32BE(8 + 8 * i);
    const delta = stts.readUInt32BE(12 + 8 * i);
    for (let k = 0; k < count; k++, s++) {
      dts[s] = t;
      durations[s] = delta;
      t += delta;
    }
  }

  const ctos = new Int32Array(sampleCount);
  const ctts = box('ctts');
  if (ctts) {
    // version 0 is unsigned by the standard, but offsets above 2^31 are never meant: read both as signed
    let c = 0;
    for (let i = 0, n = ctts.readUInt32BE(4); i < n; i++) {
      const count = ctts.readUInt32BE(8 + 8 * i);
      const off = ctts.readInt32BE(12 + 8 * i);
      for (let k = 0; k < count && c < sampleCount; k++) ctos[c++] = off;
    }
  }

  const stss = box('stss');
  const sync = new Uint8Array(sampleCount).fill(stss === undefined ? 1 : 0);
  if (stss) {
    for (let i = 0, n = stss.readUInt32BE(4); i < n; i++) {
      const number = stss.readUInt32BE(8 + 4 * i);
      if (number >= 1 && number <= sampleCount) sync[number - 1] = 1;
    }
  }

  const stsz = payloadOf({ type: 'stsz', payload: box('stsz') }, 'stsz');
  const fixed = stsz.readUInt32BE(4);
  if (stsz.readUInt32BE(8) !== sampleCount) throw new ComposeUnsupportedError('stsz and stts disagree on the sample count');
  if (fixed === 0 && stsz.length < 12 + 4 * sampleCount) throw new ComposeUnsupportedError('stsz is cut short');
  const sizes = new Uint32Array(sampleCount);
  for (let i = 0; i < sampleCount; i++) sizes[i] = fixed !== 0 ? fixed : stsz.readUInt32BE(12 + 4 * i);

  const stco = box('stco');
  const co64 = box('co64');
  const chunkOffsets: number[] = [];
  if (stco) for (let i = 0, n = stco.readUInt32BE(4); i < n; i++) chunkOffsets.push(stco.readUInt32BE(8 + 4 * i));
  else if (co64) for (let i = 0, n = co64.readUInt32BE(4); i < n; i++) chunkOffsets.push(Number(co64.readBigUInt64BE(8 + 8 * i)));
  else throw new ComposeUnsupportedError('no chunk offsets');
  const stsc = payloadOf({ type: 'stsc', payload: box('stsc') }, 'stsc');
  const runs: { first: number; perChunk: number }[] = [];
  for (let i = 0, n = stsc.readUInt32BE(4); i < n; i++) {
    runs.push({ first: stsc.readUInt32BE(8 + 12 * i), perChunk: stsc.readUInt32BE(12 + 12 * i) });
    if (stsc.readUInt32BE(16 + 12 * i) !== 1) throw new ComposeUnsupportedError('more than one sample description');
  }
  const offsets = new Float64Array(sampleCount);
  let sample = 0;
  let run = 0;
  for (let c = 0; c < chunkOffsets.length && sample < sampleCount; c++) {
    while (run + 1 < runs.length && runs[run + 1]!.first <= c + 1) run++;
    let at = chunkOffsets[c]!;
    for (let k = 0; k < (runs[run]?.perChunk ?? 0) && sample < sampleCount; k++) {
      offsets[sample] = at;
      at += sizes[sample]!;
      sample++;
    }
  }
  if (sample !== sampleCount) throw new ComposeUnsupportedError('chunk tables do not cover every sample');
  return { trak, trackId: trackIdOf(trak), handler, timescale, mediaTime, emptyEditSeconds, dts, durations, ctos, sizes, offsets, sync };
}

/** Reads the moov (and ftyp) of a regular MP4 part and its sample tables. */
export async function readPartMedia(file: string): Promise<PartMedia> {
  const { boxes, cutShort } = await topLevelScan(file);
  if (boxes.some((b) => b.type === 'moof')) throw new ComposeUnsupportedError('fragmented MP4');
  const moovBox = boxes.find((b) => b.type === 'moov');
  // no moov before a box that runs past the end: the moov was cut, or was to come after the media (moov last)
  // (a box type of four printable characters: bytes that are no MP4 at all are left to ffmpeg to name)
  if (!moovBox && cutShort && /^[\x20-\x7e]{4}$/.test(cutShort.type)) {
    throw new PartDamagedError(`its ${cutShort.type} box runs to byte ${cutShort.offset + cutShort.size} but the file has ${cutShort.fileSize} bytes (cut short)`);
  }
  if (!moovBox || moovBox.size > MAX_MOOV_BYTES) throw new ComposeUnsupportedError('no usable moov');
  const ftypBox = boxes.find((b) => b.type === 'ftyp');
  const handle = await fs.promises.open(file, 'r');
  let moovBuf: Buffer;
  let ftyp: Buffer | null = null;
  try {
    moovBuf = Buffer.alloc(moovBox.size);
    await handle.read(moovBuf, 0, moovBox.size, moovBox.offset);
    if (ftypBox && ftypBox.size <= 1024) {
      ftyp = Buffer.alloc(ftypBox.size);
      await handle.read(ftyp, 0, ftypBox.size, ftypBox.offset);
    }
  } finally {
    await handle.close();
  }
  const moov = parseBoxes(moovBuf)[0];
  if (!moov || moov.type !== 'moov') throw new ComposeUnsupportedError('moov cannot be parsed');
  if (findChild(moov, 'mvex')) throw new ComposeUnsupportedError('fragmented MP4');
  const mvhd = payloadOf(findChild(moov, 'mvhd'), 'mvhd');
  const movieTimescale = mvhd.readUInt32BE(mvhd[0] === 1 ? 20 : 12);
  const tracks = (moov.children ?? []).filter((c) => c.type === 'trak').map((trak) => parseTrack(trak, movieTimescale));
  const fileSize = (await fs.promises.stat(file)).size;
  const end = mediaEnd(tracks);
  if (end > fileSize) throw new PartDamagedError(`its media runs to byte ${end} but the file has ${fileSize} bytes (cut short)`);
  return { path: file, ftyp, moov, movieTimescale, tracks };
}

/** The byte after the last sample of any track (pure): a complete file is at least this long. */
export function mediaEnd(tracks: readonly Pick<PartTrack, 'offsets' | 'sizes'>[]): number {
  let end = 0;
  for (const t of tracks) {
    for (let i = 0; i < t.offsets.length; i++) end = Math.max(end, t.offsets[i]! + t.sizes[i]!);
  }
  return end;
}
