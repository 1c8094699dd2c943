import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { FfmpegExit } from '../../recording/ffmpeg/ffmpeg-process.js';

export interface RtpFeedOptions {
  readonly ffmpeg: string;
  /** The SDP describing the tracks' RTP on 127.0.0.1 (see feedSdp). */
  readonly sdp: string;
  /** H.264 needs Matroska; VP8 + Opus goes into WebM. */
  readonly container: 'webm' | 'matroska';
  /** Seconds without any RTP after which ffmpeg gives up on its own. */
  readonly listenTimeoutSeconds: number;
}

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

/**
 * The owned ffmpeg that turns one publisher's RTP (arriving on loopback
 * UDP ports) into a live WebM/Matroska byte stream on stdout. Stopped with
 * one SIGINT while RTP still flows (it then writes its last cluster).
 */
export class RtpFeed {
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #tail: string[] = [];
  readonly exited: Promise<FfmpegExit>;
  #exit: FfmpegExit | null = null;

  constructor(options: RtpFeedOptions, onStderrLine?: (line: string) => void) {
    this.#child = spawn(options.ffmpeg, rtpFeedArgs(options.container, options.listenTimeoutSeconds), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdin.on('error', () => undefined);
    this.#child.stdin.end(options.sdp);
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (text: string) => {
      for (const line of text.split(/\r?\n/)) {
        if (line.trim() === '') continue;
        this.#tail.push(line);
        if (this.#tail.length > 20) this.#tail.shift();
        onStderrLine?.(line);
      }
    });
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exit) return;
        this.#exit = { code, signal, stderrTail: [...this.#tail] };
        resolve(this.#exit);
      };
      this.#child.on('exit', finish);
      this.#child.on('error', (err) => {
        this.#tail.push(`spawn failed: ${err.message}`);
        finish(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get output(): Readable {
    return this.#child.stdout;
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** One SIGINT (ffmpeg writes what it has), SIGKILL after `killAfterMs`. */
  async stop(killAfterMs: number): Promise<FfmpegExit> {
    if (this.#exit) return this.#exit;
    this.#signal('SIGINT');
    const timer = setTimeout(() => this.#signal('SIGKILL'), killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #signal(sig: NodeJS.Signals): void {
    if (this.#exit) return;
    try {
      this.#child.kill(sig);
    } catch {
      // gone
    }
  }
}
