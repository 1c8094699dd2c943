import { FLV_TAG_AUDIO, FLV_TAG_VIDEO } from '../../ingest/rtmp/flv-tags.js';
import { type BoxNode, leaf, serializeBox } from './box-tree.js';
import { retainView } from '../../util/slab-pool.js';

/**
 * Turns FLV tags (H.264 in AVCC form, raw AAC) into a fragmented MP4 the way
 * the live muxer (ffmpeg `-movflags +frag_keyframe+delay_moov`) writes it:
 * ftyp + moov (with mvex and the edit lists that align the tracks) before the
 * first fragment, then moof + mdat fragments cut at video keyframes and at
 * most `fragmentMs` long. Pure: it returns the bytes to write, in order.
 * Only stream copy of H.264 and AAC; everything else goes through ffmpeg.
 */

export class Fmp4InputError extends Error {}

export interface Fmp4WriterOptions {
  readonly hasVideo: boolean;
  readonly hasAudio: boolean;
  /** Display size of the video (from the SPS); 0 when unknown. */
  readonly width: number;
  readonly height: number;
  /** Longest fragment, ms (ffmpeg's -frag_duration). */
  readonly fragmentMs?: number;
  /**
   * Wall-clock start of the record: the creation and modification time of
   * mvhd, tkhd and mdhd (ffprobe's `creation_time`). Absent: 0 (unknown).
   */
  readonly creationTime?: Date;
}

/**
 * The samples of the fragment being built, in columns: no object per
 * sample, and the media is referenced as the FLV tag it came in (which its
 * source holds anyway) plus where the sample's bytes are in it; the views
 * written to the file are made when the fragment is flushed and live only
 * until written. Samples wait up to a fragment (0.5 s), long enough for a
 * per-sample object and view to outlive a scavenge and be copied into the
 * old generation, where only a full GC frees them (issue 20).
 */
class FragmentColumns {
  count = 0;
  dts = new Float64Array(64);
  cto = new Int32Array(64);
  duration = new Uint32Array(64);
  key = new Uint8Array(64);
  start = new Int32Array(64);
  end = new Int32Array(64);
  tags: Buffer[] = [];

  push(dts: number, cto: number, duration: number, tag: Buffer, start: number, end: number, key: boolean): void {
    const i = this.count;
    if (i === this.dts.length) this.#grow();
    this.dts[i] = dts;
    this.cto[i] = cto;
    this.duration[i] = duration;
    this.key[i] = key ? 1 : 0;
    this.start[i] = start;
    this.end[i] = end;
    this.tags[i] = tag;
    this.count = i + 1;
  }

  /** Empties the fragment; the references to the tags are dropped. */
  clear(): void {
    this.tags.length = 0;
    this.count = 0;
  }

  #grow(): void {
    const n = this.dts.length * 2;
    const grow = <T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.dts = grow(this.dts, (k) => new Float64Array(k));
    this.cto = grow(this.cto, (k) => new Int32Array(k));
    this.duration = grow(this.duration, (k) => new Uint32Array(k));
    this.key = grow(this.key, (k) => new Uint8Array(k));
    this.start = grow(this.start, (k) => new Int32Array(k));
    this.end = grow(this.end, (k) => new Int32Array(k));
  }
}

interface Track {
  readonly id: number;
  readonly kind: 'video' | 'audio';
  timescale: number;
  config: Buffer | null;
  channels: number;
  firstDtsMs: number | null;
  firstCto: number;
  /** The last sample, held until the next one gives its duration (decode time, cto, tag and the sample's bytes in it). */
  held: boolean;
  heldDts: number;
  heldCto: number;
  heldTag: Buffer | null;
  heldStart: number;
  heldEnd: number;
  heldKey: boolean;
  readonly fragment: FragmentColumns;
  lastDuration: number;
  /** decode time of the next sample to be written (tfdt) */
  written: number;
}

const VIDEO_TIMESCALE = 90000;
const MOVIE_TIMESCALE = 1000;
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const KEY_FLAGS = 0x02000000;
/** Samples per AAC frame (AAC-LC; HE-AAC counts its core rate) */
const AAC_FRAME = 1024;
const NON_KEY_FLAGS = 0x01010000;

/** The largest sample duration a trun can hold (unsigned 32 bits). */
const MAX_SAMPLE_DURATION = 0xffffffff;

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, i * 2));
  return b;
}

const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

/** Seconds from MP4's epoch (1904-01-01 UTC) to the Unix epoch. */
export const MP4_EPOCH_OFFSET_S = 2082844800;

/**
 * The version of mvhd/tkhd/mdhd and their creation + modification time and
 * (zero) duration fields: version 0 (32-bit) while the time fits, which it
 * does until 2040-02-06; version 1 (64-bit) after that.
 */
export function headerTimes(creationTime: Date | undefined): { version: number; times: Buffer; duration: Buffer } {
  const seconds = creationTime === undefined ? 0 : Math.max(0, Math.floor(creationTime.getTime() / 1000) + MP4_EPOCH_OFFSET_S);
  if (seconds <= 0xffffffff) return { version: 0, times: u32(seconds, seconds), duration: u32(0) };
  const times = Buffer.alloc(16);
  times.writeBigUInt64BE(BigInt(seconds), 0);
  times.writeBigUInt64BE(BigInt(seconds), 8);
  return { version: 1, times, duration: Buffer.alloc(8) };
}

/** Sample rate and channels of an AAC AudioSpecificConfig. */
export function parseAudioSpecificConfig(asc: Buffer): { sampleRate: number; channels: number } {
  if (asc.length < 2) throw new Fmp4InputError('AAC AudioSpecificConfig too short');
  const bits = asc.readUInt16BE(0);
  const index = (bits >> 7) & 0x0f;
  let sampleRate: number;
  let channels: number;
  if (index === 15) {
    if (asc.length < 5) throw new Fmp4InputError('AAC AudioSpecificConfig too short');
    sampleRate = (asc.readUInt32BE(1) >>> 7) & 0xffffff;
    channels = (asc.readUInt8(4) >> 3) & 0x0f;
  } else {
    sampleRate = AAC_RATES[index] ?? 0;
    channels = (bits >> 3) & 0x0f;
  }
  if (sampleRate === 0) throw new Fmp4InputError(`AAC sampling frequency index ${index} is not valid`);
  return { sampleRate, channels: channels || 2 };
}

/** An MPEG-4 descriptor: tag, length (one byte when it fits), body. */
function descriptor(tag: number, body: Buffer): Buffer {
  if (body.length > 0x7f) {
    const n = body.length;
    return Buffer.concat([Buffer.from([tag, 0x80 | ((n >> 21) & 0x7f), 0x80 | ((n >> 14) & 0x7f), 0x80 | ((n >> 7) & 0x7f), n & 0x7f]), body]);
  }
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}

function esds(asc: Buffer): BoxNode {
  const decoderConfig = descriptor(0x04, Buffer.concat([Buffer.from([0x40, 0x15, 0, 0, 0]), u32(0, 0), descriptor(0x05, asc)]));
  const es = descriptor(0x03, Buffer.concat([u16(0), Buffer.from([0]), decoderConfig, descriptor(0x06, Buffer.from([0x02]))]));
  return leaf('esds', Buffer.concat([u32(0), es]));
}

function sampleEntry(track: Track, width: number, height: number): BoxNode {
  const config = track.config as Buffer;
  if (track.kind === 'video') {
    const body = Buffer.concat([
      Buffer.alloc(6), u16(1), u16(0, 0), u32(0, 0, 0), u16(width, height), u32(0x00480000, 0x00480000, 0), u16(1),
      Buffer.alloc(32), u16(0x0018, 0xffff),
      serializeBox(leaf('avcC', config)),
    ]);
    return leaf('avc1', body);
  }
  const body = Buffer.concat([Buffer.alloc(6), u16(1), u32(0, 0), u16(track.channels, 16, 0, 0), u32(track.timescale < 65536 ? track.timescale * 65536 : 0), serializeBox(esds(config))]);
  return leaf('mp4a', body);
}

/**
 * Ordered FLV tags in, fragmented MP4 bytes out. A sample's bytes are not
 * copied: the writer keeps the tag (retainView, util/slab-pool.ts) and
 * hands out a view of it with the fragment; the caller lets go of every
 * buffer it gets from push() and end() with releaseView once it is written
 * (or never, if it throws them away: the slab then goes to the garbage
 * collector instead of back to its pool).
 */
export class Fmp4Writer {
  readonly #tracks: Track[] = [];
  readonly #fragmentMs: number;
  #headerWritten = false;
  #sequence = 0;
  /** Samples dropped because their decode time did not move forward. */
  droppedSamples = 0;

  constructor(private readonly options: Fmp4WriterOptions) {
    this.#fragmentMs = options.fragmentMs ?? 500;
    const make = (id: number, kind: 'video' | 'audio'): Track => ({
      id, kind, timescale: kind === 'video' ? VIDEO_TIMESCALE : 0, config: null, channels: 2, firstDtsMs: null, firstCto: 0,
      held: false, heldDts: 0, heldCto: 0, heldTag: null, heldStart: 0, heldEnd: 0, heldKey: false,
      fragment: new FragmentColumns(), lastDuration: 0, written: 0,
    });
    if (options.hasVideo) this.#tracks.push(make(this.#tracks.length + 1, 'video'));
    if (options.hasAudio) this.#tracks.push(make(this.#tracks.length + 1, 'audio'));
    if (this.#tracks.length === 0) throw new Fmp4InputError('a recording needs audio or video');
  }

  #track(kind: 'video' | 'audio'): Track | undefined {
    return this.#tracks.find((t) => t.kind === kind);
  }

  /**
   * One FLV tag (11-byte header, body, previous-tag-size). Returns the bytes
   * that are ready for the file (often none: samples wait for their fragment).
   */
  push(buf: Buffer): Buffer[] {
    // the tag header read in place (no object or view per tag)
    if (buf.length < 15) throw new Fmp4InputError('FLV tag shorter than its header and body');
    const type = buf[0]! & 0x1f;
    const bodySize = buf.readUIntBE(1, 3);
    if (buf.length < 11 + bodySize) throw new Fmp4InputError('FLV tag shorter than its header and body');
    const timestamp = ((buf[7]! << 24) | buf.readUIntBE(4, 3)) >>> 0;
    if (type === FLV_TAG_VIDEO) return this.#video(buf, 11 + bodySize, timestamp);
    if (type === FLV_TAG_AUDIO) return this.#audio(buf, 11 + bodySize, timestamp);
    return []; // script data
  }

  /** `tag`: the whole FLV tag; its body is tag[11, end). */
  #video(tag: Buffer, end: number, timestamp: number): Buffer[] {
    const track = this.#track('video');
    if (!track || end - 11 < 5) return [];
    const b0 = tag[11]!;
    const codecId = b0 & 0x0f;
    if ((b0 & 0x80) !== 0 || codecId !== 7) throw new Fmp4InputError(`video codec id ${codecId} is not H.264`);
    const packetType = tag[12]!;
    if (packetType === 0) {
      if (!track.config) track.config = Buffer.from(tag.subarray(16, end));
      return [];
    }
    if (packetType !== 1) return []; // end of sequence
    if (!track.config) throw new Fmp4InputError('H.264 frame before its sequence header');
    const cto = (tag.readIntBE(13, 3) * VIDEO_TIMESCALE) / 1000;
    const key = (b0 >> 4) === 1;
    // the tag itself is kept, not a copy: each FLV tag is a buffer (or a slab region) of its own; #add retains it
    return this.#add(track, timestamp, Math.round(cto), tag, 16, end, key);
  }

  #audio(tag: Buffer, end: number, timestamp: number): Buffer[] {
    const track = this.#track('audio');
    if (!track || end - 11 < 2) return [];
    const format = tag[11]! >> 4;
    if (format !== 10) throw new Fmp4InputError(`audio format ${format} is not AAC`);
    if (tag[12] === 0) {
      if (!track.config) {
        track.config = Buffer.from(tag.subarray(13, end));
        const { sampleRate, channels } = parseAudioSpecificConfig(track.config);
        track.timescale = sampleRate;
        track.channels = channels;
      }
      return [];
    }
    if (!track.config) throw new Fmp4InputError('AAC frame before its AudioSpecificConfig');
    return this.#add(track, timestamp, 0, tag, 13, end, true);
  }

  #add(track: Track, timestampMs: number, cto: number, tag: Buffer, start: number, end: number, key: boolean): Buffer[] {
    const out: Buffer[] = [];
    if (track.firstDtsMs === null) {
      track.firstDtsMs = timestampMs;
      track.firstCto = cto;
    }
    // media time of each track starts at its own first sample; the edit list places it
    let dts = Math.round(((timestampMs - track.firstDtsMs) * track.timescale) / 1000);
    const held = track.held;
    if (track.kind === 'audio' && held) {
      // FLV carries whole milliseconds: an AAC frame (1024 samples) lands up to 1 ms off. Within
      // that rounding the frame follows the previous one exactly (as ffmpeg's stream copy does),
      // which keeps the audio sample-accurate and its table of durations one entry long.
      const expected = track.heldDts + AAC_FRAME;
      if (Math.abs(dts - expected) <= Math.ceil(track.timescale / 1000)) dts = expected;
    }
    if (held && dts <= track.heldDts) {
      // a timestamp that goes back (or repeats) has no place in an MP4 track: dropped, as ffmpeg's muxer does
      this.droppedSamples++;
      return out;
    }
    if (held) {
      // a trun holds 32-bit durations: a forward jump beyond that (49 days of ms, 13 h at 90 kHz)
      // is shortened to the largest one instead of ending the recording with a RangeError
      const duration = Math.min(MAX_SAMPLE_DURATION, Math.max(0, dts - track.heldDts));
      track.lastDuration = duration || track.lastDuration;
      track.fragment.push(track.heldDts, track.heldCto, duration, track.heldTag as Buffer, track.heldStart, track.heldEnd, track.heldKey);
    }
    // a keyframe starts a fragment (ffmpeg's frag_keyframe): the frame held before it, now with its
    // duration, ends the fragment being built; the keyframe is held and opens the next one
    if (track.kind === 'video' && key && this.#hasFragment()) out.push(...this.#flush());
    track.held = true;
    track.heldDts = dts;
    track.heldCto = cto;
    // kept until its fragment is written: its slab stays out of the pool until the caller releases the view #flush hands out
    retainView(tag);
    track.heldTag = tag;
    track.heldStart = start;
    track.heldEnd = end;
    track.heldKey = key;
    if (this.#fragmentDurationMs() >= this.#fragmentMs) out.push(...this.#flush());
    return out;
  }

  #hasFragment(): boolean {
    return this.#tracks.some((t) => t.fragment.count > 0);
  }

  #fragmentDurationMs(): number {
    let ms = 0;
    for (const t of this.#tracks) {
      const f = t.fragment;
      const last = f.count - 1;
      // durations are decode-time differences, so their sum is the span from the first sample to the last one's end
      if (last >= 0 && t.timescale > 0) ms = Math.max(ms, (((f.dts[last] as number) + (f.duration[last] as number) - (f.dts[0] as number)) * 1000) / t.timescale);
    }
    return ms;
  }

  /** The last samples (their duration repeats the one before) and the last fragment. */
  end(): Buffer[] {
    for (const t of this.#tracks) {
      if (!t.held) continue;
      const duration = t.lastDuration || Math.round(t.kind === 'video' ? VIDEO_TIMESCALE / 30 : AAC_FRAME);
      t.fragment.push(t.heldDts, t.heldCto, duration, t.heldTag as Buffer, t.heldStart, t.heldEnd, t.heldKey);
      t.held = false;
      t.heldTag = null;
    }
    return this.#hasFragment() ? this.#flush() : [];
  }

  #flush(): Buffer[] {
    const out: Buffer[] = [];
    if (!this.#headerWritten) {
      out.push(this.#header());
      this.#headerWritten = true;
    }
    const tracks = this.#tracks.filter((t) => t.fragment.count > 0);
    const trunSize = (t: Track): number => 8 + 12 + 16 * t.fragment.count + 8;
    const trafSize = (t: Track): number => 8 + 16 + 20 + trunSize(t);
    const moofSize = 8 + 16 + tracks.reduce((n, t) => n + trafSize(t), 0);
    let dataOffset = moofSize + 8;
    const trafs: BoxNode[] = [];
    const data: Buffer[] = [];
    for (const t of tracks) {
      const f = t.fragment;
      const trun = Buffer.alloc(trunSize(t) - 8);
      trun.writeUInt32BE(0x01000f01, 0); // version 1 (signed offsets); data offset, duration, size, flags, cto
      trun.writeUInt32BE(f.count, 4);
      trun.writeInt32BE(dataOffset, 8);
      for (let i = 0; i < f.count; i++) {
        const p = 12 + 16 * i;
        const size = (f.end[i] as number) - (f.start[i] as number);
        trun.writeUInt32BE(f.duration[i] as number, p);
        trun.writeUInt32BE(size, p + 4);
        trun.writeUInt32BE(t.kind === 'audio' || f.key[i] === 1 ? KEY_FLAGS : NON_KEY_FLAGS, p + 8);
        trun.writeInt32BE(f.cto[i] as number, p + 12);
        dataOffset += size;
        data.push((f.tags[i] as Buffer).subarray(f.start[i], f.end[i]));
      }
      const tfdt = Buffer.alloc(12);
      tfdt.writeUInt32BE(0x01000000, 0);
      tfdt.writeBigUInt64BE(BigInt(t.written), 4);
      trafs.push({ type: 'traf', children: [leaf('tfhd', u32(0x00020000, t.id)), leaf('tfdt', tfdt), leaf('trun', trun)] });
      for (let i = 0; i < f.count; i++) t.written += f.duration[i] as number;
      f.clear();
    }
    const moof = serializeBox({ type: 'moof', children: [leaf('mfhd', u32(0, ++this.#sequence)), ...trafs] });
    const mdatSize = data.reduce((n, d) => n + d.length, 8);
    const mdatHeader = Buffer.alloc(8);
    mdatHeader.writeUInt32BE(mdatSize, 0);
    mdatHeader.write('mdat', 4, 'latin1');
    out.push(moof, mdatHeader, ...data);
    return out;
  }

  /** ftyp + moov, written with the first fragment (edit lists need the first samples). */
  #header(): Buffer {
    const ftyp = leaf('ftyp', Buffer.concat([Buffer.from('isom', 'latin1'), u32(512), Buffer.from('isomiso2avc1mp41', 'latin1')]));
    // tracks with a sample are placed by the presentation time of their first sample (a B-frame
    // delay, the first composition offset, is cut from the start as ffmpeg's delay_moov does);
    // the earliest starts the presentation
    const startOf = (t: Track): number => (t.firstDtsMs as number) + (t.kind === 'video' ? Math.round((t.firstCto * 1000) / VIDEO_TIMESCALE) : 0);
    const starts = this.#tracks.filter((t) => t.firstDtsMs !== null).map(startOf);
    const base = starts.length > 0 ? Math.min(...starts) : 0;
    const stamp = headerTimes(this.options.creationTime);
    const fullHeader = (flags: number): Buffer => u32(((stamp.version << 24) | flags) >>> 0);
    const traks: BoxNode[] = [];
    const trex: BoxNode[] = [];
    for (const t of this.#tracks) {
      if (!t.config || t.timescale === 0) continue; // a track that never got its configuration is left out
      const video = t.kind === 'video';
      const delayMs = t.firstDtsMs === null ? 0 : startOf(t) - base;
      const entries: Buffer[] = [];
      if (delayMs > 0) entries.push(u32(delayMs, 0xffffffff, 0x00010000));
      entries.push(u32(0, t.firstCto, 0x00010000));
      const elst = Buffer.concat([u32(0, entries.length), ...entries]);
      const tkhd = Buffer.concat([
        fullHeader(0x000003), stamp.times, u32(t.id, 0), stamp.duration, u32(0, 0), u16(0, 0, video ? 0 : 0x0100, 0), MATRIX,
        u32(video ? this.options.width * 65536 : 0, video ? this.options.height * 65536 : 0),
      ]);
      const mdhd = Buffer.concat([fullHeader(0), stamp.times, u32(t.timescale), stamp.duration, u16(0x55c4, 0)]);
      const hdlr = Buffer.concat([u32(0, 0), Buffer.from(video ? 'vide' : 'soun', 'latin1'), u32(0, 0, 0), Buffer.from(video ? 'VideoHandler\0' : 'SoundHandler\0', 'latin1')]);
      const dref = serializeBox(leaf('dref', Buffer.concat([u32(0, 1), serializeBox(leaf('url ', u32(1)))])));
      const stsd = Buffer.concat([u32(0, 1), serializeBox(sampleEntry(t, this.options.width, this.options.height))]);
      traks.push({
        type: 'trak',
        children: [
          leaf('tkhd', tkhd),
          { type: 'edts', children: [leaf('elst', elst)] },
          {
            type: 'mdia',
            children: [
              leaf('mdhd', mdhd),
              leaf('hdlr', hdlr),
              {
                type: 'minf',
                children: [
                  video ? leaf('vmhd', u32(1, 0, 0)) : leaf('smhd', u32(0, 0)),
                  leaf('dinf', dref),
                  {
                    type: 'stbl',
                    children: [leaf('stsd', stsd), leaf('stts', u32(0, 0)), leaf('stsc', u32(0, 0)), leaf('stsz', u32(0, 0, 0)), leaf('stco', u32(0, 0))],
                  },
                ],
              },
            ],
          },
        ],
      });
      trex.push(leaf('trex', u32(0, t.id, 1, 0, 0, 0)));
    }
    const mvhd = Buffer.concat([fullHeader(0), stamp.times, u32(MOVIE_TIMESCALE), stamp.duration, u32(0x00010000), u16(0x0100, 0), u32(0, 0), MATRIX, u32(0, 0, 0, 0, 0, 0), u32(this.#tracks.length + 1)]);
    const moov: BoxNode = { type: 'moov', children: [leaf('mvhd', mvhd), ...traks, { type: 'mvex', children: trex }] };
    return Buffer.concat([serializeBox(ftyp), serializeBox(moov)]);
  }
}
