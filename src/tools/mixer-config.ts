/**
 * conf/offline_mixer.json (pure parsing). WCS writes booleans both as JSON
 * booleans and as strings ("true"), so both are taken.
 */

export interface MixerConfig {
  readonly hasVideo: boolean;
  readonly hasAudio: boolean;
  readonly mixerDisplayStreamName: boolean;
  /** Encode with all cores; otherwise one thread (ffmpeg -threads 1). */
  readonly multithreading: boolean;
  /** POSTed the recording and mixing data after a mix; '' = none. */
  readonly callbackUrl: string;
  /** Bytes: the mixer does not start, or stops keeping what it wrote, below this much free space. */
  readonly minAvailableSpace: number;
  /** wcs-recorder extensions: size and frame rate of the mixed video. */
  readonly width: number;
  readonly height: number;
  readonly frameRate: number;
}

export const MIXER_DEFAULTS: MixerConfig = {
  hasVideo: true,
  hasAudio: true,
  mixerDisplayStreamName: true,
  multithreading: false,
  callbackUrl: '',
  minAvailableSpace: 1024 ** 3,
  width: 1280,
  height: 720,
  frameRate: 30,
};

export class MixerConfigError extends Error {}

function bool(key: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new MixerConfigError(`${key}: expected true or false, got ${JSON.stringify(v)}`);
}

/** `1G`, `500M`, `1024K`, `2048` (bytes). */
export function parseSpace(key: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^\s*(\d{1,15})\s*([kmgt]?)b?\s*$/i.exec(v) : null;
  if (!m) throw new MixerConfigError(`${key}: expected a size such as 1G, 500M or a number of bytes, got ${JSON.stringify(v)}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * unit;
}

function intValue(key: string, v: unknown, min: number, max: number, even = false): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new MixerConfigError(`${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return even ? n - (n % 2) : n;
}

/**
 * Parses the file. A key the mixer does not know is not an error (WCS's
 * mixer ignores keys it does not use, and files carry keys of other
 * builds): `warn` gets one line per such key and the mix goes on. A known
 * key with a wrong value still throws.
 */
export function parseMixerConfig(text: string, warn: (line: string) => void = () => undefined): MixerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new MixerConfigError(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MixerConfigError('expected a JSON object');
  const o = raw as Record<string, unknown>;
  const known = new Set(Object.keys(MIXER_DEFAULTS));
  const unknown = Object.keys(o).filter((k) => !known.has(k));
  for (const key of unknown) warn(`unknown setting ${JSON.stringify(key)} ignored; known: ${[...known].join(', ')}`);
  const callbackUrl = o.callbackUrl ?? '';
  if (typeof callbackUrl !== 'string' || (callbackUrl !== '' && !/^https?:\/\//.test(callbackUrl))) {
    throw new MixerConfigError(`callbackUrl: expected an http(s) URL, got ${JSON.stringify(callbackUrl)}`);
  }
  return {
    hasVideo: o.hasVideo === undefined ? MIXER_DEFAULTS.hasVideo : bool('hasVideo', o.hasVideo),
    hasAudio: o.hasAudio === undefined ? MIXER_DEFAULTS.hasAudio : bool('hasAudio', o.hasAudio),
    mixerDisplayStreamName: o.mixerDisplayStreamName === undefined ? MIXER_DEFAULTS.mixerDisplayStreamName : bool('mixerDisplayStreamName', o.mixerDisplayStreamName),
    multithreading: o.multithreading === undefined ? MIXER_DEFAULTS.multithreading : bool('multithreading', o.multithreading),
    callbackUrl,
    minAvailableSpace: o.minAvailableSpace === undefined ? MIXER_DEFAULTS.minAvailableSpace : parseSpace('minAvailableSpace', o.minAvailableSpace),
    width: o.width === undefined ? MIXER_DEFAULTS.width : intValue('width', o.width, 64, 7680, true),
    height: o.height === undefined ? MIXER_DEFAULTS.height : intValue('height', o.height, 64, 4320, true),
    frameRate: o.frameRate === undefined ? MIXER_DEFAULTS.frameRate : intValue('frameRate', o.frameRate, 1, 120),
  };
}
