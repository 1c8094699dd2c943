import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { Stream } from '../../streams/stream.js';
import type { StreamRegistry } from '../../streams/stream-registry.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import { noteMediaTag } from '../rtmp/flv-media-info.js';
import type { FlvTagInfo, MediaTagInfo } from '../rtmp/flv-tags.js';
import { FlvByteSplitter } from './flv-byte-splitter.js';
import { FlvPipeSource } from './flv-pipe-source.js';
import {
  audioFitsFlv,
  judgeExit,
  parseInputAudio,
  parseLogLine,
  publicPullError,
  pullArgs,
  pullScript,
  reconnectDelay,
  URI_FD,
  type InputAudio,
  type PullAudioMode,
} from './rtsp-pull-rules.js';
import { maskCredentials, secretsOf, type RtspTransport, type RtspUri } from './rtsp-uri.js';

/** WCS-style states of an RTSP agent. */
export type RtspPullStatus = 'CONNECTING' | 'PLAYING' | 'RETRYING' | 'FAILED' | 'STOPPED';
export const RTSP_PULL_STATUSES: readonly RtspPullStatus[] = ['CONNECTING', 'PLAYING', 'RETRYING', 'FAILED', 'STOPPED'];

export interface RtspPullOptions {
  readonly uri: RtspUri;
  readonly streamName: string;
  /** The startup's `record` flag, or null to follow record_rtsp_streams. */
  readonly record: boolean | null;
  readonly transport: RtspTransport;
  /** rtsp_timeout, seconds. */
  readonly timeoutSeconds: number;
  readonly reconnectMinDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly ffmpeg: string;
  /** record_audio_buffer_max_size */
  readonly audioBufferMax: number;
}

/** What /rest-api/rtsp/find_all lists for one pull (credentials masked). */
export interface RtspAgentJson {
  id: string;
  uri: string;
  toStream: string;
  status: RtspPullStatus;
  transport: RtspTransport;
  record: boolean | null;
  /** The live stream's mediaSessionId while PLAYING, else null. */
  mediaSessionId: string | null;
  lastError: string | null;
  /** Failed attempts since the camera last played. */
  retries: number;
  /** Media sessions begun so far (1 + reconnections that played). */
  sessions: number;
  createdDate: number;
}

interface PullEvents {
  status: [status: RtspPullStatus];
}

/** Grace past rtsp_timeout before a silent ffmpeg is stopped by the watchdog. */
const WATCHDOG_GRACE_MS = 5000;
const STOP_KILL_AFTER_MS = 3000;
const STDERR_TAIL_LINES = 20;
/** Media tags that may come before ffmpeg's stream list is read (it normally comes first). */
const MAX_TAGS_BEFORE_STREAM_LIST = 100;

interface Run {
  readonly child: ChildProcess;
  readonly source: FlvPipeSource;
  readonly startedAt: number;
  readonly stderr: string[];
  readonly exited: Promise<void>;
  stream: Stream | null;
  published: boolean;
  /** Media tags seen in this run. */
  mediaTags: number;
  /** ffmpeg has listed its input and output streams (its "Output #0" line came). */
  inputKnown: boolean;
  inputSection: boolean;
  inputAudio: InputAudio | null;
  /** The camera's audio must be encoded to AAC: this run is stopped and the next one encodes. */
  needsAac: boolean;
  lastDataAt: number;
  killedBecause: string | null;
}

/**
 * One camera pull: an owned ffmpeg turning the camera's RTSP into an FLV
 * feed on its stdout, published as a Stream (mediaProvider RTSP) once media
 * flows. Any ffmpeg exit is a disconnect (ffmpeg 5.1 exits 0 silently when
 * a camera drops): the stream is unpublished, which finishes its recording,
 * and the camera is tried again after a bounded exponential delay; when it
 * plays again a new Stream, so a new media session and new files, begins.
 */
export class RtspPull extends TypedEmitter<PullEvents> {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  readonly #secrets: string[];
  readonly log: Logger;
  #status: RtspPullStatus = 'CONNECTING';
  /** The detailed reason of the last failure (server log only). */
  #lastError: string | null = null;
  /** What REST clients are told of it (publicPullError). */
  #publicError: string | null = null;
  #retries = 0;
  #sessions = 0;
  #audio: PullAudioMode = 'copy';
  #run: Run | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #stopping = false;
  #closed: Promise<void> | null = null;

  constructor(
    readonly options: RtspPullOptions,
    private readonly registry: StreamRegistry,
    log: Logger,
  ) {
    super();
    this.#secrets = secretsOf(options.uri);
    this.log = log.child({ stream: options.streamName, uri: options.uri.masked });
  }

  get status(): RtspPullStatus {
    return this.#status;
  }

  /** The detailed reason of the last failure: for the server log, never for REST clients. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** The coarse reason REST clients see (a refused port reads as one that never answers). */
  get publicError(): string | null {
    return this.#publicError;
  }

  /** The stream being published now, if the camera plays. */
  get stream(): Stream | null {
    return this.#run?.published ? this.#run.stream : null;
  }

  /** PID of the current ffmpeg, if one runs. */
  get ffmpegPid(): number | undefined {
    return this.#run?.child.pid;
  }

  start(): void {
    if (this.#stopping || this.#run) return;
    this.log.info({ transport: this.options.transport, record: this.options.record }, 'RTSP pull starting');
    this.#watchdog = setInterval(this.#checkSilence, 1000);
    this.#watchdog.unref();
    this.#spawn();
  }

  /** Stops the pull: ffmpeg is stopped, the stream unpublished (its recording finishes), no more retries. */
  close(reason = 'stopped'): Promise<void> {
    if (!this.#closed) this.#closed = this.#close(reason);
    return this.#closed;
  }

  async #close(reason: string): Promise<void> {
    this.#stopping = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
    const run = this.#run;
    if (run) {
      this.log.info({ reason, pid: run.child.pid }, 'RTSP pull stopping');
      run.child.kill('SIGTERM');
      const kill = setTimeout(() => run.child.kill('SIGKILL'), STOP_KILL_AFTER_MS);
      await run.exited;
      clearTimeout(kill);
    } else {
      this.log.info({ reason }, 'RTSP pull stopped');
    }
    this.#setStatus('STOPPED');
  }

  toJSON(): RtspAgentJson {
    return {
      id: this.id,
      uri: this.options.uri.masked,
      toStream: this.options.streamName,
      status: this.#status,
      transport: this.options.transport,
      record: this.options.record,
      mediaSessionId: this.stream?.mediaSessionId ?? null,
      lastError: this.#publicError,
      retries: this.#retries,
      sessions: this.#sessions,
      createdDate: this.createdAt,
    };
  }

  #setStatus(status: RtspPullStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.emit('status', status);
  }

  #mask(text: string): string {
    return maskCredentials(text, this.#secrets);
  }

  #spawn(): void {
    const o = this.options;
    // the URI (and its password) goes through a pipe, never on the command line
    const child = spawn(o.ffmpeg, pullArgs({ audio: this.#audio }), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const stdout = child.stdout as Readable;
    const stderr = child.stderr as Readable;
    const script = child.stdio[URI_FD] as Writable | null;
    script?.on('error', () => undefined);
    script?.end(pullScript({ uri: o.uri.uri, transport: o.transport, timeoutSeconds: o.timeoutSeconds }));
    const source = new FlvPipeSource(o.audioBufferMax, (reason) => void this.close(reason));
    const splitter = new FlvByteSplitter();
    const now = Date.now();
    let partial = '';
    const exited = new Promise<void>((resolve) => {
      let done = false;
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return;
        done = true;
        if (partial.trim() !== '') this.#onStderrLine(run, partial);
        this.#onExit(run, code, signal);
        resolve();
      };
      // 'close' waits for stdout to drain, so every tag ffmpeg wrote reaches the recorder
      child.on('close', onExit);
      child.on('error', (err) => {
        run.stderr.push(`cannot run ffmpeg (${o.ffmpeg}): ${err.message}`);
        onExit(null, null);
      });
    });
    const run: Run = {
      child,
      source,
      startedAt: now,
      stderr: [],
      exited,
      stream: null,
      published: false,
      mediaTags: 0,
      inputKnown: false,
      inputSection: false,
      inputAudio: null,
      needsAac: false,
      lastDataAt: now,
      killedBecause: null,
    };
    this.#run = run;
    this.log.debug({ pid: child.pid, transport: o.transport, audio: this.#audio }, 'RTSP ffmpeg spawned');
    // a broken pipe shows up as the child's exit; never as an uncaught stream error
    stdout.on('error', () => undefined);
    stderr.on('error', () => undefined);
    stderr.setEncoding('utf8');
    stderr.on('data', (text: string) => {
      const lines = (partial + text).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') this.#onStderrLine(run, line);
    });
    stdout.on('data', (data: Buffer) => {
      run.lastDataAt = Date.now();
      let bufs: Buffer[];
      try {
        bufs = splitter.push(data);
      } catch (err) {
        run.killedBecause = `unreadable feed from ffmpeg: ${(err as Error).message}`;
        child.kill('SIGKILL');
        return;
      }
      for (const buf of bufs) run.source.push(buf, (tag, media) => this.#onMedia(run, tag, media));
    });
  }

  /**
   * ffmpeg's stderr: warnings and errors are kept for lastError; the input
   * dump tells the camera's audio, which decides whether FLV can carry it.
   */
  #onStderrLine(run: Run, line: string): void {
    const { level, text } = parseLogLine(line);
    if (level !== 'info') {
      // ffmpeg names its input by the pipe the URI came through: name the camera instead (masked)
      run.stderr.push(text.startsWith(`pipe:${URI_FD}: `) ? `${this.options.uri.masked}: ${text.slice(`pipe:${URI_FD}: `.length)}` : text);
      if (run.stderr.length > STDERR_TAIL_LINES) run.stderr.shift();
      return;
    }
    if (run.inputKnown) return;
    if (/^Input #0/.test(text)) run.inputSection = true;
    else if (/^Output #0/.test(text)) {
      run.inputKnown = true;
      run.inputSection = false;
      const audio = run.inputAudio;
      if (audio && this.#audio === 'copy' && !audioFitsFlv(audio)) {
        run.needsAac = true;
        this.log.warn({ codec: audio.codec, sampleRate: audio.sampleRate }, "RTSP camera's audio cannot go into the feed as it is; pulling again with AAC");
        run.child.kill('SIGKILL');
      }
    } else if (run.inputSection && run.inputAudio === null) run.inputAudio = parseInputAudio(text);
  }

  /** Called for each media tag before any tap sees it: codecs, picture size, and the publish on the first one. */
  #onMedia(run: Run, tag: FlvTagInfo, media: MediaTagInfo): void {
    if (run.killedBecause !== null || run.needsAac) return;
    if (!run.stream) {
      run.stream = new Stream({
        name: this.options.streamName,
        app: 'rtsp',
        mediaProvider: 'RTSP',
        login: '',
        recordRequested: this.options.record,
        source: run.source,
      });
    }
    noteMediaTag(run.stream.media, tag, media);
    if (!run.inputKnown && ++run.mediaTags > MAX_TAGS_BEFORE_STREAM_LIST) {
      // never seen with ffmpeg 5.1; a later ffmpeg could word its stream list differently
      run.inputKnown = true;
      this.log.warn({ tags: run.mediaTags }, "ffmpeg's stream list was not recognised; publishing the camera's stream without the audio check");
    }
    // published once ffmpeg has said what the camera sends (so a restart for AAC audio never shows)
    if (!run.published && run.inputKnown && !run.needsAac && !media.isSequenceHeader) this.#publish(run, run.stream);
  }

  #publish(run: Run, stream: Stream): void {
    try {
      this.registry.publish(stream);
    } catch (err) {
      run.killedBecause = `stream name '${stream.name}' is taken: ${(err as Error).message}`;
      this.log.warn({ error: run.killedBecause }, 'RTSP stream not published');
      run.child.kill('SIGKILL');
      return;
    }
    run.published = true;
    this.#sessions++;
    this.#retries = 0;
    this.#lastError = null;
    this.#publicError = null;
    this.#setStatus('PLAYING');
    this.log.info(
      {
        mediaSessionId: stream.mediaSessionId,
        pid: run.child.pid,
        transport: this.options.transport,
        videoCodec: stream.media.videoCodec,
        audioCodec: stream.media.audioCodec,
        startupMs: Date.now() - run.startedAt,
        session: this.#sessions,
      },
      'RTSP camera playing; stream published',
    );
  }

  #onExit(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#run === run) this.#run = null;
    const stream = run.published ? run.stream : null;
    run.source.end();
    if (stream) {
      this.registry.unpublish(stream);
      this.log.info(
        { mediaSessionId: stream.mediaSessionId, code, signal, seconds: Math.round((Date.now() - stream.publishedAt) / 1000) },
        'RTSP stream unpublished',
      );
    }
    if (this.#stopping) {
      this.log.info({ code, signal }, 'RTSP pull stopped');
      return;
    }
    if (run.needsAac) {
      this.#audio = 'aac';
      this.#spawn();
      return;
    }
    const verdict = judgeExit({
      code,
      signal,
      stderr: run.stderr,
      hadMedia: stream !== null,
      audio: this.#audio,
      secrets: this.#secrets,
      killedBecause: run.killedBecause,
      elapsedMs: Date.now() - run.startedAt,
      timeoutMs: this.options.timeoutSeconds * 1000,
    });
    this.#lastError = verdict.error;
    this.#publicError = publicPullError(verdict, stream !== null);
    const stderrTail = run.stderr.slice(-5).map((l) => this.#mask(l));
    if (verdict.kind === 'fatal') {
      if (this.#watchdog) clearInterval(this.#watchdog);
      this.#watchdog = null;
      this.log.error({ error: verdict.error, code, signal, stderr: stderrTail }, 'RTSP pull failed; not retrying');
      this.#setStatus('FAILED');
      return;
    }
    if (verdict.kind === 'transcode-audio') {
      this.#audio = 'aac';
      this.log.warn({ error: verdict.error }, "RTSP camera's audio cannot go into the feed as it is; pulling again with AAC");
      this.#spawn();
      return;
    }
    this.#retries++;
    const delayMs = reconnectDelay(this.#retries, this.options.reconnectMinDelayMs, this.options.reconnectMaxDelayMs);
    this.#setStatus('RETRYING');
    this.log.warn(
      { attempt: this.#retries, delayMs, error: verdict.error, code, signal, stderr: stderrTail },
      stream ? 'RTSP camera lost; reconnecting' : 'RTSP camera not playing; retrying',
    );
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#stopping) this.#spawn();
    }, delayMs);
  }

  #checkSilence = (): void => {
    const run = this.#run;
    if (!run || run.killedBecause !== null) return;
    const limit = this.options.timeoutSeconds * 1000 + WATCHDOG_GRACE_MS;
    if (Date.now() - run.lastDataAt > limit) {
      run.killedBecause = `no media from the camera for ${Math.round(limit / 1000)} s`;
      this.log.warn({ pid: run.child.pid, mediaSessionId: run.published ? run.stream?.mediaSessionId : undefined }, 'RTSP ffmpeg silent; stopping it');
      run.child.kill('SIGKILL');
    }
  };
}
