import { describe, expect, it } from 'vitest';
import {
  announceAddress,
  chooseTracks,
  feedSdp,
  fmtpParameters,
  mungeAnswer,
  parseSdp,
  SdpError,
  stripTransportCc,
  UnsupportedOfferError,
} from '../../src/ingest/webrtc/sdp.js';

/** The shape of a Chromium offer (sendonly video + audio, BUNDLE, transport-cc). */
const CHROME_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=msid-semantic: WMS',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=mid:0',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendonly',
  'a=msid:s1 t1',
  'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 transport-cc',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=rtcp-fb:102 transport-cc',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
  'a=rtpmap:104 H264/90000',
  'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:106 H264/90000',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=ssrc-group:FID 1111 2222',
  'a=ssrc:1111 cname:x',
  'a=ssrc:2222 cname:x',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 0',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=sendonly',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=rtpmap:0 PCMU/8000',
  'a=ssrc:3333 cname:x',
].join('\r\n') + '\r\n';

describe('parseSdp', () => {
  it('reads sections, directions and codecs', () => {
    const sdp = parseSdp(CHROME_OFFER);
    expect(sdp.sections.map((s) => [s.kind, s.mid, s.direction])).toEqual([
      ['video', '0', 'sendonly'],
      ['audio', '1', 'sendonly'],
    ]);
    const vp8 = sdp.sections[0]!.codecs[0]!;
    expect(vp8).toMatchObject({ payloadType: 96, name: 'VP8', clockRate: 90000 });
    expect(vp8.rtcpFeedback).toContain('nack pli');
    expect(sdp.sections[1]!.codecs[0]).toMatchObject({ payloadType: 111, name: 'OPUS', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' });
  });

  it.each([
    ['', 'must start with v=0'],
    ['hello', 'must start with v=0'],
    ['v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', 'no media section'],
    ['v=0\r\nthis is not sdp\r\n', 'malformed SDP line'],
    ['v=0\r\nm=video\r\n', 'malformed media line'],
  ])('refuses %j', (text, message) => {
    expect(() => parseSdp(text)).toThrow(SdpError);
    expect(() => parseSdp(text)).toThrow(message);
  });
});

describe('chooseTracks', () => {
  it('takes the first recordable codec in the publisher order: VP8 and Opus', () => {
    const tracks = chooseTracks(parseSdp(CHROME_OFFER));
    expect(tracks.map((t) => [t.kind, t.mid, t.name, t.codec.payloadType])).toEqual([
      ['video', '0', 'VP8', 96],
      ['audio', '1', 'OPUS', 111],
    ]);
  });

  it('H.264 only with packetization-mode=1 (single NAL mode is skipped)', () => {
    const h264First = CHROME_OFFER.replace('m=video 9 UDP/TLS/RTP/SAVPF 96 97 102', 'm=video 9 UDP/TLS/RTP/SAVPF 102 104 96 97');
    const [video] = chooseTracks(parseSdp(h264First));
    expect(video).toMatchObject({ name: 'H264' });
    expect(video!.codec.payloadType).toBe(104);
  });

  it('records audio only or video only', () => {
    const audioOnly = CHROME_OFFER.replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:96 AV1/90000').replace(/H264/g, 'H265');
    expect(chooseTracks(parseSdp(audioOnly)).map((t) => t.name)).toEqual(['OPUS']);
  });

  it('a receive-only section is not recorded', () => {
    const recvonly = CHROME_OFFER.replace(/a=sendonly/g, 'a=recvonly');
    expect(() => chooseTracks(parseSdp(recvonly))).toThrow(UnsupportedOfferError);
  });

  it('nothing recordable: a clear error naming what was offered', () => {
    const sdp = 'v=0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\na=rtpmap:0 PCMU/8000\r\n';
    expect(() => chooseTracks(parseSdp(sdp))).toThrow(/offered: PCMU; supported: VP8, H264 packetization-mode=1, OPUS/);
  });
});

describe('munging', () => {
  it('strips transport-cc feedback and its header extension from the offer', () => {
    const out = stripTransportCc(CHROME_OFFER);
    expect(out).not.toMatch(/transport-cc/);
    expect(out).not.toMatch(/transport-wide-cc/);
    expect(out).toMatch(/a=rtcp-fb:96 goog-remb/);
    expect(out).toMatch(/a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid/);
    expect(out.endsWith('\r\n')).toBe(true);
  });

  it('answer: no a=ssrc lines in receive-only sections, x-google-start-bitrate on video codecs', () => {
    const answer = [
      'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0',
      'm=video 9 UDP/TLS/RTP/SAVPF 96 102', 'a=mid:0', 'a=recvonly', 'a=rtpmap:96 VP8/90000',
      'a=rtpmap:102 H264/90000', 'a=fmtp:102 packetization-mode=1;profile-level-id=42e01f',
      'a=ssrc-group:FID 1 2', 'a=ssrc:1 cname:werift',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:1', 'a=sendrecv', 'a=rtpmap:111 opus/48000/2', 'a=ssrc:5 cname:werift',
    ].join('\r\n');
    const out = mungeAnswer(answer, { startBitrateKbps: 1500 });
    expect(out).not.toMatch(/a=ssrc-group/);
    expect(out).not.toMatch(/a=ssrc:1 /);
    // only receive-only sections lose them
    expect(out).toMatch(/a=ssrc:5 cname:werift/);
    expect(out).toMatch(/a=rtpmap:96 VP8\/90000\r\na=fmtp:96 x-google-start-bitrate=1500\r\n/);
    expect(out).toMatch(/a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;x-google-start-bitrate=1500\r\n/);
    expect(out).not.toMatch(/a=fmtp:111 x-google/);
  });

  it('announces another address in host candidates', () => {
    const sdp = 'a=candidate:1 1 udp 2130706431 10.0.0.5 31001 typ host\r\na=mid:0';
    expect(announceAddress(sdp, '10.0.0.5', '203.0.113.7')).toBe('a=candidate:1 1 udp 2130706431 203.0.113.7 31001 typ host\r\na=mid:0');
    expect(announceAddress(sdp, '10.0.0.5', '10.0.0.5')).toBe(sdp);
  });

  it('fmtp parameters', () => {
    expect([...fmtpParameters('level-asymmetry-allowed=1; packetization-mode=1;profile-level-id=42e01f')]).toEqual([
      ['level-asymmetry-allowed', '1'],
      ['packetization-mode', '1'],
      ['profile-level-id', '42e01f'],
    ]);
  });
});

describe('feedSdp', () => {
  it('describes VP8 and Opus for ffmpeg on loopback ports, video first', () => {
    const sdp = feedSdp([
      { kind: 'audio', port: 31010, payloadType: 111, codec: 'OPUS', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' },
      { kind: 'video', port: 31012, payloadType: 96, codec: 'VP8', clockRate: 90000, channels: 1, fmtp: 'x-google-start-bitrate=1500' },
    ]);
    expect(sdp).toBe(
      [
        'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=wcs-recorder WebRTC feed', 'c=IN IP4 127.0.0.1', 't=0 0',
        'm=video 31012 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'a=recvonly',
        'm=audio 31010 RTP/AVP 111', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=recvonly',
      ].join('\n') + '\n',
    );
  });

  it('H.264 keeps its fmtp (packetization mode, profile)', () => {
    const sdp = feedSdp([{ kind: 'video', port: 31000, payloadType: 106, codec: 'H264', clockRate: 90000, channels: 1, fmtp: 'packetization-mode=1;profile-level-id=42e01f' }]);
    expect(sdp).toContain('a=rtpmap:106 H264/90000\na=fmtp:106 packetization-mode=1;profile-level-id=42e01f\n');
  });

  it('RTP ports must be even (RTCP is the next one)', () => {
    expect(() => feedSdp([{ kind: 'video', port: 31001, payloadType: 96, codec: 'VP8', clockRate: 90000, channels: 1, fmtp: '' }])).toThrow(RangeError);
  });
});
