/**
 * SDP helpers for WebRTC ingest (pure): reading what a publisher offers,
 * choosing the codecs we record, the munging libwebrtc publishers need, and
 * the SDP that tells ffmpeg where the RTP of each track arrives.
 */

export class SdpError extends Error {}
/** The offer is valid SDP but offers nothing we can record. */
export class UnsupportedOfferError extends Error {}

export type VideoCodecName = 'VP8' | 'H264';
export type AudioCodecName = 'OPUS';

export interface OfferedCodec {
  readonly payloadType: number;
  /** Upper case: VP8, H264, OPUS, RTX, ... */
  readonly name: string;
  readonly clockRate: number;
  readonly channels: number;
  /** The a=fmtp parameters ('' when none). */
  readonly fmtp: string;
  readonly rtcpFeedback: readonly string[];
}

export interface MediaSection {
  readonly kind: string;
  readonly mid: string;
  readonly direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  readonly codecs: readonly OfferedCodec[];
  /** The section's lines, m= line first. */
  readonly lines: readonly string[];
}

export interface ParsedSdp {
  readonly session: readonly string[];
  readonly sections: readonly MediaSection[];
}

const DIRECTIONS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((l) => l.length > 0);
}

/** Parses the parts of an SDP offer the ingest uses; SdpError when it is not an SDP offer with media. */
export function parseSdp(sdp: string): ParsedSdp {
  const all = lines(sdp);
  if (all[0] !== 'v=0') throw new SdpError('not an SDP document (it must start with v=0)');
  for (const l of all) {
    if (!/^[a-z]=/.test(l)) throw new SdpError(`malformed SDP line '${l.slice(0, 60)}'`);
  }
  const session: string[] = [];
  const raw: string[][] = [];
  for (const l of all) {
    if (l.startsWith('m=')) raw.push([l]);
    else if (raw.length > 0) raw[raw.length - 1]!.push(l);
    else session.push(l);
  }
  if (raw.length === 0) throw new SdpError('the SDP has no media section (m= line)');
  const sessionDirection = DIRECTIONS.find((d) => session.includes(`a=${d}`)) ?? 'sendrecv';
  const sections = raw.map((sec, index): MediaSection => {
    const m = /^m=(\S+) (\d+) (\S+) ?(.*)$/.exec(sec[0]!);
    if (!m) throw new SdpError(`malformed media line '${sec[0]!.slice(0, 60)}'`);
    const payloads = m[4]!.split(' ').filter(Boolean).map(Number);
    const codecs: OfferedCodec[] = [];
    for (const pt of payloads) {
      if (!Number.isInteger(pt)) continue;
      const rtpmap = sec.find((l) => l.startsWith(`a=rtpmap:${pt} `));
      if (!rtpmap) continue;
      const [name = '', rate = '0', channels = '1'] = rtpmap.slice(`a=rtpmap:${pt} `.length).split('/');
      const fmtp = sec.find((l) => l.startsWith(`a=fmtp:${pt} `))?.slice(`a=fmtp:${pt} `.length) ?? '';
      const rtcpFeedback = sec.filter((l) => l.startsWith(`a=rtcp-fb:${pt} `)).map((l) => l.slice(`a=rtcp-fb:${pt} `.length));
      codecs.push({ payloadType: pt, name: name.toUpperCase(), clockRate: Number(rate), channels: Number(channels) || 1, fmtp, rtcpFeedback });
    }
    const mid = sec.find((l) => l.startsWith('a=mid:'))?.slice(6) ?? String(index);
    const direction = DIRECTIONS.find((d) => sec.includes(`a=${d}`)) ?? sessionDirection;
    return { kind: m[1]!, mid, direction, codecs, lines: sec };
  });
  return { session, sections };
}

/** fmtp parameters as a map (keys lower case). */
export function fmtpParameters(fmtp: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of fmtp.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k) out.set(k.toLowerCase(), v.join('='));
  }
  return out;
}

/** A codec whose numbers ffmpeg and the engines can take: payload type 0-127, clock rate 1..1e6, 1-8 channels. */
function usableRtpmap(c: OfferedCodec): boolean {
  return (
    c.payloadType >= 0 && c.payloadType <= 127 &&
    Number.isInteger(c.clockRate) && c.clockRate > 0 && c.clockRate <= 1_000_000 &&
    Number.isInteger(c.channels) && c.channels >= 1 && c.channels <= 8
  );
}

export interface ChosenTrack {
  readonly kind: 'audio' | 'video';
  readonly mid: string;
  readonly codec: OfferedCodec;
  readonly name: VideoCodecName | AudioCodecName;
}

/**
 * The tracks we record from an offer: per sending audio/video section, the
 * first codec we can record in the publisher's order of preference (VP8,
 * or H.264 with packetization-mode=1; Opus). Only the first audio and the
 * first video section count. UnsupportedOfferError when nothing is left.
 */
export function chooseTracks(offer: ParsedSdp): ChosenTrack[] {
  const out: ChosenTrack[] = [];
  const offered: string[] = [];
  for (const section of offer.sections) {
    if (section.kind !== 'audio' && section.kind !== 'video') continue;
    if (section.direction !== 'sendonly' && section.direction !== 'sendrecv') continue;
    if (out.some((t) => t.kind === section.kind)) continue;
    offered.push(...section.codecs.map((c) => c.name));
    const codec = section.codecs.find(
      (c) =>
        usableRtpmap(c) &&
        (section.kind === 'video'
          ? c.name === 'VP8' || (c.name === 'H264' && fmtpParameters(c.fmtp).get('packetization-mode') === '1')
          : c.name === 'OPUS'),
    );
    if (!codec) continue;
    out.push({ kind: section.kind, mid: section.mid, codec, name: codec.name as VideoCodecName | AudioCodecName });
  }
  if (out.length === 0) {
    const names = [...new Set(offered)].join(', ') || 'none';
    throw new UnsupportedOfferError(`the offer has no codec that can be recorded (offered: ${names}; supported: VP8, H264 packetization-mode=1, OPUS)`);
  }
  return out;
}

const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

/**
 * Removes transport-wide congestion control from an offer: werift's
 * transport-cc feedback makes Chrome estimate about 100-160 kbit/s; without
 * it Chrome follows the REMB we send.
 */
export function stripTransportCc(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return (
    lines(sdp)
      .filter((l) => !/^a=rtcp-fb:\S+ transport-cc\s*$/.test(l) && !(l.startsWith('a=extmap:') && l.includes(TRANSPORT_CC_URI)))
      .join(eol) + eol
  );
}

export interface AnswerMunging {
  /** x-google-start-bitrate, kbit/s, added to every video codec's fmtp. */
  readonly startBitrateKbps: number;
}

/**
 * Makes an answer acceptable and fast for libwebrtc publishers: drops
 * a=ssrc / a=ssrc-group lines in receive-only sections (refused as "more
 * than one track") and adds x-google-start-bitrate to the video codecs.
 */
export function mungeAnswer(sdp: string, options: AnswerMunging): string {
  const eol = '\r\n';
  const parsed = parseSdp(sdp);
  const out: string[] = [...parsed.session];
  for (const section of parsed.sections) {
    const videoPts = section.kind === 'video' ? section.codecs.filter((c) => c.name !== 'RTX').map((c) => c.payloadType) : [];
    const withFmtp = new Set<number>();
    for (const l of section.lines) {
      if (section.direction === 'recvonly' && (l.startsWith('a=ssrc:') || l.startsWith('a=ssrc-group:'))) continue;
      const fmtp = /^a=fmtp:(\d+) (.*)$/.exec(l);
      if (fmtp && videoPts.includes(Number(fmtp[1])) && !fmtp[2]!.includes('x-google-start-bitrate')) {
        withFmtp.add(Number(fmtp[1]));
        out.push(`${l};x-google-start-bitrate=${options.startBitrateKbps}`);
        continue;
      }
      out.push(l);
      const rtpmap = /^a=rtpmap:(\d+) /.exec(l);
      if (rtpmap && videoPts.includes(Number(rtpmap[1])) && !section.lines.some((x) => x.startsWith(`a=fmtp:${rtpmap[1]} `))) {
        out.push(`a=fmtp:${rtpmap[1]} x-google-start-bitrate=${options.startBitrateKbps}`);
      }
    }
  }
  return out.join(eol) + eol;
}

/** Replaces the address of every host candidate in an SDP (the `ip` announced when it differs from the bound one). */
export function announceAddress(sdp: string, from: string, to: string): string {
  if (from === to) return sdp;
  return sdp
    .split('\r\n')
    .map((l) => (l.startsWith('a=candidate:') ? l.replace(` ${from} `, ` ${to} `) : l))
    .join('\r\n');
}

export interface FeedTrack {
  readonly kind: 'audio' | 'video';
  /** Local UDP port ffmpeg receives this track's RTP on (RTCP on port + 1). */
  readonly port: number;
  readonly payloadType: number;
  readonly codec: VideoCodecName | AudioCodecName;
  readonly clockRate: number;
  readonly channels: number;
  /** fmtp parameters ('' when none). */
  readonly fmtp: string;
}

const ENCODING_NAMES: Record<VideoCodecName | AudioCodecName, string> = { VP8: 'VP8', H264: 'H264', OPUS: 'opus' };

/** The SDP ffmpeg reads to receive the tracks' RTP on 127.0.0.1 (RTCP on each port + 1). */
export function feedSdp(tracks: readonly FeedTrack[], sessionName = 'wcs-recorder WebRTC feed'): string {
  const out = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', `s=${sessionName}`, 'c=IN IP4 127.0.0.1', 't=0 0'];
  // video first: ffmpeg's first stream is then the video, as in RTMP feeds
  const ordered = [...tracks].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'video' ? -1 : 1));
  for (const t of ordered) {
    if (t.port % 2 !== 0) throw new RangeError(`RTP port ${t.port} must be even (RTCP uses the next one)`);
    out.push(`m=${t.kind} ${t.port} RTP/AVP ${t.payloadType}`);
    const channels = t.kind === 'audio' ? `/${t.channels}` : '';
    out.push(`a=rtpmap:${t.payloadType} ${ENCODING_NAMES[t.codec]}/${t.clockRate}${channels}`);
    const fmtp = t.fmtp
      .split(';')
      .map((p) => p.trim())
      .filter((p) => p !== '' && !p.startsWith('x-google-'))
      .join(';');
    if (fmtp !== '') out.push(`a=fmtp:${t.payloadType} ${fmtp}`);
    out.push('a=recvonly');
  }
  return out.join('\n') + '\n';
}
