import type { TypedEmitter } from '../../util/typed-emitter.js';
import type { ChosenTrack } from './sdp.js';

export type WebRtcEngineName = 'werift' | 'mediasoup';

/** Where the engine sends one track's media: RTP to 127.0.0.1:rtpPort, RTCP sender reports to rtpPort + 1. */
export interface RtpTarget {
  readonly track: ChosenTrack;
  readonly rtpPort: number;
}

/** One track as the engine forwards it, for the ffmpeg SDP (payload types may be rewritten by the engine). */
export interface ForwardedTrack {
  readonly kind: 'audio' | 'video';
  readonly rtpPort: number;
  readonly payloadType: number;
  readonly clockRate: number;
  readonly channels: number;
  readonly fmtp: string;
}

export interface SessionRequest {
  /** The publisher's SDP offer. */
  readonly offer: string;
  readonly streamName: string;
  /** The tracks to record, each with the local port its RTP goes to. */
  readonly targets: readonly RtpTarget[];
}

export interface WebRtcSessionEvents {
  /** ICE connected (the publisher's media can come now). Once. */
  'ice-connected': [];
  /** Media flows: the first RTP packet was forwarded. */
  'rtp-ready': [];
  /** The peer connection ended (ICE/DTLS failed or closed, BYE, close()). Once. */
  closed: [reason: string];
}

export interface WebRtcSession extends TypedEmitter<WebRtcSessionEvents> {
  /** The SDP answer for the publisher (candidates included: WHIP does not trickle here). */
  readonly answer: string;
  /** How each recorded track is forwarded. */
  readonly forwarded: readonly ForwardedTrack[];
  /** True once ICE connected ('ice-connected' was emitted). */
  readonly iceConnected: boolean;
  /** Date.now() of the last forwarded RTP packet (0 before the first). */
  readonly lastRtpAt: number;
  /**
   * The publisher's clock (epoch ms, from its RTCP sender reports) at the
   * first forwarded packet; the server clock at that packet when no sender
   * report came yet; null before any packet.
   */
  readonly firstPacketClockMs: number | null;
  /**
   * The feed ffmpeg listens now: media held since ICE connected is let
   * through (in order) and a keyframe is asked for. Until then nothing is
   * forwarded (a packet sent to a port nobody listens on is lost).
   */
  feedReady(): void;
  /** Sends a PLI for the video track (no-op without video). */
  requestKeyframe(): void;
  /**
   * Sends the feed one more audio packet (the last one, renumbered): an
   * ffmpeg waiting for input acts on SIGINT only once a packet comes, and
   * then writes its last frames. No-op where the engine cannot.
   */
  nudgeFeed(): void;
  /** Closes the peer connection and stops forwarding. */
  close(reason: string): Promise<void>;
}

export interface WebRtcEngine {
  readonly name: WebRtcEngineName;
  start(): Promise<void>;
  /** Answers an offer; the session forwards media once the publisher connects. */
  createSession(request: SessionRequest): Promise<WebRtcSession>;
  close(): Promise<void>;
}

/** Settings both engines share (config keys in brackets). */
export interface EngineSettings {
  /** [ip] address announced in ICE candidates. */
  readonly announcedIp: string;
  /** [ip_local] address ICE sockets bind to ('0.0.0.0' = all). */
  readonly bindIp: string;
  /** [media_port_from, media_port_to] UDP ports of ICE sockets. */
  readonly portRange: readonly [number, number];
  /** [webrtc_cc_max_bitrate] bit/s the publisher is asked to stay under (REMB). */
  readonly maxBitrate: number;
}

/** 32-bit RTP timestamp difference b - a, wrapping. */
export function rtpDiff(a: number, b: number): number {
  let d = (b - a) >>> 0;
  if (d > 0x7fffffff) d -= 0x100000000;
  return d;
}

/**
 * The publisher's clock at an RTP timestamp, from a sender report (NTP epoch
 * ms at the report's RTP timestamp) and the track's clock rate.
 */
export function senderClockAt(rtpTimestamp: number, report: { readonly epochMs: number; readonly rtpTimestamp: number }, clockRate: number): number {
  return report.epochMs + (rtpDiff(report.rtpTimestamp, rtpTimestamp) * 1000) / clockRate;
}

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
const NTP_EPOCH_OFFSET_S = 2_208_988_800;

/**
 * A 64-bit NTP timestamp (RTCP sender report) as epoch ms. (werift's own
 * ntpTimeToEpochMs adds the 32-bit fraction as if it were milliseconds.)
 */
export function ntpToEpochMs(ntp: bigint): number {
  const seconds = Number(ntp >> 32n);
  const fraction = Number(ntp & 0xffffffffn);
  return (seconds - NTP_EPOCH_OFFSET_S) * 1000 + (fraction * 1000) / 2 ** 32;
}

/** REMB bitrate field: 6-bit exponent, 18-bit mantissa. */
export function rembFields(bitrate: number): { exp: number; mantissa: number } {
  let mantissa = Math.max(0, Math.floor(bitrate));
  let exp = 0;
  while (mantissa > 0x3ffff) {
    mantissa = Math.floor(mantissa / 2);
    exp++;
  }
  return { exp, mantissa };
}
