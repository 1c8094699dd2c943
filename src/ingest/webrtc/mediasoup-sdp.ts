/**
 * The pure half of the mediasoup engine: mediasoup takes no SDP, so the
 * publisher's offer is turned into mediasoup's objects (router codecs, DTLS
 * parameters, a producer's RTP parameters) and mediasoup's transport into
 * the SDP answer. Types mirror mediasoup's own (mediasoup is an optional
 * dependency, so its types cannot be imported).
 */
import { fmtpParameters, parseSdp, SdpError, type ChosenTrack, type MediaSection, type ParsedSdp } from './sdp.js';

export type MsParameters = Record<string, string | number>;

export interface MsRtcpFeedback {
  readonly type: string;
  readonly parameter?: string;
}

export interface MsRouterCodec {
  readonly kind: 'audio' | 'video';
  readonly mimeType: string;
  readonly clockRate: number;
  readonly channels?: number;
  readonly parameters?: MsParameters;
  readonly rtcpFeedback?: readonly MsRtcpFeedback[];
  readonly preferredPayloadType?: number;
}

export interface MsCodecParameters {
  readonly mimeType: string;
  readonly payloadType: number;
  readonly clockRate: number;
  readonly channels?: number;
  readonly parameters: MsParameters;
  readonly rtcpFeedback: readonly MsRtcpFeedback[];
}

export interface MsRtpParameters {
  readonly mid: string;
  readonly codecs: readonly MsCodecParameters[];
  readonly headerExtensions: readonly { readonly uri: string; readonly id: number }[];
  readonly encodings: readonly { readonly ssrc?: number }[];
  readonly rtcp: { readonly cname?: string; readonly reducedSize: boolean };
}

export interface MsDtlsParameters {
  readonly role: 'auto' | 'client' | 'server';
  readonly fingerprints: readonly { readonly algorithm: string; readonly value: string }[];
}

export interface MsIceCandidate {
  readonly foundation: string;
  readonly priority: number;
  /** mediasoup >= 3.13 names it address; older versions ip. */
  readonly address?: string;
  readonly ip?: string;
  readonly protocol: 'udp' | 'tcp';
  readonly port: number;
  readonly type: string;
  readonly tcpType?: string;
}

export interface MsTransportInfo {
  readonly iceParameters: { readonly usernameFragment: string; readonly password: string };
  readonly iceCandidates: readonly MsIceCandidate[];
  readonly dtlsParameters: MsDtlsParameters;
}

/** Header extensions mediasoup understands on a producer (and that a recorder can use). */
const SUPPORTED_EXTENSIONS = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
]);

/** The router's codecs for the tracks chosen from an offer: exactly those codecs, with the offer's parameters. */
export function routerCodecs(tracks: readonly ChosenTrack[]): MsRouterCodec[] {
  return tracks.map((t) => {
    const params = parametersOf(t.codec.fmtp);
    return t.kind === 'audio'
      ? { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: params }
      : { kind: 'video', mimeType: `video/${t.name}`, clockRate: 90000, parameters: params };
  });
}

/** fmtp as mediasoup parameters: numbers where the value is a number (mediasoup compares packetization-mode as a number). */
export function parametersOf(fmtp: string): MsParameters {
  const out: MsParameters = {};
  for (const [k, v] of fmtpParameters(fmtp)) {
    if (k.startsWith('x-google-')) continue;
    out[k] = /^\d+$/.test(v) && k !== 'profile-level-id' ? Number(v) : v;
  }
  return out;
}

/** The DTLS parameters of the remote side: its fingerprints, and its role from a=setup. */
export function remoteDtlsParameters(offer: ParsedSdp): MsDtlsParameters {
  const all = [...offer.session, ...offer.sections.flatMap((s) => s.lines)];
  const fingerprints = [...new Set(all.filter((l) => l.startsWith('a=fingerprint:')))].map((l) => {
    const [algorithm = '', value = ''] = l.slice('a=fingerprint:'.length).split(' ');
    return { algorithm: algorithm.toLowerCase(), value };
  });
  if (fingerprints.length === 0) throw new SdpError('the offer has no DTLS fingerprint (a=fingerprint)');
  const setup = all.find((l) => l.startsWith('a=setup:'))?.slice(8) ?? 'actpass';
  // we answer passive to actpass: the publisher is then the DTLS client
  const role = setup === 'passive' ? 'server' : 'client';
  return { role, fingerprints };
}

function sectionOf(offer: ParsedSdp, mid: string): MediaSection {
  const section = offer.sections.find((s) => s.mid === mid);
  if (!section) throw new SdpError(`no media section with mid ${mid}`);
  return section;
}

/** The media SSRC of a section: the first of an FID group, else the first a=ssrc. */
export function mediaSsrc(section: MediaSection): number | undefined {
  const fid = section.lines.find((l) => l.startsWith('a=ssrc-group:FID '));
  if (fid) return Number(fid.split(' ')[1]);
  const first = section.lines.find((l) => l.startsWith('a=ssrc:'));
  return first ? Number(first.slice(7).split(' ')[0]) : undefined;
}

/** The producer's RTP parameters for one chosen track of the offer. */
export function producerRtpParameters(offer: ParsedSdp, track: ChosenTrack): MsRtpParameters {
  const section = sectionOf(offer, track.mid);
  const c = track.codec;
  const headerExtensions = section.lines
    .map((l) => /^a=extmap:(\d+)(?:\/\S+)? (\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && SUPPORTED_EXTENSIONS.has(m[2]!))
    .map((m) => ({ uri: m[2]!, id: Number(m[1]) }));
  const cname = section.lines.find((l) => /^a=ssrc:\d+ cname:/.test(l))?.split('cname:')[1];
  const ssrc = mediaSsrc(section);
  return {
    mid: track.mid,
    codecs: [
      {
        mimeType: track.kind === 'audio' ? 'audio/opus' : `video/${track.name}`,
        payloadType: c.payloadType,
        clockRate: c.clockRate,
        ...(track.kind === 'audio' ? { channels: c.channels } : {}),
        parameters: parametersOf(c.fmtp),
        rtcpFeedback: c.rtcpFeedback
          .filter((f) => f !== 'transport-cc')
          .map((f) => {
            const [type = '', parameter] = f.split(' ');
            return parameter ? { type, parameter } : { type };
          }),
      },
    ],
    headerExtensions,
    encodings: [ssrc !== undefined ? { ssrc } : {}],
    rtcp: { ...(cname ? { cname } : {}), reducedSize: true },
  };
}

/** The consumer's RTP capabilities for the recorder: the same codecs, no RTX, no simulcast. */
export function recorderRtpCapabilities(tracks: readonly ChosenTrack[]): { codecs: MsRouterCodec[]; headerExtensions: [] } {
  return { codecs: routerCodecs(tracks).map((c) => ({ ...c, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] })), headerExtensions: [] };
}

/** The SDP answer for the publisher from the WebRtcTransport's parameters (ICE-lite, DTLS passive, receive-only). */
export function mediasoupAnswer(offerText: string, tracks: readonly ChosenTrack[], transport: MsTransportInfo): string {
  const offer = parseSdp(offerText);
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new Error('the transport has no DTLS fingerprint');
  const mids = offer.sections.map((s) => s.mid);
  const out = ['v=0', `o=wcs-recorder ${Date.now()} 1 IN IP4 0.0.0.0`, 's=-', 't=0 0', 'a=ice-lite', `a=group:BUNDLE ${mids.join(' ')}`, 'a=msid-semantic: WMS'];
  for (const section of offer.sections) {
    const track = tracks.find((t) => t.mid === section.mid && t.kind === section.kind);
    const proto = section.lines[0]!.split(' ')[2] ?? 'UDP/TLS/RTP/SAVPF';
    if (!track) {
      // refused: port 0, as RFC 3264 says
      const pts = section.codecs.map((c) => c.payloadType).slice(0, 1).join(' ') || '0';
      out.push(`m=${section.kind} 0 ${proto} ${pts}`, 'c=IN IP4 0.0.0.0', `a=mid:${section.mid}`, 'a=inactive');
      continue;
    }
    const c = track.codec;
    out.push(`m=${section.kind} 7 ${proto} ${c.payloadType}`, 'c=IN IP4 127.0.0.1', `a=mid:${section.mid}`, 'a=recvonly', 'a=rtcp-mux', 'a=rtcp-rsize');
    out.push(`a=ice-ufrag:${transport.iceParameters.usernameFragment}`, `a=ice-pwd:${transport.iceParameters.password}`, 'a=ice-options:renomination');
    out.push(`a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`, 'a=setup:passive');
    const channels = track.kind === 'audio' ? `/${c.channels}` : '';
    const encoding = track.kind === 'audio' ? 'opus' : track.name;
    out.push(`a=rtpmap:${c.payloadType} ${encoding}/${c.clockRate}${channels}`);
    const fmtp = c.fmtp.split(';').map((p) => p.trim()).filter(Boolean).join(';');
    if (fmtp) out.push(`a=fmtp:${c.payloadType} ${fmtp}`);
    for (const fb of c.rtcpFeedback) {
      if (fb === 'transport-cc') continue;
      out.push(`a=rtcp-fb:${c.payloadType} ${fb}`);
    }
    for (const l of section.lines) {
      const m = /^a=extmap:(\d+)(?:\/\S+)? (\S+)/.exec(l);
      if (m && SUPPORTED_EXTENSIONS.has(m[2]!)) out.push(`a=extmap:${m[1]} ${m[2]}`);
    }
    for (const cand of transport.iceCandidates) {
      const address = cand.address ?? cand.ip ?? '';
      const tcp = cand.protocol === 'tcp' ? ` tcptype ${cand.tcpType ?? 'passive'}` : '';
      out.push(`a=candidate:${cand.foundation} 1 ${cand.protocol} ${cand.priority} ${address} ${cand.port} typ ${cand.type}${tcp}`);
    }
    out.push('a=end-of-candidates');
  }
  return out.join('\r\n') + '\r\n';
}
