/**
 * Named transcoding presets (pure): a picture size, frame rate, video
 * bitrate and keyframe interval for one video codec, plus the audio bitrate
 * used when the audio has to be encoded. Built-in presets live here;
 * conf/recording_presets.json may add presets or override fields of the
 * built-in ones (see parsePresetFile).
 *
 * The encoders are Debian 12's ffmpeg 5.1 ones, set for live speed:
 * libx264 -preset veryfast, libvpx-vp9 -deadline realtime -cpu-used 8,
 * libsvtav1 -preset 12 (libaom-av1 at -cpu-used 8 took about twice the CPU
 * of SVT-AV1 at 720p here).
 */
import type { Container } from './formats.js';

export type PresetCodec = 'h264' | 'vp9' | 'av1';
export const PRESET_CODECS: readonly PresetCodec[] = ['h264', 'vp9', 'av1'];

export interface Preset {
  readonly name: string;
  readonly codec: PresetCodec;
  readonly width: number;
  readonly height: number;
  readonly frameRate: number;
  readonly videoBitrateKbps: number;
  readonly keyframeIntervalSeconds: number;
  /** Bitrate of the audio when it has to be encoded for the container (AAC or Opus). */
  readonly audioBitrateKbps: number;
  /** 'built-in', or 'file' for one added or changed by conf/recording_presets.json. */
  readonly source: 'built-in' | 'file';
}

function builtIn(name: string, codec: PresetCodec, width: number, height: number, videoBitrateKbps: number): Preset {
  return { name, codec, width, height, frameRate: 30, videoBitrateKbps, keyframeIntervalSeconds: 2, audioBitrateKbps: 128, source: 'built-in' };
}

export const BUILT_IN_PRESETS: readonly Preset[] = [
  builtIn('h264-1080p', 'h264', 1920, 1080, 4500),
  builtIn('h264-720p', 'h264', 1280, 720, 2500),
  builtIn('h264-480p', 'h264', 854, 480, 1200),
  builtIn('vp9-720p', 'vp9', 1280, 720, 1800),
  builtIn('av1-720p', 'av1', 1280, 720, 1500),
];

/** The registry names (as the stream reports codecs) of each preset's output. */
export const PRESET_VIDEO_CODEC: Record<PresetCodec, string> = { h264: 'H264', vp9: 'VP9', av1: 'AV1' };

/** Containers that hold each preset codec (ffmpeg 5.1 muxes neither VP9 nor AV1 into MPEG-TS). */
export const PRESET_CONTAINERS: Record<PresetCodec, readonly Container[]> = {
  h264: ['mp4', 'mkv', 'ts'],
  vp9: ['webm', 'mkv', 'mp4'],
  av1: ['webm', 'mkv', 'mp4'],
};

export class PresetError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_PRESETS = 64;

interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly even?: boolean;
}

const NUMBER_FIELDS: Record<'width' | 'height' | 'frameRate' | 'videoBitrateKbps' | 'keyframeIntervalSeconds' | 'audioBitrateKbps', NumberRule> = {
  width: { min: 16, max: 7680, integer: true, even: true },
  height: { min: 16, max: 4320, integer: true, even: true },
  frameRate: { min: 1, max: 120, integer: false },
  videoBitrateKbps: { min: 50, max: 100_000, integer: true },
  keyframeIntervalSeconds: { min: 0.1, max: 60, integer: false },
  audioBitrateKbps: { min: 16, max: 512, integer: true },
};
const FIELDS = new Set(['codec', ...Object.keys(NUMBER_FIELDS)]);

function checkEntry(name: string, entry: unknown, base: Preset | undefined): Preset {
  if (!NAME.test(name)) throw new PresetError(`preset name '${name.slice(0, 80)}' is not 1-64 letters, digits, '.', '_' or '-'`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new PresetError(`preset '${name}' is not an object`);
  const fields = entry as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!FIELDS.has(key)) throw new PresetError(`preset '${name}': unknown field '${key.slice(0, 80)}' (known: ${[...FIELDS].join(', ')})`);
  }
  const out: Record<string, unknown> = { ...(base ?? {}), name, source: 'file' };
  if (fields.codec !== undefined) {
    if (typeof fields.codec !== 'string' || !PRESET_CODECS.includes(fields.codec as PresetCodec)) {
      throw new PresetError(`preset '${name}': codec must be one of ${PRESET_CODECS.join(', ')}`);
    }
    out.codec = fields.codec;
  }
  for (const [key, rule] of Object.entries(NUMBER_FIELDS)) {
    const v = fields[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < rule.min || v > rule.max || (rule.integer && !Number.isInteger(v)) || (rule.even && v % 2 !== 0)) {
      throw new PresetError(
        `preset '${name}': ${key} must be ${rule.integer ? 'an integer' : 'a number'}${rule.even ? ' (even)' : ''} from ${rule.min} to ${rule.max}`,
      );
    }
    out[key] = v;
  }
  if (!base) {
    const missing = ['codec', ...Object.keys(NUMBER_FIELDS)].filter((k) => out[k] === undefined);
    if (missing.length > 0) throw new PresetError(`new preset '${name}' lacks ${missing.join(', ')}`);
  }
  return out as unknown as Preset;
}

/**
 * The presets with those of conf/recording_presets.json: a JSON object of
 * name -> fields. A name of a built-in preset changes the fields given; a
 * new name must give them all. Throws PresetError naming the first fault
 * (the caller then keeps the built-ins).
 */
export function parsePresetFile(text: string, builtIns: readonly Preset[] = BUILT_IN_PRESETS): Preset[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PresetError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PresetError('the file must hold a JSON object of preset name -> fields');
  const entries = Object.entries(json as Record<string, unknown>);
  const byName = new Map(builtIns.map((p) => [p.name, p]));
  for (const [name, entry] of entries) byName.set(name, checkEntry(name, entry, byName.get(name)));
  if (byName.size > MAX_PRESETS) throw new PresetError(`more than ${MAX_PRESETS} presets`);
  return [...byName.values()];
}

/** ffmpeg arguments that encode the video of a recording with a preset. */
export function presetVideoArgs(preset: Preset): string[] {
  const { width: w, height: h } = preset;
  const gop = Math.max(1, Math.round(preset.frameRate * preset.keyframeIntervalSeconds));
  const kbps = preset.videoBitrateKbps;
  const filter = `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${preset.frameRate},format=yuv420p`;
  const rate = ['-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`, '-g', String(gop), '-keyint_min', String(gop)];
  const common = ['-vf', filter, ...rate];
  switch (preset.codec) {
    case 'h264':
      return ['-c:v', 'libx264', '-preset', 'veryfast', '-sc_threshold', '0', ...common];
    case 'vp9':
      return ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', ...common];
    case 'av1':
      // SVT-AV1 takes no -keyint_min / -maxrate with its default rate control
      return ['-c:v', 'libsvtav1', '-preset', '12', '-vf', filter, '-b:v', `${kbps}k`, '-g', String(gop)];
  }
}
