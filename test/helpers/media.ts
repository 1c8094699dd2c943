import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ClipSpec {
  video: boolean;
  audio: boolean;
  seconds: number;
  /** Keyframe interval in seconds. */
  gop?: number;
  bitrate?: string;
}

const MEDIA_DIR = path.join(os.tmpdir(), 'wcs-test-media');

/** A generated H.264/AAC test clip (testsrc2 + sine), made once and reused. */
export function makeClip(spec: ClipSpec): string {
  const gop = spec.gop ?? 2;
  const name = `clip-${spec.video ? 'v' : ''}${spec.audio ? 'a' : ''}-${spec.seconds}s-g${gop}-${spec.bitrate ?? '1M'}.mp4`;
  const file = path.join(MEDIA_DIR, name);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(MEDIA_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  if (spec.video) args.push('-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30`);
  if (spec.audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
  args.push('-t', String(spec.seconds));
  if (spec.video) {
    args.push('-c:v', 'libx264', '-preset', 'veryfast', '-b:v', spec.bitrate ?? '1M', '-pix_fmt', 'yuv420p');
    args.push('-g', String(gop * 30), '-keyint_min', String(gop * 30), '-sc_threshold', '0');
  }
  if (spec.audio) args.push('-c:a', 'aac', '-b:a', '128k', '-ac', '2');
  args.push(tmp);
  execFileSync('ffmpeg', args);
  fs.renameSync(tmp, file);
  return file;
}

export interface Publisher {
  proc: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
  /**
   * Seconds of media the publisher has sent so far, by its own count
   * (ffmpeg -progress out_time, every 0.1 s). Tests compare records with
   * this rather than with wall-clock time: on a busy machine the two part.
   */
  sentSeconds(): number;
}

/** Publishes a file in real time over RTMP with ffmpeg (-re, by default -c copy, -f flv). */
export function publish(file: string, url: string, extraInput: string[] = [], codecArgs: string[] = ['-c', 'copy']): Publisher {
  const proc = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.1', '-re', ...extraInput, '-i', file, ...codecArgs, '-f', 'flv', url],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  let sentUs = 0;
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/out_time_us=(\d+)/g)) sentUs = Math.max(sentUs, Number(m[1]));
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, stderr: () => err, sentSeconds: () => sentUs / 1e6 };
}

export interface ProbeResult {
  streams: { codec_type: string; codec_name: string; duration?: string; start_time?: string; sample_rate?: string; channels?: number }[];
  format: { duration: string; format_name: string };
}

export function ffprobe(file: string): ProbeResult {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { encoding: 'utf8' });
  return JSON.parse(out) as ProbeResult;
}

export function durationOf(file: string): number {
  return Number(ffprobe(file).format.duration);
}

/** Decodes the whole file; throws if ffmpeg reports an error. */
export function decodeErrors(file: string): string {
  try {
    return execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
}

/** Whether the first video frame of a file is a keyframe. */
export function firstVideoFrameIsKey(file: string): boolean {
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', file],
    { encoding: 'utf8' },
  );
  return out.trim().split('\n')[0]?.split(',')[0]?.trim() === '1';
}

/** Byte offsets of the top-level MP4 boxes. */
export function mp4TopLevelBoxes(file: string): { type: string; offset: number; size: number }[] {
  const buf = fs.readFileSync(file);
  const boxes: { type: string; offset: number; size: number }[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    let size = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    if (size === 1) size = Number(buf.readBigUInt64BE(offset + 8));
    if (size === 0) size = buf.length - offset;
    boxes.push({ type, offset, size });
    if (size < 8) break;
    offset += size;
  }
  return boxes;
}

/** Packets (frames) of the first video or audio stream of a file, counted by ffprobe. */
export function packetCount(file: string, stream: 'v' | 'a'): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', `${stream}:0`, '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file], {
    encoding: 'utf8',
  });
  return Number(out.trim().split('\n')[0]);
}
