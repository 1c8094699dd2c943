import type { MediaInfo } from '../../streams/stream.js';
import { firstSpsOfAvcSequenceHeader, type FlvTagInfo, type MediaTagInfo } from './flv-tags.js';
import { parseH264Sps } from './nms-internals.js';

/**
 * Notes what one FLV media tag says about its stream: the track's codec and,
 * from an H.264 sequence header, the picture size. Shared by the RTMP ingest
 * and the RTSP pull (whose ffmpeg also hands out FLV).
 */
export function noteMediaTag(info: MediaInfo, tag: FlvTagInfo, media: MediaTagInfo): void {
  if (media.kind === 'audio') info.audioCodec = media.codec;
  else info.videoCodec = media.codec;
  if (media.kind === 'video' && media.isSequenceHeader && media.codec === 'H264') {
    const sps = firstSpsOfAvcSequenceHeader(tag.body);
    const size = sps ? parseH264Sps(sps) : null;
    if (size && size.width > 0) {
      info.width = size.width;
      info.height = size.height;
    }
  }
}
