/**
 * What the offline mixer does with a multiple recording (pure): who is
 * present when, the grid of each moment, and the ffmpeg filter graph and
 * arguments that mix it.
 */
import type { MovieInfo, TrackInfo } from '../recording/multi/mp4-tracks.js';
import type { MixerConfig } from './mixer-config.js';

/** A media track's span on the file's timeline, ms. */
export interface TrackSpan {
  /** ffmpeg stream index in the file. */
  readonly index: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** One participant session: its tracks (a re-added stream is a new session). */
export interface MixParticipant {
  readonly key: number;
  readonly streamName: string;
  readonly video: TrackSpan | null;
  readonly audio: TrackSpan | null;
}

function spanOf(t: TrackInfo): TrackSpan {
  const media = t.edits.filter((e) => e.type === 'media');
  const startMs = media[0]?.startMs ?? 0;
  const endMs = media[media.length - 1]?.endMs ?? t.durationMs;
  return { index: t.index, startMs, endMs };
}

/** Participants of a file in join order: tracks grouped by their stored participant number (foreign tracks each stand alone). */
export function participantsOf(movie: MovieInfo): MixParticipant[] {
  const byKey = new Map<number, { streamName: string; video: TrackSpan | null; audio: TrackSpan | null }>();
  for (const t of movie.tracks) {
    if (t.type === 'OTHER') continue;
    const key = t.identity?.participant ?? 1_000_000 + t.index;
    const entry = byKey.get(key) ?? { streamName: t.identity?.streamName ?? `track ${t.trackId - 1}`, video: null, audio: null };
    if (t.type === 'VIDEO' && !entry.video) entry.video = spanOf(t);
    if (t.type === 'AUDIO' && !entry.audio) entry.audio = spanOf(t);
    byKey.set(key, entry);
  }
  return [...byKey.entries()].sort((a, b) => a[0] - b[0]).map(([key, e]) => ({ key, ...e }));
}

/** A stretch of time in which the same participants are on screen. */
export interface Segment {
  readonly startMs: number;
  readonly endMs: number;
  /** Keys of the participants shown, in join order. */
  readonly present: number[];
}

/** Splits [0, durationMs) where the set of participants with video changes. */
export function segmentsOf(participants: readonly MixParticipant[], durationMs: number): Segment[] {
  const withVideo = participants.filter((p) => p.video);
  const cuts = new Set<number>([0, durationMs]);
  for (const p of withVideo) {
    for (const t of [p.video!.startMs, p.video!.endMs]) if (t > 0 && t < durationMs) cuts.add(t);
  }
  const times = [...cuts].sort((a, b) => a - b);
  const segments: Segment[] = [];
  for (let i = 0; i + 1 < times.length; i++) {
    const startMs = times[i]!;
    const endMs = times[i + 1]!;
    const mid = (startMs + endMs) / 2;
    const present = withVideo.filter((p) => p.video!.startMs <= mid && mid < p.video!.endMs).map((p) => p.key);
    const last = segments[segments.length - 1];
    if (last && last.present.join() === present.join()) segments[segments.length - 1] = { ...last, endMs };
    else segments.push({ startMs, endMs, present });
  }
  return segments;
}

export interface Tile {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const even = (n: number): number => Math.floor(n / 2) * 2;

/**
 * The grid for `count` tiles on a width x height canvas: as square as
 * possible (cols = ceil(sqrt n)), the grid centred, an incomplete last row
 * centred too.
 */
export function gridLayout(count: number, width: number, height: number): Tile[] {
  if (count <= 0) return [];
  const cols = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const w = even(width / cols);
  const h = even(height / rows);
  const top = even((height - rows * h) / 2);
  const tiles: Tile[] = [];
  for (let k = 0; k < count; k++) {
    const row = Math.floor(k / cols);
    const inRow = Math.min(cols, count - row * cols);
    const left = even((width - inRow * w) / 2);
    tiles.push({ x: left + (k % cols) * w, y: top + row * h, width: w, height: h });
  }
  return tiles;
}

const sec = (ms: number): string => (ms / 1000).toFixed(3);

/** A value that is `value` in each [a, b] and 0 elsewhere, as an ffmpeg expression. */
function piecewise(parts: readonly { startMs: number; endMs: number; value: number }[]): string {
  return parts.reduceRight((rest, p) => `if(between(t,${sec(p.startMs)},${sec(p.endMs)}),${p.value},${rest})`, '0');
}

/** Escapes a path for a filter option value inside single quotes. */
function quotePath(p: string): string {
  return `'${p.replace(/\\/g, '\\\\').replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`;
}

export interface GraphOptions {
  readonly config: Pick<MixerConfig, 'width' | 'height' | 'frameRate' | 'mixerDisplayStreamName'>;
  readonly durationMs: number;
  /** Text file with each participant's label (drawtext textfile=: no escaping of names). */
  readonly labelFile: (key: number) => string;
  readonly fontFile: string | null;
}

export interface MixGraph {
  readonly filter: string;
  readonly videoOut: string | null;
  readonly audioOut: string | null;
}

/**
 * The filter graph: a black canvas; per participant and tile size one
 * scaled (and labelled) picture, overlaid where the grid of each segment
 * puts it and only while the participant is present; the audio tracks
 * delayed to their join times and summed.
 */
export function mixGraph(participants: readonly MixParticipant[], withVideo: boolean, withAudio: boolean, o: GraphOptions): MixGraph {
  const chains: string[] = [];
  const { width: W, height: H, frameRate } = o.config;
  let videoOut: string | null = null;
  const video = withVideo ? participants.filter((p) => p.video) : [];
  if (video.length > 0) {
    chains.push(`color=c=black:s=${W}x${H}:r=${frameRate}:d=${sec(o.durationMs)},format=yuv420p[bg0]`);
    const segments = segmentsOf(video, o.durationMs);
    let bg = 0;
    for (const p of video) {
      // where this participant is drawn, grouped by tile size
      const bySize = new Map<string, { startMs: number; endMs: number; x: number; y: number }[]>();
      for (const s of segments) {
        const k = s.present.indexOf(p.key);
        if (k < 0) continue;
        const tile = gridLayout(s.present.length, W, H)[k]!;
        const size = `${tile.width}x${tile.height}`;
        const list = bySize.get(size) ?? [];
        list.push({ startMs: s.startMs, endMs: s.endMs, x: tile.x, y: tile.y });
        bySize.set(size, list);
      }
      const sizes = [...bySize.keys()];
      if (sizes.length === 0) continue;
      const source = `[0:${p.video!.index}]`;
      const inputs = sizes.length === 1 ? [source] : sizes.map((_, i) => `[p${p.key}in${i}]`);
      if (sizes.length > 1) chains.push(`${source}split=${sizes.length}${inputs.join('')}`);
      sizes.forEach((size, i) => {
        const [tw, th] = size.split('x').map(Number) as [number, number];
        let chain = `${inputs[i]}scale=${tw}:${th}:force_original_aspect_ratio=decrease,pad=${tw}:${th}:(ow-iw)/2:(oh-ih)/2,setsar=1`;
        if (o.config.mixerDisplayStreamName) {
          const fontSize = Math.max(10, Math.round(th / 14));
          const font = o.fontFile ? `fontfile=${quotePath(o.fontFile)}` : `font=Sans`;
          chain += `,drawtext=${font}:textfile=${quotePath(o.labelFile(p.key))}:expansion=none:fontcolor=white:fontsize=${fontSize}:box=1:boxcolor=black@0.5:boxborderw=4:x=8:y=h-th-8`;
        }
        const tile = `[p${p.key}t${i}]`;
        chains.push(chain + tile);
        const where = bySize.get(size)!;
        const x = piecewise(where.map((w) => ({ ...w, value: w.x })));
        const y = piecewise(where.map((w) => ({ ...w, value: w.y })));
        const enable = where.map((w) => `between(t,${sec(w.startMs)},${sec(w.endMs)})`).join('+');
        chains.push(`[bg${bg}]${tile}overlay=x='${x}':y='${y}':eof_action=pass:repeatlast=0:enable='${enable}'[bg${bg + 1}]`);
        bg++;
      });
    }
    videoOut = `bg${bg}`;
  }
  let audioOut: string | null = null;
  const audio = withAudio ? participants.filter((p) => p.audio) : [];
  if (audio.length > 0) {
    const labels = audio.map((p) => {
      const delay = Math.max(0, Math.round(p.audio!.startMs));
      chains.push(`[0:${p.audio!.index}]asetpts=PTS-STARTPTS,aresample=48000,adelay=${delay}:all=1[a${p.key}]`);
      return `[a${p.key}]`;
    });
    chains.push(
      audio.length === 1
        ? `${labels[0]}anull[aout]`
        : `${labels.join('')}amix=inputs=${audio.length}:duration=longest:dropout_transition=0:normalize=0[aout]`,
    );
    audioOut = 'aout';
  }
  return { filter: chains.join(';'), videoOut, audioOut };
}

/** The whole ffmpeg command line of a mix. */
export function mixArgs(input: string, output: string, graph: MixGraph, durationMs: number, multithreading: boolean, creationTime: Date): string[] {
  const threads = multithreading ? [] : ['-threads', '1'];
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1'];
  if (!multithreading) args.push('-filter_complex_threads', '1');
  args.push(...threads, '-i', input, '-filter_complex', graph.filter);
  if (graph.videoOut) args.push('-map', `[${graph.videoOut}]`, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p');
  if (graph.audioOut) args.push('-map', `[${graph.audioOut}]`, '-c:a', 'aac', '-b:a', '128k');
  args.push(...threads, '-t', sec(durationMs), '-metadata', `creation_time=${creationTime.toISOString()}`, '-f', 'mp4', '-y', output);
  return args;
}

/** Percent done from one line of ffmpeg's -progress output, or null. */
export function progressPercent(line: string, durationMs: number): number | null {
  const m = /^out_time_(?:us|ms)=(\d+)$/.exec(line.trim());
  if (!m || durationMs <= 0) return null;
  return Math.min(100, Math.max(0, Math.floor(Number(m[1]) / 10 / durationMs)));
}
