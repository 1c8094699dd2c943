import { PassThrough, type Readable } from 'node:stream';
import { FfmpegProcess, type FfmpegExit } from '../../recording/ffmpeg/ffmpeg-process.js';
import { waitForUdpListeners } from './udp-listening.js';

export interface RtpFeedOptions {
  readonly ffmpeg: string;
  /** The SDP describing the tracks' RTP on 127.0.0.1 (see feedSdp). */
  readonly sdp: string;
  /** H.264 needs Matroska; VP8 + Opus goes into WebM. */
  readonly container: 'webm' | 'matroska';
  /** Seconds without any RTP after which ffmpeg gives up on its own. */
  readonly listenTimeoutSeconds: number;
  /** The RTP ports of the SDP: the feed is ready once ffmpeg listens on all of them. */
  readonly rtpPorts: readonly number[];
}

/** How long ffmpeg may take to bind its RTP ports before media is let through anyway. */
const LISTEN_WAIT_MS = 3000;

/** The feed ffmpeg's arguments (pure): RTP described by an SDP on stdin -> live WebM/Matroska on stdout, by copy. */
export function rtpFeedArgs(container: 'webm' | 'matroska', listenTimeoutSeconds: number): string[] {
  return [
    '-hide_banner', '-loglevel', 'error',
    '-protocol_whitelist', 'pipe,udp,rtp',
    '-reorder_queue_size', '500',
    '-localaddr', '127.0.0.1',
    '-listen_timeout', String(listenTimeoutSeconds),
    '-analyzeduration', '3000000',
    '-f', 'sdp', '-i', 'pipe:0',
    '-map', '0', '-c', 'copy',
    // clusters of at most 1 s (a long group of pictures still flows); ffmpeg starts a new one at a
    // video keyframe only past 4 KiB into a cluster, so the feed source splits clusters at keyframes
    // itself (WebM DASH mode would, but allows one track only)
    '-live', '1', '-cluster_time_limit', '1000', '-cluster_size_limit', '8000000',
    '-f', container, 'pipe:1',
  ];
}

/** The exit of a feed stopped before its ffmpeg was started. */
const NEVER_STARTED: FfmpegExit = { code: null, signal: null, stderrTail: ['the feed was stopped before it started'] };

/**
 * The owned ffmpeg that turns one publisher's RTP (arriving on loopback
 * UDP ports) into a live WebM/Matroska byte stream on stdout. Created at
 * offer time but spawned only by start() (when ICE connects), so an offer
 * that never connects costs no process. Stopped with one SIGINT while RTP
 * still flows (it then writes its last cluster).
 */
export class RtpFeed {
  #ffmpeg: FfmpegProcess | null = null;
  #stopped = false;
  readonly #output = new PassThrough();
  readonly exited: Promise<FfmpegExit>;
  #settle: (exit: FfmpegExit) => void = () => undefined;

  constructor(
    private readonly options: RtpFeedOptions,
    private readonly onStderrLine?: (line: string) => void,
  ) {
    this.exited = new Promise((resolve) => (this.#settle = resolve));
  }

  /**
   * Spawns the ffmpeg (once; never after stop()). Resolves once it listens
   * on its RTP ports (true), or after LISTEN_WAIT_MS / when it is stopped (false).
   */
  start(): Promise<boolean> {
    if (this.#ffmpeg || this.#stopped) return Promise.resolve(false);
    const o = this.options;
    const ffmpeg = new FfmpegProcess(o.ffmpeg, rtpFeedArgs(o.container, o.listenTimeoutSeconds), this.onStderrLine, { stdout: true });
    this.#ffmpeg = ffmpeg;
    (ffmpeg.stdout as Readable).pipe(this.#output);
    ffmpeg.endInput(o.sdp);
    void ffmpeg.exited.then((exit) => this.#settle(exit));
    return waitForUdpListeners(o.rtpPorts, LISTEN_WAIT_MS, 20, () => this.#stopped || !ffmpeg.running);
  }

  get started(): boolean {
    return this.#ffmpeg !== null;
  }

  get pid(): number | undefined {
    return this.#ffmpeg?.pid;
  }

  get output(): Readable {
    return this.#output;
  }

  get running(): boolean {
    return this.#ffmpeg?.running ?? false;
  }

  /** One SIGINT (ffmpeg writes what it has), SIGKILL after `killAfterMs`; a feed never started just ends. */
  async stop(killAfterMs: number): Promise<FfmpegExit> {
    this.#stopped = true;
    if (!this.#ffmpeg) {
      this.#output.end();
      this.#settle(NEVER_STARTED);
      return this.exited;
    }
    if (!this.#ffmpeg.running) return this.exited;
    this.#ffmpeg.signal('SIGINT');
    const ffmpeg = this.#ffmpeg;
    const timer = setTimeout(() => ffmpeg.signal('SIGKILL'), killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
