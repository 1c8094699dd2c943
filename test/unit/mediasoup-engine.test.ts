import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MediasoupEngine } from '../../src/ingest/webrtc/mediasoup-engine.js';
import {
  mediaSsrc,
  mediasoupAnswer,
  parametersOf,
  producerRtpParameters,
  recorderRtpCapabilities,
  remoteDtlsParameters,
  routerCodecs,
} from '../../src/ingest/webrtc/mediasoup-sdp.js';
import { chooseTracks, parseSdp, SdpError } from '../../src/ingest/webrtc/sdp.js';

const OFFER = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 106 107', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtcp-mux', 'a=setup:actpass',
  'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=fingerprint:sha-256 AA:BB:CC',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=rtpmap:106 H264/90000', 'a=rtcp-fb:106 goog-remb', 'a=rtcp-fb:106 transport-cc', 'a=rtcp-fb:106 nack', 'a=rtcp-fb:106 nack pli',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:107 rtx/90000', 'a=fmtp:107 apt=106',
  'a=ssrc-group:FID 1111 2222', 'a=ssrc:1111 cname:pub', 'a=ssrc:2222 cname:pub',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly', 'a=rtcp-mux', 'a=setup:actpass',
  'a=fingerprint:sha-256 AA:BB:CC',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=ssrc:3333 cname:pub',
].join('\r\n') + '\r\n';

const parsed = parseSdp(OFFER);
const tracks = chooseTracks(parsed);

describe('mediasoup: offer -> mediasoup objects', () => {
  it('router codecs are the chosen codecs with the offer parameters', () => {
    expect(routerCodecs(tracks)).toEqual([
      { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
      { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } },
    ]);
    expect(parametersOf('x-google-start-bitrate=1000;apt=96')).toEqual({ apt: 96 });
  });

  it('producer RTP parameters: mid, codec with payload type and feedback (no transport-cc), supported extensions, media SSRC, cname', () => {
    expect(producerRtpParameters(parsed, tracks[0]!)).toEqual({
      mid: '0',
      codecs: [
        {
          mimeType: 'video/H264',
          payloadType: 106,
          clockRate: 90000,
          parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' },
          rtcpFeedback: [{ type: 'goog-remb' }, { type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        },
      ],
      headerExtensions: [
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
        { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2 },
      ],
      encodings: [{ ssrc: 1111 }],
      rtcp: { cname: 'pub', reducedSize: true },
    });
    const audio = producerRtpParameters(parsed, tracks[1]!);
    expect(audio.codecs[0]).toMatchObject({ mimeType: 'audio/opus', payloadType: 111, channels: 2 });
    expect(audio.encodings).toEqual([{ ssrc: 3333 }]);
    expect(mediaSsrc(parsed.sections[0]!)).toBe(1111);
  });

  it('DTLS: the publisher offering actpass is the client; no fingerprint is an SDP error', () => {
    expect(remoteDtlsParameters(parsed)).toEqual({ role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB:CC' }] });
    expect(remoteDtlsParameters(parseSdp(OFFER.replace(/a=setup:actpass/g, 'a=setup:passive'))).role).toBe('server');
    expect(() => remoteDtlsParameters(parseSdp(OFFER.replace(/a=fingerprint:[^\r]*\r\n/g, '')))).toThrow(SdpError);
  });

  it('recorder capabilities: the same codecs, PLI feedback only', () => {
    const caps = recorderRtpCapabilities(tracks);
    expect(caps.codecs.map((c) => c.mimeType)).toEqual(['video/H264', 'audio/opus']);
    expect(caps.codecs[0]!.rtcpFeedback).toEqual([{ type: 'nack', parameter: 'pli' }]);
  });

  it('answer: ICE-lite, passive DTLS, receive-only, the chosen payload type, mediasoup candidates', () => {
    const answer = mediasoupAnswer(OFFER, tracks, {
      iceParameters: { usernameFragment: 'uf', password: 'pw' },
      iceCandidates: [{ foundation: 'udpcandidate', priority: 1076302079, address: '192.0.2.1', protocol: 'udp', port: 40000, type: 'host' }],
      dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-512', value: 'X' }, { algorithm: 'sha-256', value: 'DE:AD' }] },
    });
    const lines = answer.split('\r\n');
    expect(lines).toContain('a=ice-lite');
    expect(lines).toContain('a=group:BUNDLE 0 1');
    expect(lines).toContain('m=video 7 UDP/TLS/RTP/SAVPF 106');
    expect(lines).toContain('a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
    expect(lines).toContain('m=audio 7 UDP/TLS/RTP/SAVPF 111');
    expect(lines.filter((l) => l === 'a=recvonly')).toHaveLength(2);
    expect(lines.filter((l) => l === 'a=setup:passive')).toHaveLength(2);
    expect(lines).toContain('a=fingerprint:sha-256 DE:AD');
    expect(lines).toContain('a=candidate:udpcandidate 1 udp 1076302079 192.0.2.1 40000 typ host');
    expect(answer).not.toMatch(/transport-cc|a=ssrc|rtx/);
  });
});

describe('MediasoupEngine with a stand-in mediasoup module (the worker binary is not here)', () => {
  it('router, WebRtcTransport, a producer and a paused PlainTransport consumer per track, RTP to the feed ports', async () => {
    const calls: string[] = [];
    const closable = { closed: false, close: () => calls.push('close') };
    const emitter = { on: () => undefined };
    const fake = {
      createWorker: async (o: unknown) => {
        calls.push(`worker ${JSON.stringify(o)}`);
        return {
          ...closable,
          ...emitter,
          pid: 1,
          createRouter: async (o: { mediaCodecs: { mimeType: string }[] }) => {
            calls.push(`router ${o.mediaCodecs.map((c) => c.mimeType).join(',')}`);
            return {
              ...closable,
              createWebRtcTransport: async () => ({
                ...closable,
                ...emitter,
                iceParameters: { usernameFragment: 'u', password: 'p' },
                iceCandidates: [{ foundation: 'f', priority: 1, address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' }],
                dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: 'AB' }] },
                connect: async (o: { dtlsParameters: { role: string } }) => void calls.push(`connect ${o.dtlsParameters.role}`),
                setMaxIncomingBitrate: async (b: number) => void calls.push(`max ${b}`),
                produce: async (o: { kind: string; rtpParameters: { codecs: { payloadType: number }[] } }) => {
                  calls.push(`produce ${o.kind} ${o.rtpParameters.codecs[0]!.payloadType}`);
                  return { ...closable, id: `p-${o.kind}`, getStats: async () => [] };
                },
              }),
              createPlainTransport: async () => ({
                ...closable,
                connect: async (o: { port: number; rtcpPort: number }) => void calls.push(`plain ${o.port}/${o.rtcpPort}`),
                consume: async (o: { producerId: string; paused: boolean }) => {
                  calls.push(`consume ${o.producerId} paused=${o.paused}`);
                  const video = o.producerId === 'p-video';
                  return {
                    ...closable,
                    rtpParameters: {
                      codecs: [
                        video
                          ? { mimeType: 'video/H264', payloadType: 100, clockRate: 90000, parameters: { 'packetization-mode': 1 }, rtcpFeedback: [] }
                          : { mimeType: 'audio/opus', payloadType: 101, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] },
                      ],
                    },
                    resume: async () => void calls.push(`resume ${o.producerId}`),
                    requestKeyFrame: async () => void calls.push(`keyframe ${o.producerId}`),
                  };
                },
              }),
            };
          },
        };
      },
    };
    const engine = new MediasoupEngine(
      { announcedIp: '127.0.0.1', bindIp: '127.0.0.1', portRange: [40000, 40100], maxBitrate: 2_000_000 },
      { workerBin: '/fake/mediasoup-worker', workers: 1 },
      pino({ level: 'silent' }),
      async () => fake as never,
    );
    await engine.start();
    const session = await engine.createSession({
      offer: OFFER,
      streamName: 's',
      targets: [
        { track: tracks[0]!, rtpPort: 41000 },
        { track: tracks[1]!, rtpPort: 41002 },
      ],
    });
    expect(calls).toEqual([
      'worker {"logLevel":"warn","rtcMinPort":40000,"rtcMaxPort":40100}',
      'router video/H264,audio/opus',
      'max 2000000',
      'connect client',
      'produce video 106',
      'plain 41000/41001',
      'consume p-video paused=true',
      'produce audio 111',
      // audio passes through a loopback relay (to nudge the feed at its end); its RTCP goes straight
      expect.stringMatching(/^plain \d+\/41003$/),
      'consume p-audio paused=true',
    ]);
    // the feed ffmpeg is told the consumers' payload types, not the publisher's
    expect(session.forwarded).toEqual([
      { kind: 'video', rtpPort: 41000, payloadType: 100, clockRate: 90000, channels: 1, fmtp: 'packetization-mode=1' },
      { kind: 'audio', rtpPort: 41002, payloadType: 101, clockRate: 48000, channels: 2, fmtp: '' },
    ]);
    expect(session.answer).toMatch(/a=ice-lite/);
    expect(session.answer).toMatch(/x-google-start-bitrate=1500/);
    session.requestKeyframe();
    // consumers stay paused until the feed ffmpeg listens (it starts only once ICE connects)
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).not.toContain('resume p-video');
    session.feedReady();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toContain('keyframe p-video');
    expect(calls).not.toContain('keyframe p-audio');
    expect(calls).toContain('resume p-video');
    await engine.close();
    expect(calls.filter((c) => c === 'close').length).toBeGreaterThanOrEqual(2);
  });
});
