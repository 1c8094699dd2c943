/**
 * The rules of a camera pull, kept pure: ffmpeg's arguments, the reconnect
 * delay, and what an ffmpeg exit means (retry, switch the audio to AAC,
 * or give up).
 */
import { maskCredentials } from './rtsp-uri.js';
import type { RtspTransport } from './rtsp-uri.js';

/** copy: the camera's audio goes into the FLV feed as it is; aac: encoded (FLV cannot carry it). */
export type PullAudioMode = 'copy' | 'aac';

export interface PullArgsOptions {
  /** The URI with its credentials. */
  readonly uri: string;
  readonly transport: RtspTransport;
  /** rtsp_timeout, seconds. */
  readonly timeoutSeconds: number;
  readonly audio: PullAudioMode;
}

/** The descriptor ffmpeg reads the camera's address from (an ffconcat script on a pipe). */
export const URI_FD = 3;

/**
 * ffmpeg's arguments: `-f concat -i pipe:3 -map 0:v:0? -map 0:a:0? -c:v copy
 * -c:a copy|aac -f flv pipe:1`. The camera's URI, with its credentials, is
 * not among them: it comes through descriptor 3 in an ffconcat script
 * (pullScript), so `ps` never shows the password. Only the first video and
 * audio tracks: FLV holds one of each.
 */
export function pullArgs(o: Pick<PullArgsOptions, 'audio'>): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    // info: the input's stream list tells the audio codec and rate; level tags say what is an error
    '-loglevel',
    'level+info',
    '-f',
    'concat',
    '-safe',
    '0',
    // what the script and the camera's RTSP/RTSPS may open; never local files
    '-protocol_whitelist',
    'pipe,rtsp,rtp,srtp,tcp,udp,tls',
    '-i',
    `pipe:${URI_FD}`,
    '-map',
    '0:v:0?',
    '-map',
    '0:a:0?',
    '-c:v',
    'copy',
    ...(o.audio === 'copy' ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '96k']),
    // pipe output: no seeking back to write duration and size
    '-flvflags',
    'no_duration_filesize',
    '-f',
    'flv',
    'pipe:1',
  ];
}

/**
 * The ffconcat script naming the camera: its URI and the RTSP options.
 * `timeout` (µs) is the only socket timeout ffmpeg 5.1's RTSP demuxer
 * honours: without it a hung camera blocks forever.
 */
export function pullScript(o: Omit<PullArgsOptions, 'audio'>): string {
  // ffconcat quoting: nothing is special inside '...', so a quote closes, is escaped, and reopens
  const quoted = `'${o.uri.replace(/'/g, "'\\''")}'`;
  return [
    'ffconcat version 1.0',
    `file ${quoted}`,
    `option rtsp_transport ${o.transport}`,
    `option timeout ${Math.round(o.timeoutSeconds * 1_000_000)}`,
    '',
  ].join('\n');
}

export interface InputAudio {
  /** ffmpeg's codec name: aac, pcm_alaw, pcm_mulaw, opus, ... */
  readonly codec: string;
  readonly sampleRate: number;
}

/**
 * The first audio stream of ffmpeg's input dump line
 * `  Stream #0:1: Audio: pcm_alaw, 16000 Hz, mono, s16, 128 kb/s`, or null.
 */
export function parseInputAudio(line: string): InputAudio | null {
  const m = /^\s*Stream #0:\d+(?:\[\w+\])?(?:\(\w+\))?: Audio: ([\w-]+)[^,]*(?:, (\d+) Hz)?/.exec(line);
  if (!m) return null;
  return { codec: m[1]!, sampleRate: m[2] === undefined ? 0 : Number(m[2]) };
}

/**
 * Whether FLV carries this audio as it is. It takes AAC at any rate, MP3 at
 * 44.1/22.05/11.025 kHz, and G.711 only at 8 kHz: ffmpeg 5.1 writes 16 kHz
 * G.711 into FLV without a word, and every reader then plays it at 8 kHz.
 */
export function audioFitsFlv(audio: InputAudio): boolean {
  switch (audio.codec) {
    case 'aac':
      return true;
    case 'mp3':
      return [44100, 22050, 11025].includes(audio.sampleRate);
    case 'pcm_alaw':
    case 'pcm_mulaw':
      return audio.sampleRate === 8000;
    default:
      return false;
  }
}

/** One stderr line of `-loglevel level+info`: its level and its text without the tags. */
export function parseLogLine(line: string): { level: string; text: string } {
  const m = /^(?:\[[^\]]+ @ 0x[0-9a-f]+\] )?\[(trace|debug|verbose|info|warning|error|fatal|panic)\] ?(.*)$/.exec(line);
  if (!m) return { level: 'info', text: line };
  const context = /^\[([^\]]+) @ 0x[0-9a-f]+\] /.exec(line);
  return { level: m[1]!, text: context ? `[${context[1]}] ${m[2]!}` : m[2]! };
}

/** Delay before reconnect attempt `attempt` (1, 2, ...): min, 2·min, 4·min, ... capped at max. */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number): number {
  const n = Math.max(1, Math.floor(attempt));
  const delay = minMs * 2 ** Math.min(n - 1, 30);
  return Math.min(maxMs, Math.max(minMs, delay));
}

export type ExitVerdict =
  /** Try again after the backoff delay. */
  | { readonly kind: 'retry'; readonly error: string }
  /** The camera's audio cannot go into FLV: try again at once with AAC. */
  | { readonly kind: 'transcode-audio'; readonly error: string }
  /** Retrying cannot help (a video codec the feed cannot carry). */
  | { readonly kind: 'fatal'; readonly error: string };

export interface ExitFacts {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** ffmpeg's warning and error lines (the last ones), level tags removed. */
  readonly stderr: readonly string[];
  /** Whether any media came out of this run. */
  readonly hadMedia: boolean;
  readonly audio: PullAudioMode;
  /** Secrets to mask besides rtsp://user:pass@ forms. */
  readonly secrets: readonly string[];
  /** Why we stopped ffmpeg ourselves (watchdog), if we did. */
  readonly killedBecause: string | null;
  /** How long this run lasted, and rtsp_timeout, in ms. */
  readonly elapsedMs: number;
  readonly timeoutMs: number;
}

/** Drops ffmpeg's "[rtsp @ 0x55d0c1a0]" or "[rtsp]" context prefix. */
function cleanLine(line: string): string {
  return line.replace(/^\[[\w:. -]+(?: @ 0x[0-9a-f]+)?\]\s*/i, '').trim();
}

/** What one ffmpeg exit means for the pull (pure). Every message is masked. */
export function judgeExit(f: ExitFacts): ExitVerdict {
  const lines = f.stderr.map((l) => maskCredentials(l, f.secrets));
  const all = lines.join('\n');
  const video = /Video codec (\S+) not compatible with flv/i.exec(all);
  if (video) {
    const codec = video[1]!.toLowerCase() === 'hevc' ? 'H.265 (hevc)' : video[1]!;
    return {
      kind: 'fatal',
      error: `the camera sends ${codec} video, which cannot be recorded from a camera here: only H.264 is supported (set the camera's encoder to H.264)`,
    };
  }
  if (!f.hadMedia && f.audio === 'copy' && /\[flv( @ 0x[0-9a-f]+)?\]|Audio codec \S+ not compatible with flv|does not support sample rate/i.test(all)) {
    return { kind: 'transcode-audio', error: `the camera's audio cannot be carried as it is: ${cleanLine(lines[lines.length - 1] ?? '')}` };
  }
  if (f.killedBecause) return { kind: 'retry', error: f.killedBecause };
  // a dropped camera makes ffmpeg 5.1 exit 0, at most with a note about a cut frame
  if (f.hadMedia && f.code === 0) return { kind: 'retry', error: 'the camera closed the stream' };
  const last = [...lines].reverse().map(cleanLine).find((l) => l !== '' && !/^(Conversion failed!|Exiting normally)/.test(l));
  // a camera that accepts and then says nothing: ffmpeg's read times out and it blames the data
  if (!f.hadMedia && f.elapsedMs >= f.timeoutMs * 0.9 && (last === undefined || /Invalid data found|timed out/i.test(last))) {
    return { kind: 'retry', error: `no answer from the camera within rtsp_timeout (${Math.round(f.timeoutMs / 1000)} s)${last ? `: ${last}` : ''}` };
  }
  if (last) return { kind: 'retry', error: last };
  const how = f.signal ? `signal ${f.signal}` : `code ${f.code}`;
  return {
    kind: 'retry',
    error: f.hadMedia ? `the camera stopped the stream (ffmpeg exited with ${how})` : `ffmpeg exited with ${how} before any media`,
  };
}

/** What REST clients are told of a pull that never played: the same whatever the network said. */
export const CAMERA_UNREACHABLE = 'camera unreachable: no RTSP stream could be played from it (the reason is in the server log)';
export const CAMERA_LOST = 'the camera stream was lost; reconnecting (the reason is in the server log)';
export const CAMERA_AUDIO_AAC = "the camera's audio cannot be carried as it is; pulling again with AAC";

/**
 * The lastError REST clients see (pure). The detailed reason stays in the
 * server log only: a refused port, a port that never answers, a host that
 * does not exist and a server that is not a camera all read the same, so
 * /rtsp/startup cannot be used to scan the daemon's network. Only what a
 * camera that played says (its video codec cannot be recorded) is passed on.
 */
export function publicPullError(verdict: ExitVerdict, hadMedia: boolean): string {
  if (verdict.kind === 'fatal') return verdict.error;
  if (verdict.kind === 'transcode-audio') return CAMERA_AUDIO_AAC;
  return hadMedia ? CAMERA_LOST : CAMERA_UNREACHABLE;
}
