import { BoxFormatError, type BoxNode, findChild, requireChild } from './box-tree.js';

/** What a fragmented moov says about one track. */
export interface FragmentedTrack {
  readonly trackId: number;
  /** mdhd timescale */
  readonly timescale: number;
  readonly defaultDuration: number;
  readonly defaultSize: number;
  readonly defaultFlags: number;
}

/** The samples of one track, in decode order, with their place in the file. */
export class TrackSamples {
  readonly durations: number[] = [];
  readonly sizes: number[] = [];
  /** composition time offsets */
  readonly ctos: number[] = [];
  /** 1-based numbers of the sync samples */
  readonly syncNumbers: number[] = [];
  /** runs of samples contiguous in the file: [absolute offset, sample count] */
  readonly chunks: [number, number][] = [];
  /** decode time where the next sample starts */
  nextDts = 0;

  constructor(readonly track: FragmentedTrack) {}

  get count(): number {
    return this.durations.length;
  }

  get mediaDuration(): number {
    return this.durations.reduce((a, b) => a + b, 0);
  }
}

const NON_SYNC = 0x00010000;

function fullBoxVersionFlags(payload: Buffer): { version: number; flags: number } {
  return { version: payload[0] ?? 0, flags: payload.readUInt32BE(0) & 0xffffff };
}

/** mdhd timescale of a trak box. */
function mediaTimescale(trak: BoxNode): number {
  const mdhd = requireChild(requireChild(trak, 'mdia'), 'mdhd').payload as Buffer;
  return mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
}

export function trackIdOf(trak: BoxNode): number {
  const tkhd = requireChild(trak, 'tkhd').payload as Buffer;
  return tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
}

/** The tracks of a fragmented moov (one with mvex), with their trex defaults. */
export function fragmentedTracks(moov: BoxNode): Map<number, FragmentedTrack> {
  const mvex = findChild(moov, 'mvex');
  if (!mvex) throw new BoxFormatError('moov has no mvex: not a fragmented MP4');
  const trex = new Map<number, Buffer>();
  for (const c of mvex.children ?? []) if (c.type === 'trex' && c.payload) trex.set(c.payload.readUInt32BE(4), c.payload);
  const tracks = new Map<number, FragmentedTrack>();
  for (const trak of moov.children ?? []) {
    if (trak.type !== 'trak') continue;
    const trackId = trackIdOf(trak);
    const t = trex.get(trackId);
    tracks.set(trackId, {
      trackId,
      timescale: mediaTimescale(trak),
      defaultDuration: t ? t.readUInt32BE(12) : 0,
      defaultSize: t ? t.readUInt32BE(16) : 0,
      defaultFlags: t ? t.readUInt32BE(20) : 0,
    });
  }
  return tracks;
}

/**
 * Adds the samples of one moof (found at `moofOffset` in the file) to the
 * tracks' tables. Returns the end offset of the last sample it describes,
 * so the caller can check the media is really in the file.
 */
export function addFragment(moof: BoxNode, moofOffset: number, tables: Map<number, TrackSamples>): number {
  let dataEnd = 0;
  let previousTrafEnd = moofOffset;
  for (const traf of moof.children ?? []) {
    if (traf.type !== 'traf') continue;
    const tfhd = requireChild(traf, 'tfhd').payload as Buffer;
    const { flags: tfFlags } = fullBoxVersionFlags(tfhd);
    const trackId = tfhd.readUInt32BE(4);
    const table = tables.get(trackId);
    if (!table) throw new BoxFormatError(`fragment refers to unknown track ${trackId}`);
    const track = table.track;
    let p = 8;
    let base: number;
    if (tfFlags & 0x01) {
      base = Number(tfhd.readBigUInt64BE(p));
      p += 8;
    } else {
      base = tfFlags & 0x20000 ? moofOffset : previousTrafEnd;
    }
    if (tfFlags & 0x02) p += 4; // sample_description_index: one description per track here
    let defaultDuration = track.defaultDuration;
    let defaultSize = track.defaultSize;
    let defaultFlags = track.defaultFlags;
    if (tfFlags & 0x08) {
      defaultDuration = tfhd.readUInt32BE(p);
      p += 4;
    }
    if (tfFlags & 0x10) {
      defaultSize = tfhd.readUInt32BE(p);
      p += 4;
    }
    if (tfFlags & 0x20) defaultFlags = tfhd.readUInt32BE(p);

    const tfdt = findChild(traf, 'tfdt')?.payload;
    if (tfdt) {
      const dts = tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);
      // a gap (or overlap) before this fragment: stretch the previous sample, as a remux does
      if (table.count > 0 && dts !== table.nextDts) {
        const last = table.count - 1;
        table.durations[last] = Math.max(0, (table.durations[last] ?? 0) + dts - table.nextDts);
      }
      table.nextDts = dts;
    }

    let cursor = base;
    for (const trun of traf.children ?? []) {
      if (trun.type !== 'trun') continue;
      const b = trun.payload as Buffer;
      const { version, flags } = fullBoxVersionFlags(b);
      const count = b.readUInt32BE(4);
      let q = 8;
      if (flags & 0x01) {
        cursor = base + b.readInt32BE(q);
        q += 4;
      }
      let firstFlags: number | null = null;
      if (flags & 0x04) {
        firstFlags = b.readUInt32BE(q);
        q += 4;
      }
      const runStart = cursor;
      for (let i = 0; i < count; i++) {
        let duration = defaultDuration;
        let size = defaultSize;
        let sampleFlags = i === 0 && firstFlags !== null ? firstFlags : defaultFlags;
        let cto = 0;
        if (flags & 0x100) {
          duration = b.readUInt32BE(q);
          q += 4;
        }
        if (flags & 0x200) {
          size = b.readUInt32BE(q);
          q += 4;
        }
        if (flags & 0x400) {
          const f = b.readUInt32BE(q);
          q += 4;
          if (!(i === 0 && firstFlags !== null)) sampleFlags = f;
        }
        if (flags & 0x800) {
          cto = version === 0 ? b.readUInt32BE(q) : b.readInt32BE(q);
          q += 4;
        }
        if (q > b.length) throw new BoxFormatError('trun is shorter than its sample count says');
        table.durations.push(duration);
        table.sizes.push(size);
        table.ctos.push(cto);
        if (!(sampleFlags & NON_SYNC)) table.syncNumbers.push(table.count);
        table.nextDts += duration;
        cursor += size;
      }
      if (count > 0) table.chunks.push([runStart, count]);
      dataEnd = Math.max(dataEnd, cursor);
    }
    previousTrafEnd = cursor;
  }
  return dataEnd;
}
