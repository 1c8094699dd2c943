import { BoxFormatError, type BoxNode, leaf, requireChild } from './box-tree.js';
import { trackIdOf, type TrackSamples } from './fragment-index.js';

const U32 = 0xffffffff;

/** Payload of a full box: version, flags 0, then `body`. */
function fullBox(version: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE((version << 24) >>> 0, 0);
  return Buffer.concat([head, body]);
}

function u32s(values: Iterable<number>, count: number): Buffer {
  const b = Buffer.alloc(count * 4);
  let i = 0;
  for (const v of values) b.writeUInt32BE(v >>> 0, 4 * i++);
  return b;
}

function withCount(count: number, entries: Buffer, version = 0): Buffer {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(count, 0);
  return fullBox(version, Buffer.concat([c, entries]));
}

/** Run-length pairs (count, value) of a sequence. */
function runs(values: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of values) {
    const last = out.at(-1);
    if (last && last[1] === v) last[0]++;
    else out.push([1, v]);
  }
  return out;
}

function stts(t: TrackSamples): BoxNode {
  const r = runs(t.durations);
  return leaf('stts', withCount(r.length, u32s(r.flat(), r.length * 2)));
}

function ctts(t: TrackSamples): BoxNode | null {
  if (t.ctos.every((c) => c === 0)) return null;
  const negative = t.ctos.some((c) => c < 0);
  const r = runs(t.ctos);
  const b = Buffer.alloc(r.length * 8);
  r.forEach(([n, v], i) => {
    b.writeUInt32BE(n, 8 * i);
    if (negative) b.writeInt32BE(v, 8 * i + 4);
    else b.writeUInt32BE(v, 8 * i + 4);
  });
  return leaf('ctts', withCount(r.length, b, negative ? 1 : 0));
}

function stss(t: TrackSamples): BoxNode | null {
  if (t.syncNumbers.length === t.count) return null; // every sample is a sync sample
  return leaf('stss', withCount(t.syncNumbers.length, u32s(t.syncNumbers, t.syncNumbers.length)));
}

function stsz(t: TrackSamples): BoxNode {
  const head = Buffer.alloc(8);
  const first = t.sizes[0] ?? 0;
  if (t.count > 0 && t.sizes.every((s) => s === first)) {
    head.writeUInt32BE(first, 0);
    head.writeUInt32BE(t.count, 4);
    return leaf('stsz', fullBox(0, head));
  }
  head.writeUInt32BE(0, 0);
  head.writeUInt32BE(t.count, 4);
  return leaf('stsz', fullBox(0, Buffer.concat([head, u32s(t.sizes, t.count)])));
}

function stsc(t: TrackSamples): BoxNode {
  const entries: number[] = [];
  let previous = -1;
  t.chunks.forEach(([, n], i) => {
    if (n === previous) return;
    entries.push(i + 1, n, 1);
    previous = n;
  });
  return leaf('stsc', withCount(entries.length / 3, u32s(entries, entries.length)));
}

function chunkOffsets(t: TrackSamples, mapOffset: (offset: number) => number, co64: boolean): BoxNode {
  if (!co64) return leaf('stco', withCount(t.chunks.length, u32s(t.chunks.map(([o]) => mapOffset(o)), t.chunks.length)));
  const b = Buffer.alloc(t.chunks.length * 8);
  t.chunks.forEach(([o], i) => b.writeBigUInt64BE(BigInt(mapOffset(o)), 8 * i));
  return leaf('co64', withCount(t.chunks.length, b));
}

/** Writes `value` into a v0 (32-bit) or v1 (64-bit) duration field. */
function patchDuration(payload: Buffer, v0Offset: number, v1Offset: number, value: number, what: string): Buffer {
  const out = Buffer.from(payload);
  if (out[0] === 1) out.writeBigUInt64BE(BigInt(value), v1Offset);
  else if (value > U32) throw new BoxFormatError(`${what} duration ${value} needs a version 1 box`);
  else out.writeUInt32BE(value, v0Offset);
  return out;
}

interface EditEntry {
  segmentDuration: number;
  mediaTime: number;
  rate: number;
}

function readElst(payload: Buffer): EditEntry[] {
  const v1 = payload[0] === 1;
  const count = payload.readUInt32BE(4);
  const entries: EditEntry[] = [];
  let p = 8;
  for (let i = 0; i < count; i++) {
    if (v1) {
      entries.push({ segmentDuration: Number(payload.readBigUInt64BE(p)), mediaTime: Number(payload.readBigInt64BE(p + 8)), rate: payload.readUInt32BE(p + 16) });
      p += 20;
    } else {
      entries.push({ segmentDuration: payload.readUInt32BE(p), mediaTime: payload.readInt32BE(p + 4), rate: payload.readUInt32BE(p + 8) });
      p += 12;
    }
  }
  return entries;
}

function writeElst(entries: EditEntry[]): Buffer {
  const v1 = entries.some((e) => e.segmentDuration > U32 || e.mediaTime > 0x7fffffff);
  const b = Buffer.alloc(entries.length * (v1 ? 20 : 12));
  entries.forEach((e, i) => {
    if (v1) {
      b.writeBigUInt64BE(BigInt(e.segmentDuration), 20 * i);
      b.writeBigInt64BE(BigInt(e.mediaTime), 20 * i + 8);
      b.writeUInt32BE(e.rate, 20 * i + 16);
    } else {
      b.writeUInt32BE(e.segmentDuration, 12 * i);
      b.writeInt32BE(e.mediaTime, 12 * i + 4);
      b.writeUInt32BE(e.rate, 12 * i + 8);
    }
  });
  return withCount(entries.length, b, v1 ? 1 : 0);
}

export interface MoovOptions {
  /** Where a sample at this offset of the fragmented file is in the finished one. */
  readonly mapOffset: (offset: number) => number;
  /** 64-bit chunk offsets (co64) instead of stco. */
  readonly co64: boolean;
}

/**
 * The moov of the finished, unfragmented MP4: the fragmented moov's boxes
 * (track headers, sample descriptions, edit lists, metadata) with durations
 * filled in, complete sample tables built from the fragments, and no mvex.
 */
export function buildMoov(fragmentedMoov: BoxNode, tables: Map<number, TrackSamples>, options: MoovOptions): BoxNode {
  const mvhd = requireChild(fragmentedMoov, 'mvhd').payload as Buffer;
  const movieTimescale = mvhd.readUInt32BE(mvhd[0] === 1 ? 20 : 12);
  let movieDuration = 0;
  const children: BoxNode[] = [];
  for (const box of fragmentedMoov.children ?? []) {
    if (box.type === 'mvex' || box.type === 'mvhd') continue;
    if (box.type !== 'trak') {
      children.push(box);
      continue;
    }
    const table = tables.get(trackIdOf(box));
    if (!table || table.count === 0) continue; // a track without media is left out, as a remux does
    const mediaDuration = table.mediaDuration;
    // where presentation ends: with composition offsets (B-frames) later than the decode end
    let dts = 0;
    let presentationEnd = 0;
    for (let i = 0; i < table.count; i++) {
      const d = table.durations[i] ?? 0;
      presentationEnd = Math.max(presentationEnd, dts + (table.ctos[i] ?? 0) + d);
      dts += d;
    }
    const mediaTimescale = table.track.timescale;
    const toMovie = (t: number): number => Math.round((t * movieTimescale) / mediaTimescale);
    let trackDuration = toMovie(mediaDuration);
    const trak: BoxNode[] = [];
    for (const c of box.children ?? []) {
      if (c.type === 'edts') {
        const elst = requireChild(c, 'elst').payload as Buffer;
        const entries = readElst(elst).map((e) =>
          e.mediaTime >= 0 && e.segmentDuration === 0 ? { ...e, segmentDuration: Math.max(0, toMovie(presentationEnd - e.mediaTime)) } : e,
        );
        trackDuration = entries.reduce((n, e) => n + e.segmentDuration, 0);
        trak.push({ type: 'edts', children: [leaf('elst', writeElst(entries))] });
      } else {
        trak.push(c);
      }
    }
    const rebuilt = trak.map((c): BoxNode => {
      if (c.type === 'tkhd') return leaf('tkhd', patchDuration(c.payload as Buffer, 20, 28, trackDuration, 'tkhd'));
      if (c.type !== 'mdia') return c;
      return {
        type: 'mdia',
        children: (c.children ?? []).map((m): BoxNode => {
          if (m.type === 'mdhd') return leaf('mdhd', patchDuration(m.payload as Buffer, 16, 24, mediaDuration, 'mdhd'));
          if (m.type !== 'minf') return m;
          return {
            type: 'minf',
            children: (m.children ?? []).map((s): BoxNode => {
              if (s.type !== 'stbl') return s;
              const tableBoxes = [stts(table), ctts(table), stss(table), stsc(table), stsz(table), chunkOffsets(table, options.mapOffset, options.co64)];
              return { type: 'stbl', children: [requireChild(s, 'stsd'), ...tableBoxes.filter((b): b is BoxNode => b !== null)] };
            }),
          };
        }),
      };
    });
    movieDuration = Math.max(movieDuration, trackDuration);
    children.push({ type: 'trak', children: rebuilt });
  }
  const header = leaf('mvhd', patchDuration(mvhd, 16, 24, movieDuration, 'mvhd'));
  return { type: 'moov', children: [header, ...children] };
}
