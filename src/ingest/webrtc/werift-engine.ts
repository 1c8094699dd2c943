import dgram from 'node:dgram';
import type { Logger } from 'pino';
import {
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  RtcpSrPacket,
  RTCRtpCodecParameters,
  useSdesMid,
  type MediaStreamTrack,
  type RtcpPacket,
  type RtpPacket,
  type RTCRtpTransceiver,
} from 'werift';
import { TypedEmitter } from '../../util/typed-emitter.js';
import {
  ntpToEpochMs,
  rembFields,
  senderClockAt,
  type EngineSettings,
  type ForwardedTrack,
  type RtpTarget,
  type SessionRequest,
  type WebRtcEngine,
  type WebRtcSession,
  type WebRtcSessionEvents,
} from './engine.js';
import { mungeAnswer, stripTransportCc, UnsupportedOfferError, type ChosenTrack } from './sdp.js';
import { installByeNotices, RtcpByeNotice } from './werift-bye.js';

/** How long ICE gathering may take before the answer is sent with what was found. */
const GATHER_TIMEOUT_MS = 3000;
/** Packets held while the feed ffmpeg starts (~3 s of 2.5 Mbit/s video + audio); later ones are dropped until it listens. */
const MAX_HELD_PACKETS = 1500;
/** REMB interval. */
const REMB_INTERVAL_MS = 1000;

function codecParameters(track: ChosenTrack): RTCRtpCodecParameters {
  const c = track.codec;
  if (track.kind === 'audio') {
    return new RTCRtpCodecParameters({
      mimeType: 'audio/opus',
      clockRate: c.clockRate,
      channels: c.channels,
      payloadType: c.payloadType,
      parameters: c.fmtp || undefined,
      rtcpFeedback: [],
    });
  }
  return new RTCRtpCodecParameters({
    mimeType: `video/${track.name}`,
    clockRate: c.clockRate,
    payloadType: c.payloadType,
    parameters: track.name === 'H264' ? c.fmtp : undefined,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }],
  });
}

interface SenderReport {
  readonly epochMs: number;
  readonly rtpTimestamp: number;
}

interface TrackState {
  readonly target: RtpTarget;
  ssrc: number | null;
  /** The last packet forwarded, and the timestamp step before it. */
  last: RtpPacket | null;
  step: number;
  transceiver: RTCRtpTransceiver | null;
  report: SenderReport | null;
}

/** One publisher's peer connection in werift, forwarding each recorded track's RTP to its local port. */
class WeriftSession extends TypedEmitter<WebRtcSessionEvents> implements WebRtcSession {
  answer = '';
  readonly forwarded: ForwardedTrack[];
  lastRtpAt = 0;
  iceConnected = false;
  readonly #tracks: TrackState[];
  readonly #socket = dgram.createSocket('udp4');
  #first: { state: TrackState; rtpTimestamp: number; arrivedAt: number } | null = null;
  /** Packets waiting for the feed to listen (null once it does). */
  #held: { data: Buffer; port: number }[] | null = [];
  #heldDropped = 0;
  #remb: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(
    readonly pc: RTCPeerConnection,
    request: SessionRequest,
    private readonly settings: EngineSettings,
    private readonly log: Logger,
  ) {
    super();
    this.#tracks = request.targets.map((target) => ({ target, ssrc: null, transceiver: null, report: null, last: null, step: 0 }));
    this.forwarded = request.targets.map((t) => ({
      kind: t.track.kind,
      rtpPort: t.rtpPort,
      payloadType: t.track.codec.payloadType,
      clockRate: t.track.codec.clockRate,
      channels: t.track.codec.channels,
      fmtp: t.track.codec.fmtp,
    }));
    this.#socket.on('error', (err) => this.log.warn({ err: err.message }, 'RTP forwarding socket error'));
    // ffmpeg's receiver reports come back here: read and dropped
    this.#socket.on('message', () => undefined);
    pc.onTrack.subscribe((track) => this.#onTrack(track));
    // werift's iceConnectionState is no proof: each ICE transport reports 'completed' as soon as
    // its gathering completes, before any check (so an unbundled offer that never connects looks
    // connected). The connection state 'connected' (ICE and DTLS done) is; media that comes
    // before the feed listens is held, so nothing is lost by waiting for it.
    pc.connectionStateChange.subscribe((state) => {
      this.log.info({ state }, 'WebRTC connection state');
      if (state === 'connected') {
        this.#iceConnected();
        this.#startRemb();
        this.#watchBye();
      }
      if (state === 'failed' || state === 'closed') void this.close(`connection ${state}`);
    });
  }

  #iceConnected(): void {
    if (this.iceConnected || this.#closed) return;
    this.iceConnected = true;
    this.emit('ice-connected');
  }

  get firstPacketClockMs(): number | null {
    const first = this.#first;
    if (!first) return null;
    const report = first.state.report;
    if (!report) return first.arrivedAt;
    return senderClockAt(first.rtpTimestamp, report, first.state.target.track.codec.clockRate);
  }

  async bind(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.bind(0, '127.0.0.1', () => resolve()));
  }

  #onTrack(track: MediaStreamTrack): void {
    const state = this.#tracks.find((t) => t.target.track.kind === track.kind && t.ssrc === null);
    if (!state) return;
    state.transceiver = this.pc.getTransceivers().find((t) => t.receiver.tracks.includes(track)) ?? null;
    const pt = state.target.track.codec.payloadType;
    track.onReceiveRtp.subscribe((packet) => this.#forward(state, packet, pt));
    track.onReceiveRtcp.subscribe((packet) => this.#onRtcp(state, packet));
  }

  #forward(state: TrackState, packet: RtpPacket, payloadType: number): void {
    if (this.#closed) return;
    // empty and padding-only packets (bandwidth probes) confuse ffmpeg's depacketizers
    if (packet.payload.length === 0 || packet.header.payloadType !== payloadType) return;
    const now = Date.now();
    if (state.ssrc === null) state.ssrc = packet.header.ssrc;
    if (!this.#first) {
      this.#first = { state, rtpTimestamp: packet.header.timestamp, arrivedAt: now };
      this.emit('rtp-ready');
    }
    this.lastRtpAt = now;
    if (state.last) {
      const step = (packet.header.timestamp - state.last.header.timestamp) >>> 0;
      if (step > 0 && step < state.target.track.codec.clockRate) state.step = step;
    }
    state.last = packet;
    this.#send(packet.serialize(), state.target.rtpPort);
  }

  /** To the feed, or held until it listens. */
  #send(data: Buffer, port: number): void {
    if (this.#held) {
      if (this.#held.length < MAX_HELD_PACKETS) this.#held.push({ data, port });
      else this.#heldDropped++;
      return;
    }
    try {
      this.#socket.send(data, port, '127.0.0.1');
    } catch {
      // socket closed
    }
  }

  feedReady(): void {
    const held = this.#held;
    if (!held || this.#closed) return;
    this.#held = null;
    this.log.debug({ held: held.length, dropped: this.#heldDropped }, 'Feed listening: held packets forwarded');
    for (const p of held) this.#send(p.data, p.port);
    this.requestKeyframe();
  }

  #onRtcp(state: TrackState, packet: RtcpPacket): void {
    if (this.#closed || !(packet instanceof RtcpSrPacket)) return;
    const first = state.report === null;
    state.report = { epochMs: ntpToEpochMs(packet.senderInfo.ntpTimestamp), rtpTimestamp: packet.senderInfo.rtpTimestamp };
    if (first) {
      this.log.info(
        { kind: state.target.track.kind, publisherClockMinusServerMs: Math.round(state.report.epochMs - Date.now()) },
        'First RTCP sender report: the publisher clock is known',
      );
    }
    // ffmpeg syncs audio and video with the sender reports
    this.#send(packet.serialize(), state.target.rtpPort + 1);
  }

  /** A publisher that says goodbye (RTCP BYE for one of its recorded SSRCs) ends at once. */
  #watchBye(): void {
    for (const dtls of this.pc.dtlsTransports) {
      dtls.onRtcp.subscribe((packet: unknown) => {
        if (!(packet instanceof RtcpByeNotice)) return;
        if (packet.ssrcs.some((ssrc) => this.#tracks.some((t) => t.ssrc === ssrc))) void this.close('RTCP BYE');
      });
    }
  }

  #startRemb(): void {
    if (this.#remb) return;
    const send = (): void => {
      const video = this.#tracks.find((t) => t.target.track.kind === 'video');
      if (!video?.transceiver || video.ssrc === null) return;
      const { exp, mantissa } = rembFields(this.settings.maxBitrate);
      const receiver = video.transceiver.receiver;
      const remb = new ReceiverEstimatedMaxBitrate({
        senderSsrc: receiver.rtcpSsrc,
        mediaSsrc: 0,
        brExp: exp,
        brMantissa: mantissa,
        ssrcNum: 1,
        ssrcFeedbacks: [video.ssrc],
      });
      void receiver.dtlsTransport.sendRtcp([new RtcpPayloadSpecificFeedback({ feedback: remb })]).catch(() => undefined);
    };
    this.#remb = setInterval(send, REMB_INTERVAL_MS);
    this.#remb.unref();
  }

  nudgeFeed(): void {
    const audio = this.#tracks.find((t) => t.target.track.kind === 'audio');
    const last = audio?.last;
    if (!audio || !last) return;
    const next = last.clone();
    next.header.sequenceNumber = (last.header.sequenceNumber + 1) & 0xffff;
    next.header.timestamp = (last.header.timestamp + (audio.step || 960)) >>> 0;
    audio.last = next;
    this.#send(next.serialize(), audio.target.rtpPort);
  }

  requestKeyframe(): void {
    const video = this.#tracks.find((t) => t.target.track.kind === 'video');
    if (this.#closed || !video?.transceiver || video.ssrc === null) return;
    this.log.debug({ ssrc: video.ssrc, pli: video.transceiver.receiver.pliEnabled ?? null, tracks: video.transceiver.receiver.tracks.map((t) => t.ssrc) }, 'Keyframe requested (PLI)');
    void video.transceiver.receiver.sendRtcpPLI(video.ssrc).catch(() => undefined);
  }

  async close(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#remb) clearInterval(this.#remb);
    this.emit('closed', reason);
    try {
      await this.pc.close();
    } catch {
      // already closed
    }
    // kept open a little: the feed may still need a nudge to finish
    setTimeout(() => this.#socket.close(), 5000).unref();
    this.removeAllListeners();
  }
}

/**
 * The pure-TypeScript engine: one werift RTCPeerConnection per publisher,
 * receive-only, with the recorded codecs only; RTP forwarded over loopback
 * UDP to the publisher's feed ffmpeg.
 */
export class WeriftEngine implements WebRtcEngine {
  readonly name = 'werift' as const;
  readonly #sessions = new Set<WeriftSession>();

  constructor(
    private readonly settings: EngineSettings,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    installByeNotices();
    this.log.info({ engine: this.name, ip: this.settings.announcedIp, ports: this.settings.portRange }, 'WebRTC engine: werift');
  }

  async createSession(request: SessionRequest): Promise<WebRtcSession> {
    const s = this.settings;
    const audio = request.targets.filter((t) => t.track.kind === 'audio').map((t) => codecParameters(t.track));
    const video = request.targets.filter((t) => t.track.kind === 'video').map((t) => codecParameters(t.track));
    const additional = s.announcedIp !== '' && s.announcedIp !== '0.0.0.0' ? [s.announcedIp] : undefined;
    const pc = new RTCPeerConnection({
      codecs: { audio, video },
      headerExtensions: { audio: [useSdesMid()], video: [useSdesMid()] },
      icePortRange: [s.portRange[0], s.portRange[1]],
      iceAdditionalHostAddresses: additional,
      iceInterfaceAddresses: s.bindIp !== '0.0.0.0' && s.bindIp !== '' ? { udp4: s.bindIp } : undefined,
      iceUseIpv6: false,
    });
    const session = new WeriftSession(pc, request, s, this.log.child({ stream: request.streamName }));
    this.#sessions.add(session);
    session.once('closed', () => this.#sessions.delete(session));
    try {
      await session.bind();
      try {
        // werift fires onTrack inside setRemoteDescription: the session subscribed already
        await pc.setRemoteDescription({ type: 'offer', sdp: stripTransportCc(request.offer) });
        for (const t of pc.getTransceivers()) {
          const recorded = request.targets.some((target) => target.track.kind === t.kind && target.track.mid === t.mid);
          t.setDirection(recorded ? 'recvonly' : 'inactive');
        }
        await pc.setLocalDescription(await pc.createAnswer());
      } catch (err) {
        // the offer passed our checks but werift cannot use it: the publisher's fault (422), not ours
        throw new UnsupportedOfferError(`the WebRTC engine could not use the offer: ${(err as Error).message}`);
      }
      await waitForGathering(pc);
      const local = pc.localDescription?.sdp;
      if (!local) throw new Error('werift produced no answer');
      session.answer = mungeAnswer(local, { startBitrateKbps: Math.round(Math.min(s.maxBitrate, 1_500_000) / 1000) });
      return session;
    } catch (err) {
      await session.close(`negotiation failed: ${(err as Error).message}`);
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#sessions].map((session) => session.close('server shutdown')));
  }
}

async function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      sub.unSubscribe();
      resolve();
    }, GATHER_TIMEOUT_MS);
    const sub = pc.iceGatheringStateChange.subscribe((state) => {
      if (state !== 'complete') return;
      clearTimeout(timer);
      sub.unSubscribe();
      resolve();
    });
  });
}
