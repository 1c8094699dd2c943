import dgram from 'node:dgram';
import os from 'node:os';
import { ipv4InterfaceAddresses, mediasoupListenInfos } from './mediasoup-listen.js';
import type { Logger } from 'pino';
import { TypedEmitter } from '../../util/typed-emitter.js';
import type { EngineSettings, ForwardedTrack, SessionRequest, WebRtcEngine, WebRtcSession, WebRtcSessionEvents } from './engine.js';
import {
  mediasoupAnswer,
  producerRtpParameters,
  recorderRtpCapabilities,
  remoteDtlsParameters,
  routerCodecs,
  type MsCodecParameters,
  type MsDtlsParameters,
  type MsRouterCodec,
  type MsRtpParameters,
  type MsTransportInfo,
} from './mediasoup-sdp.js';
import { PortsExhaustedError } from './port-pool.js';
import { mungeAnswer, parseSdp } from './sdp.js';

/*
 * The parts of mediasoup's API this engine uses, typed here: mediasoup is an
 * optional dependency whose types are absent when it is not installed.
 */
interface MsClosable {
  close(): void;
  readonly closed: boolean;
}
interface MsEmitter {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}
interface MsWorker extends MsClosable, MsEmitter {
  readonly pid: number;
  createRouter(options: { mediaCodecs: readonly MsRouterCodec[] }): Promise<MsRouter>;
}
interface MsRouter extends MsClosable {
  createWebRtcTransport(options: {
    listenInfos: readonly { protocol: 'udp' | 'tcp'; ip: string; announcedAddress?: string; portRange?: { min: number; max: number } }[];
    enableUdp: boolean;
    enableTcp: boolean;
    preferUdp: boolean;
    initialAvailableOutgoingBitrate?: number;
  }): Promise<MsWebRtcTransport>;
  createPlainTransport(options: { listenInfo: { protocol: 'udp'; ip: string }; rtcpMux: boolean; comedia: boolean }): Promise<MsPlainTransport>;
}
interface MsWebRtcTransport extends MsClosable, MsEmitter, MsTransportInfo {
  connect(options: { dtlsParameters: MsDtlsParameters }): Promise<void>;
  produce(options: { kind: 'audio' | 'video'; rtpParameters: MsRtpParameters }): Promise<MsProducer>;
  setMaxIncomingBitrate(bitrate: number): Promise<void>;
}
interface MsPlainTransport extends MsClosable {
  connect(options: { ip: string; port: number; rtcpPort: number }): Promise<void>;
  consume(options: { producerId: string; rtpCapabilities: ReturnType<typeof recorderRtpCapabilities>; paused: boolean }): Promise<MsConsumer>;
}
interface MsProducer extends MsClosable {
  readonly id: string;
  getStats(): Promise<readonly { type: string; byteCount?: number }[]>;
}
interface MsConsumer extends MsClosable {
  readonly rtpParameters: { readonly codecs: readonly MsCodecParameters[] };
  resume(): Promise<void>;
  requestKeyFrame(): Promise<void>;
}
interface MediasoupModule {
  createWorker(options: { logLevel: 'warn' | 'error'; rtcMinPort: number; rtcMaxPort: number }): Promise<MsWorker>;
}

/** How often producers' byte counts are read to know that RTP flows. */
const STATS_INTERVAL_MS = 1000;
/** RTP timestamp step of one Opus packet (20 ms at 48 kHz). */
const OPUS_STEP = 960;

/**
 * The audio consumer's RTP passes through here on its way to the feed
 * ffmpeg (about 50 packets a second), so that the last packet can be sent
 * again, renumbered, when the feed must end without media flowing (an
 * ffmpeg waiting for input acts on SIGINT only once a packet comes): the
 * same nudge the werift engine gives. The nudges go out of the engine's own
 * socket, which outlives the session.
 */
export class AudioRelay {
  readonly #socket = dgram.createSocket('udp4');
  #last: Buffer | null = null;

  constructor(
    private readonly target: number,
    private readonly send: (packet: Buffer, port: number) => void,
  ) {
    this.#socket.on('message', (msg) => {
      if (msg.length >= 12) this.#last = msg;
      this.#socket.send(msg, target, '127.0.0.1');
    });
    this.#socket.on('error', () => undefined);
  }

  /** Binds a loopback port; resolves with it. */
  bind(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(0, '127.0.0.1', () => {
        this.#socket.off('error', reject);
        resolve(this.#socket.address().port);
      });
    });
  }

  nudge(): void {
    const last = this.#last;
    if (!last) return;
    const next = Buffer.from(last);
    next.writeUInt16BE((last.readUInt16BE(2) + 1) & 0xffff, 2);
    next.writeUInt32BE((last.readUInt32BE(4) + OPUS_STEP) >>> 0, 4);
    this.#last = next;
    this.send(next, this.target);
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}

class MediasoupSession extends TypedEmitter<WebRtcSessionEvents> implements WebRtcSession {
  answer = '';
  forwarded: ForwardedTrack[] = [];
  lastRtpAt = 0;
  iceConnected = false;
  firstPacketClockMs: number | null = null;
  readonly consumers: { kind: 'audio' | 'video'; consumer: MsConsumer }[] = [];
  readonly producers: MsProducer[] = [];
  audioRelay: AudioRelay | null = null;
  #bytes = 0;
  #stats: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(
    readonly router: MsRouter,
    readonly streamName: string,
    private readonly log: Logger,
  ) {
    super();
  }

  watch(transport: MsWebRtcTransport): void {
    transport.on('icestatechange', (state) => {
      if ((state === 'connected' || state === 'completed') && !this.iceConnected) {
        this.iceConnected = true;
        this.emit('ice-connected');
      }
      if (state === 'disconnected' || state === 'closed') this.log.info({ state }, 'WebRTC ICE state');
    });
    transport.on('dtlsstatechange', (state) => {
      this.log.info({ state }, 'WebRTC DTLS state');
      if (state === 'failed' || state === 'closed') void this.close(`DTLS ${String(state)}`);
    });
    this.#stats = setInterval(() => void this.#poll(), STATS_INTERVAL_MS);
    this.#stats.unref();
  }

  async #poll(): Promise<void> {
    let bytes = 0;
    for (const p of this.producers) {
      const stats = await p.getStats().catch(() => []);
      for (const s of stats) bytes += s.byteCount ?? 0;
    }
    if (bytes > this.#bytes) {
      const now = Date.now();
      if (this.lastRtpAt === 0) {
        this.firstPacketClockMs = now;
        this.emit('rtp-ready');
      }
      this.lastRtpAt = now;
      this.#bytes = bytes;
    }
  }

  nudgeFeed(): void {
    this.audioRelay?.nudge();
  }

  feedReady(): void {
    for (const c of this.consumers) if (!c.consumer.closed) void c.consumer.resume().catch(() => undefined);
    this.requestKeyframe();
  }

  requestKeyframe(): void {
    for (const c of this.consumers) {
      if (c.kind !== 'video' || c.consumer.closed) continue;
      void c.consumer.requestKeyFrame().then(
        () => this.log.debug('Keyframe requested (mediasoup consumer)'),
        (err: unknown) => this.log.warn({ err: String(err) }, 'mediasoup keyframe request failed'),
      );
    }
  }

  async close(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stats) clearInterval(this.#stats);
    this.emit('closed', reason);
    this.audioRelay?.close();
    // closing the router closes its transports, producers and consumers (a no-op once its worker died)
    try {
      this.router.close();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'mediasoup router close failed');
    }
    this.removeAllListeners();
  }
}

/** A mediasoup worker process and the sessions it carries. */
interface WorkerSlot {
  readonly index: number;
  readonly ports: readonly [number, number];
  worker: MsWorker | null;
  readonly sessions: Set<MediasoupSession>;
  /** Workers started in this slot (1 + replacements). */
  generation: number;
}

/** What the engine needs besides the settings both engines share. */
export interface MediasoupOptions {
  /** The worker binary (MEDIASOUP_WORKER_BIN is set to it before mediasoup loads). */
  readonly workerBin: string;
  /** [webrtc_workers] worker processes; they share the ICE port range (a worker skips ports another one holds). */
  readonly workers: number;
}

/** How long a closed worker may take to exit before it is killed. */
const WORKER_EXIT_MS = 3000;

/** Closes a worker and resolves once its process is gone (SIGKILL after WORKER_EXIT_MS): nothing is left behind. */
function closeWorker(worker: MsWorker): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(worker.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      resolve();
    }, WORKER_EXIT_MS);
    worker.on('subprocessclose', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.close();
  });
}

/** How long to wait before starting a replacement worker again after a failed try. */
const RESPAWN_RETRY_MS = 2000;

/**
 * The SFU engine: webrtc_workers mediasoup workers (sharing the ICE port
 * range: a worker tries another port when one is taken); per publisher, on the worker with the fewest sessions, a
 * router with the offered codecs, a WebRtcTransport the browser connects to,
 * a producer per recorded track, and per producer a PlainTransport consumer
 * sending RTP (and RTCP sender reports) to the feed ffmpeg's loopback ports.
 * A worker that dies ends its sessions (their records finish with what came)
 * and is replaced.
 */
export class MediasoupEngine implements WebRtcEngine {
  readonly name = 'mediasoup' as const;
  #mediasoup: MediasoupModule | null = null;
  readonly #slots: WorkerSlot[] = [];
  #closed = false;
  /** Sends the feeds' nudges (AudioRelay). */
  #nudger: dgram.Socket | null = null;

  constructor(
    private readonly settings: EngineSettings,
    private readonly options: MediasoupOptions,
    private readonly log: Logger,
    private readonly load: () => Promise<MediasoupModule> = async () => {
      const name = 'mediasoup';
      return (await import(name)) as MediasoupModule;
    },
  ) {}

  /** Worker pids now, by slot (null while a slot has none): for tests and stats. */
  get workerPids(): (number | null)[] {
    return this.#slots.map((s) => s.worker?.pid ?? null);
  }

  async start(): Promise<void> {
    // mediasoup reads MEDIASOUP_WORKER_BIN once, when it loads
    process.env.MEDIASOUP_WORKER_BIN ??= this.options.workerBin;
    this.#mediasoup = await this.load();
    this.#nudger = dgram.createSocket('udp4');
    this.#nudger.on('error', () => undefined);
    const ports: [number, number] = [this.settings.portRange[0], this.settings.portRange[1]];
    for (let index = 0; index < Math.max(1, this.options.workers); index++) this.#slots.push({ index, ports, worker: null, sessions: new Set(), generation: 0 });
    try {
      await Promise.all(this.#slots.map((slot) => this.#spawn(slot)));
    } catch (err) {
      for (const slot of this.#slots) slot.worker?.close();
      this.#slots.length = 0;
      throw err;
    }
  }

  async #spawn(slot: WorkerSlot): Promise<void> {
    const mediasoup = this.#mediasoup;
    if (!mediasoup) throw new Error('mediasoup engine not started');
    const [min, max] = slot.ports;
    const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: min, rtcMaxPort: max });
    if (this.#closed) {
      worker.close();
      return;
    }
    slot.worker = worker;
    slot.generation++;
    worker.on('died', (err) => this.#died(slot, worker, err));
    this.log.info(
      { engine: this.name, worker: slot.index, workerPid: worker.pid, ports: slot.ports, bin: process.env.MEDIASOUP_WORKER_BIN, replacement: slot.generation > 1 },
      slot.generation > 1 ? 'WebRTC engine: mediasoup worker replaced' : 'WebRTC engine: mediasoup worker started',
    );
  }

  #died(slot: WorkerSlot, worker: MsWorker, err: unknown): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    const sessions = [...slot.sessions];
    this.log.error(
      { err: String(err), worker: slot.index, workerPid: worker.pid, sessions: sessions.map((s) => s.streamName) },
      'mediasoup worker died: its publishes end and a new worker starts',
    );
    for (const s of sessions) void s.close('mediasoup worker died');
    if (!this.#closed) void this.#respawn(slot);
  }

  async #respawn(slot: WorkerSlot): Promise<void> {
    while (!this.#closed && slot.worker === null) {
      try {
        await this.#spawn(slot);
      } catch (err) {
        this.log.error({ err: (err as Error).message, worker: slot.index }, `mediasoup worker could not be started again; retrying in ${RESPAWN_RETRY_MS} ms`);
        await new Promise((r) => setTimeout(r, RESPAWN_RETRY_MS).unref());
      }
    }
  }

  /** The live worker with the fewest sessions. */
  #pick(): WorkerSlot {
    let best: WorkerSlot | null = null;
    for (const slot of this.#slots) {
      if (slot.worker === null || slot.worker.closed) continue;
      if (best === null || slot.sessions.size < best.sessions.size) best = slot;
    }
    if (!best) throw new Error('no mediasoup worker is running (one is being replaced)');
    return best;
  }

  async createSession(request: SessionRequest): Promise<WebRtcSession> {
    const slot = this.#pick();
    const worker = slot.worker!;
    const offer = parseSdp(request.offer);
    const tracks = request.targets.map((t) => t.track);
    const dtls = remoteDtlsParameters(offer);
    const router = await worker.createRouter({ mediaCodecs: routerCodecs(tracks) });
    const session = new MediasoupSession(router, request.streamName, this.log.child({ stream: request.streamName, worker: slot.index }));
    slot.sessions.add(session);
    session.once('closed', () => slot.sessions.delete(session));
    try {
      const s = this.settings;
      const bind = s.bindIp === '' ? '0.0.0.0' : s.bindIp;
      const transport = await router.createWebRtcTransport({
        listenInfos: mediasoupListenInfos(bind, s.announcedIp, ipv4InterfaceAddresses(os.networkInterfaces())),
        enableUdp: true,
        enableTcp: false,
        preferUdp: true,
      });
      await transport.setMaxIncomingBitrate(s.maxBitrate);
      await transport.connect({ dtlsParameters: dtls });
      session.watch(transport);
      for (const target of request.targets) {
        const producer = await transport.produce({ kind: target.track.kind, rtpParameters: producerRtpParameters(offer, target.track) });
        session.producers.push(producer);
        const plain = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
        let rtpPort = target.rtpPort;
        if (target.track.kind === 'audio') {
          const relay = new AudioRelay(target.rtpPort, (packet, port) => this.#nudger?.send(packet, port, '127.0.0.1'));
          session.audioRelay = relay;
          rtpPort = await relay.bind();
        }
        // RTCP (sender reports) goes straight to the feed
        await plain.connect({ ip: '127.0.0.1', port: rtpPort, rtcpPort: target.rtpPort + 1 });
        const consumer = await plain.consume({ producerId: producer.id, rtpCapabilities: recorderRtpCapabilities(tracks), paused: true });
        const codec = consumer.rtpParameters.codecs[0];
        if (!codec) throw new Error(`mediasoup consumer of ${target.track.kind} has no codec`);
        session.consumers.push({ kind: target.track.kind, consumer });
        session.forwarded.push({
          kind: target.track.kind,
          rtpPort: target.rtpPort,
          payloadType: codec.payloadType,
          clockRate: codec.clockRate,
          channels: codec.channels ?? 1,
          fmtp: Object.entries(codec.parameters)
            .map(([k, v]) => `${k}=${v}`)
            .join(';'),
        });
        // paused until the feed ffmpeg listens (feedReady): it starts only once ICE connects
      }
      session.answer = mungeAnswer(mediasoupAnswer(request.offer, tracks, transport), {
        startBitrateKbps: Math.round(Math.min(s.maxBitrate, 1_500_000) / 1000),
      });
      return session;
    } catch (err) {
      await session.close(`negotiation failed: ${(err as Error).message}`);
      // each publish holds 5 ports of the range (its WebRtcTransport, and RTP + RTCP of two PlainTransports)
      if (/no more available ports/.test((err as Error).message)) {
        throw new PortsExhaustedError(`no free UDP port left for mediasoup in media_port_from..media_port_to (${this.settings.portRange.join('-')}): ${(err as Error).message}`);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.flatMap((slot) => [...slot.sessions].map((s) => s.close('server shutdown'))));
    await Promise.all(
      this.#slots.map((slot) => {
        const worker = slot.worker;
        slot.worker = null;
        return worker ? closeWorker(worker) : Promise.resolve();
      }),
    );
    this.#nudger?.close();
    this.#nudger = null;
  }
}
