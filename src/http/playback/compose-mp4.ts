import { boxSize, leaf, serializeBox, type BoxNode } from '../../recording/mp4/box-tree.js';
import { TrackSamples } from '../../recording/mp4/fragment-index.js';
import { buildMoov } from '../../recording/mp4/moov-builder.js';
import { ComposeUnsupportedError, type PartMedia, type PartTrack } from './mp4-sample-table.js';

/**
 * One MP4 answer composed from parts without copying them: ftyp + a moov
 * built from the chosen samples of every part + an mdat header, followed by
 * byte ranges of the parts themselves (the samples, in the order they have
 * in each part). Served as a virtual file; nothing of the media is written.
 */
export interface FileRange {
  readonly path: string;
  readonly start: number;
  /** Bytes. */
  readonly length: number;
}

export interface ComposedAnswer {
  /** ftyp, moov, mdat header. */
  readonly head: Buffer;
  readonly ranges: readonly FileRange[];
  /** Total size of the virtual file. */
  readonly size: number;
}

export interface ComposeSegment {
  readonly media: PartMedia;
  /** Where to enter and leave the part, seconds of its presentation time (out: null = to its end). */
  readonly inSeconds: number;
  readonly outSeconds: number | null;
}

const EPS = 1e-6;
/** Parts composed between two yields to the event loop. */
const YIELD_EVERY_PARTS = 4;

/** Presentation and decode times (seconds) of sample i of a part's track, as players of that part see it. */
function presentation(t: PartTrack, i: number): number {
  return (t.dts[i]! + t.ctos[i]! - t.mediaTime) / t.timescale + t.emptyEditSeconds;
}
function decode(t: PartTrack, i: number): number {
  return (t.dts[i]! - t.mediaTime) / t.timescale + t.emptyEditSeconds;
}

/** Indices [first, last] of the samples of `t` that play [inS, outS): video from the sync sample at or before inS. */
export function chooseSamples(t: PartTrack, inS: number, outS: number | null): [number, number] | null {
  const n = t.dts.length;
  if (n === 0) return null;
  let first = 0;
  if (t.handler === 'vide') {
    for (let i = 0; i < n; i++) {
      if (!t.sync[i]) continue;
      if (presentation(t, i) > inS + EPS) break; // sync samples come in presentation order
      first = i;
    }
  } else {
    while (first < n && presentation(t, first) + t.durations[first]! / t.timescale <= inS + EPS) first++;
  }
  let last = n - 1;
  if (outS !== null) {
    last = -1;
    for (let i = first; i < n; i++) if (presentation(t, i) < outS - EPS) last = i;
  }
  return last >= first ? [first, last] : null;
}

/** Presentation end of a part (seconds): the latest end of any of its tracks' samples. */
function partEnd(media: PartMedia): number {
  let end = 0;
  for (const t of media.tracks) {
    // the latest end is among the last samples (composition reordering spans a few frames)
    for (let i = Math.max(0, t.dts.length - 64); i < t.dts.length; i++) end = Math.max(end, presentation(t, i) + t.durations[i]! / t.timescale);
  }
  return end;
}

/**
 * Composes the answer for `segments` (in order; every part with the same
 * tracks, codecs and timescales, which the caller checked). Each track's
 * samples are laid end to end; at a part boundary the last sample of a
 * track is stretched or shortened so that the next part's samples keep
 * their place against the part's other tracks (sync is kept; the timeline
 * is the media's own, gaps between parts are left out). The first part is
 * entered at the sync sample at or before `inSeconds`, with an edit list
 * so that `inSeconds` is shown first.
 */
export async function composeMp4(segments: readonly ComposeSegment[]): Promise<ComposedAnswer> {
  const first = segments[0];
  if (!first) throw new ComposeUnsupportedError('nothing to compose');
  const template = first.media;
  const trackCount = template.tracks.length;
  for (const s of segments) {
    if (s.media.tracks.length !== trackCount) throw new ComposeUnsupportedError('parts with different tracks');
    s.media.tracks.forEach((t, i) => {
      if (t.timescale !== template.tracks[i]!.timescale || t.handler !== template.tracks[i]!.handler) {
        throw new ComposeUnsupportedError('parts with different timescales');
      }
    });
  }
  const tables = template.tracks.map(
    (t) => new TrackSamples({ trackId: t.trackId, timescale: t.timescale, defaultDuration: 0, defaultSize: 0, defaultFlags: 0 }),
  );
  const shift: (number | null)[] = new Array<number | null>(trackCount).fill(null);
  const lastDts: number[] = new Array<number>(trackCount).fill(0);
  const ranges: { path: string; start: number; length: number }[] = [];
  let mdatOffset = 0; // bytes of the mdat payload placed so far
  let previousTrack = -1;
  let segmentStart = 0; // seconds of the answer where this segment's inSeconds lands
  for (const [segmentIndex, seg] of segments.entries()) {
    // a long range is a lot of samples: let the event loop (ingest, recorders) run between parts
    if (segmentIndex > 0 && segmentIndex % YIELD_EVERY_PARTS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const tracks = seg.media.tracks;
    const next: number[] = [];
    const stop: number[] = [];
    tracks.forEach((t, ti) => {
      const range = chooseSamples(t, seg.inSeconds, seg.outSeconds);
      next.push(range ? range[0] : 0);
      stop.push(range ? range[1] : -1);
      if (!range) return;
      const table = tables[ti]!;
      // where the first sample's decode time lands in the answer, media units
      const target = Math.round((segmentStart - seg.inSeconds + decode(t, range[0])) * t.timescale);
      if (shift[ti] === null) shift[ti] = -target;
      const n = table.count;
      // a part boundary: the previous sample lasts until this part's first starts (at least one unit)
      if (n > 0) table.durations[n - 1] = Math.max(1, target + shift[ti]! - lastDts[ti]!);
    });
    // the tracks' samples merged by their place in the part: the part's interleaving is kept
    let rangePath = '';
    let rangeEnd = -1;
    for (;;) {
      let ti = -1;
      let best = Number.POSITIVE_INFINITY;
      for (let k = 0; k < tracks.length; k++) {
        if (next[k]! <= stop[k]! && tracks[k]!.offsets[next[k]!]! < best) {
          best = tracks[k]!.offsets[next[k]!]!;
          ti = k;
        }
      }
      if (ti < 0) break;
      const t = tracks[ti]!;
      const i = next[ti]!++;
      const table = tables[ti]!;
      const n = table.count;
      lastDts[ti] = n > 0 ? lastDts[ti]! + table.durations[n - 1]! : 0;
      table.durations.push(t.durations[i]!);
      table.sizes.push(t.sizes[i]!);
      table.ctos.push(t.ctos[i]!);
      if (t.sync[i]) table.syncNumbers.push(n + 1);
      // chunks: runs of one track's samples that follow each other in the mdat
      const chunk = table.chunks.at(-1);
      if (previousTrack === ti && chunk) chunk[1]++;
      else table.chunks.push([mdatOffset, 1]);
      previousTrack = ti;
      const size = t.sizes[i]!;
      const offset = t.offsets[i]!;
      mdatOffset += size;
      if (rangePath === seg.media.path && rangeEnd === offset) {
        ranges[ranges.length - 1]!.length += size;
      } else {
        ranges.push({ path: seg.media.path, start: offset, length: size });
        rangePath = seg.media.path;
      }
      rangeEnd = offset + size;
    }
    segmentStart += (seg.outSeconds ?? partEnd(seg.media)) - seg.inSeconds;
  }
  const mdatPayload = mdatOffset;

  // the template: the first part's moov, each track with an edit list that starts at `inSeconds`
  const movieTs = template.movieTimescale;
  const trakNodes: BoxNode[] = [];
  const traks = (template.moov.children ?? []).filter((c) => c.type === 'trak');
  traks.forEach((trak, ti) => {
    const sh = shift[ti] ?? 0;
    const entries: { segmentDuration: number; mediaTime: number }[] = [];
    if (sh < 0) entries.push({ segmentDuration: Math.round((-sh / template.tracks[ti]!.timescale) * movieTs), mediaTime: -1 });
    entries.push({ segmentDuration: 0, mediaTime: Math.max(0, sh) });
    const elst = Buffer.alloc(8 + 12 * entries.length);
    elst.writeUInt32BE(entries.length, 4);
    entries.forEach((e, i) => {
      elst.writeUInt32BE(e.segmentDuration, 8 + 12 * i);
      elst.writeInt32BE(e.mediaTime, 12 + 12 * i);
      elst.writeUInt32BE(0x10000, 16 + 12 * i);
    });
    const children = (trak.children ?? []).filter((c) => c.type !== 'edts');
    const tkhdAt = children.findIndex((c) => c.type === 'tkhd');
    children.splice(tkhdAt + 1, 0, { type: 'edts', children: [leaf('elst', elst)] });
    trakNodes.push({ type: 'trak', children });
  });
  const templateMoov: BoxNode = {
    type: 'moov',
    children: (template.moov.children ?? []).filter((c) => c.type !== 'trak' && c.type !== 'udta').concat(trakNodes),
  };
  const byId = new Map(tables.map((t) => [t.track.trackId, t]));
  const ftyp = template.ftyp ?? ftypBox();
  // offsets into the mdat payload first; chunk offset entries have a fixed size, so the moov's size is known: then moved behind it.
  // 32-bit offsets while the whole answer stays well below 4 GiB (the moov of 24 h is far below the margin)
  const co64 = mdatPayload + CO64_MARGIN > 0xffffffff;
  const moovNode = buildMoov(templateMoov, byId, { mapOffset: (o) => o, co64 });
  const base = ftyp.length + boxSize(moovNode) + 16;
  addToChunkOffsets(moovNode, base);
  const moov = serializeBox(moovNode);
  const mdatHeader = Buffer.alloc(16);
  mdatHeader.writeUInt32BE(1, 0);
  mdatHeader.write('mdat', 4, 'latin1');
  mdatHeader.writeBigUInt64BE(BigInt(16 + mdatPayload), 8);
  const head = Buffer.concat([ftyp, moov, mdatHeader]);

  return { head, ranges, size: head.length + mdatPayload };
}

/** Head room below 4 GiB for ftyp + moov when 32-bit chunk offsets are used. */
const CO64_MARGIN = 256 * 1024 * 1024;

/** Adds `base` to every chunk offset (stco or co64) of a moov tree (in place). */
function addToChunkOffsets(node: BoxNode, base: number): void {
  if ((node.type === 'co64' || node.type === 'stco') && node.payload) {
    const p = Buffer.from(node.payload);
    const count = p.readUInt32BE(4);
    if (node.type === 'stco') {
      for (let i = 0, at = 8; i < count; i++, at += 4) p.writeUInt32BE(p.readUInt32BE(at) + base, at);
    } else {
      for (let i = 0, at = 8; i < count; i++, at += 8) {
        const v = p.readUInt32BE(at) * 0x100000000 + p.readUInt32BE(at + 4) + base;
        p.writeUInt32BE(Math.floor(v / 0x100000000), at);
        p.writeUInt32BE(v >>> 0, at + 4);
      }
    }
    node.payload = p;
    return;
  }
  for (const c of node.children ?? []) addToChunkOffsets(c, base);
}

function ftypBox(): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32BE(24, 0);
  b.write('ftypisom', 4, 'latin1');
  b.writeUInt32BE(0x200, 12);
  b.write('isomiso2', 16, 'latin1');
  return b;
}

/** The pieces of the virtual file that hold bytes [start, end] (inclusive), in order. */
export type Piece = { readonly buffer: Buffer } | { readonly path: string; readonly start: number; readonly length: number };

export function piecesFor(answer: ComposedAnswer, start: number, end: number): Piece[] {
  const out: Piece[] = [];
  if (start > end) return out;
  const headEnd = answer.head.length;
  if (start < headEnd) out.push({ buffer: answer.head.subarray(start, Math.min(end + 1, headEnd)) });
  let at = headEnd;
  for (const r of answer.ranges) {
    const rEnd = at + r.length; // exclusive
    if (rEnd > start && at <= end) {
      const from = Math.max(start, at);
      const to = Math.min(end + 1, rEnd);
      out.push({ path: r.path, start: r.start + (from - at), length: to - from });
    }
    if (at > end) break;
    at = rEnd;
  }
  return out;
}
