/**
 * Pure helpers over FLV tags as the live broadcast hands them to a subscriber:
 * each buffer after the 13-byte file header is one whole tag
 * (11-byte tag header, body, 4-byte previous-tag-size).
 */

export const FLV_TAG_AUDIO = 8;
export const FLV_TAG_VIDEO = 9;
export const FLV_TAG_SCRIPT = 18;
export const FLV_FILE_HEADER_SIZE = 13;

export interface FlvTagInfo {
  readonly type: number;
  readonly bodySize: number;
  /** Timestamp in ms (24 bits + 8 extended bits). */
  readonly timestamp: number;
  readonly body: Buffer;
}

export function isFlvFileHeader(buf: Buffer): boolean {
  return buf.length === FLV_FILE_HEADER_SIZE && buf[0] === 0x46 && buf[1] === 0x4c && buf[2] === 0x56;
}

export function readFlvTag(buf: Buffer): FlvTagInfo | null {
  if (buf.length < 15) return null;
  const type = buf[0]! & 0x1f;
  const bodySize = buf.readUIntBE(1, 3);
  if (buf.length < 11 + bodySize) return null;
  const timestamp = ((buf[7]! << 24) | buf.readUIntBE(4, 3)) >>> 0;
  return { type, bodySize, timestamp, body: buf.subarray(11, 11 + bodySize) };
}

export function createFlvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const header = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
  header[4] = (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0);
  return header;
}

const AUDIO_CODECS: Record<number, string> = {
  0: 'PCM',
  1: 'ADPCM',
  2: 'MP3',
  3: 'PCM',
  7: 'PCMA',
  8: 'PCMU',
  10: 'AAC',
  11: 'SPEEX',
  13: 'OPUS',
};

const VIDEO_CODECS: Record<number, string> = {
  2: 'H263',
  7: 'H264',
  12: 'H265',
  13: 'AV1',
};

const FOURCC_CODECS: Record<string, string> = {
  avc1: 'H264',
  hvc1: 'H265',
  av01: 'AV1',
  vp09: 'VP9',
  vp08: 'VP8',
  Opus: 'OPUS',
  mp4a: 'AAC',
};

/** Registry name of an FLV audio codec id (as in onMetaData audiocodecid). */
export function flvAudioCodecName(id: number): string {
  return AUDIO_CODECS[id] ?? `flv-audio-${id}`;
}

/** Registry name of an FLV video codec id (as in onMetaData videocodecid). */
export function flvVideoCodecName(id: number): string {
  return VIDEO_CODECS[id] ?? `flv-video-${id}`;
}

export interface MediaTagInfo {
  readonly kind: 'audio' | 'video';
  readonly codec: string;
  /** Codec configuration (AAC AudioSpecificConfig, AVC decoder configuration). */
  readonly isSequenceHeader: boolean;
  readonly isKeyframe: boolean;
}

/** Reads codec and frame kind from an audio or video tag body. */
export function describeMediaTag(tag: FlvTagInfo): MediaTagInfo | null {
  const b0 = tag.body[0];
  if (b0 === undefined) return null;
  if (tag.type === FLV_TAG_AUDIO) {
    const format = b0 >> 4;
    if (format === 9) {
      // enhanced RTMP audio: packet type in the low nibble, FourCC after
      const fourcc = tag.body.subarray(1, 5).toString('latin1');
      return { kind: 'audio', codec: FOURCC_CODECS[fourcc] ?? fourcc, isSequenceHeader: (b0 & 0x0f) === 0, isKeyframe: false };
    }
    return { kind: 'audio', codec: AUDIO_CODECS[format] ?? `flv-audio-${format}`, isSequenceHeader: format === 10 && tag.body[1] === 0, isKeyframe: false };
  }
  if (tag.type === FLV_TAG_VIDEO) {
    const frameType = (b0 >> 4) & 0x07;
    if ((b0 & 0x80) !== 0) {
      const fourcc = tag.body.subarray(1, 5).toString('latin1');
      return { kind: 'video', codec: FOURCC_CODECS[fourcc] ?? fourcc, isSequenceHeader: (b0 & 0x0f) === 0, isKeyframe: frameType === 1 };
    }
    const codecId = b0 & 0x0f;
    const isSequenceHeader = (codecId === 7 || codecId === 12) && tag.body[1] === 0;
    return { kind: 'video', codec: VIDEO_CODECS[codecId] ?? `flv-video-${codecId}`, isSequenceHeader, isKeyframe: frameType === 1 };
  }
  return null;
}

/** The first SPS NAL unit of an AVCDecoderConfigurationRecord carried in an AVC sequence header tag body. */
export function firstSpsOfAvcSequenceHeader(body: Buffer): Buffer | null {
  // body: [frame/codec][AVCPacketType][CTS x3][configurationVersion][profile][compat][level][lengthSize][numSps]...
  const record = body.subarray(5);
  if (record.length < 8) return null;
  const numSps = record[5]! & 0x1f;
  if (numSps < 1) return null;
  const spsLength = record.readUInt16BE(6);
  if (record.length < 8 + spsLength) return null;
  return record.subarray(8, 8 + spsLength);
}
