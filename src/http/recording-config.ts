import { MAX_FILE_NAME_BYTES, TEMPLATE_ELEMENTS } from '../recording/naming.js';
import type { Container } from '../recording/formats.js';
import type { Preset } from '../recording/presets.js';
import { checkOptions, RecordOptionsError, type RecordOptions } from '../recording/record-options.js';
import type { RecordingOverrides } from '../recording/recorder-manager.js';
import { parseRotation, RotationError } from '../recording/rotation.js';

/**
 * The `config` of /recorder/startup (WCS: settings that redefine the
 * server's for this recording), checked and turned into the recorder's
 * overrides (pure).
 */
export interface StartupConfig {
  readonly fileTemplate?: string;
  readonly rotation?: string;
  /** mp4, mkv, webm, ts: checked against the stream's codecs. */
  readonly format?: Container;
  /** false: the audio track is left out. */
  readonly audio?: boolean;
  /** false: the video track is left out. */
  readonly video?: boolean;
  /** Seconds of recorded media after which the recording stops (a playable file is left). */
  readonly maxLength?: number;
  /** A preset name from GET /rest-api/recorder/presets. */
  readonly preset?: string;
}

/** Longest maxLength, seconds (a week). */
export const MAX_LENGTH_SECONDS = 7 * 86400;

export class RecordingConfigError extends Error {}

const ELEMENT = /\{([^{}]*)\}/g;

/** Checks a file name template given by REST; returns it without surrounding spaces. */
export function checkFileTemplate(raw: string): string {
  const template = raw.trim();
  if (template === '') throw new RecordingConfigError('fileTemplate is empty; give a template such as {streamName}-{startTimeMillis}');
  if (/[\u0000-\u001f\u007f]/.test(template)) throw new RecordingConfigError('fileTemplate contains control characters');
  if (template.includes('/') || template.includes('\\')) {
    throw new RecordingConfigError(`fileTemplate '${template}' contains a path separator; it names a file inside record_dir`);
  }
  if (Buffer.byteLength(template) > MAX_FILE_NAME_BYTES) {
    throw new RecordingConfigError(`fileTemplate is longer than ${MAX_FILE_NAME_BYTES} bytes`);
  }
  for (const m of template.matchAll(ELEMENT)) {
    const name = m[1] ?? '';
    if (!Object.prototype.hasOwnProperty.call(TEMPLATE_ELEMENTS, name)) {
      throw new RecordingConfigError(
        `fileTemplate element {${name}} is unknown; known: ${Object.keys(TEMPLATE_ELEMENTS).map((e) => `{${e}}`).join(' ')}`,
      );
    }
  }
  return template;
}

/** The recording options of a startup config (format, audio, video, maxLength, preset), checked as far as no codec is needed. */
export function recordOptionsOf(config: StartupConfig, presets: readonly Preset[]): RecordOptions | undefined {
  const options: { -readonly [K in keyof RecordOptions]: RecordOptions[K] } = {};
  if (config.format !== undefined) options.format = config.format;
  if (config.audio !== undefined) options.audio = config.audio;
  if (config.video !== undefined) options.video = config.video;
  if (config.maxLength !== undefined) {
    if (!Number.isFinite(config.maxLength) || config.maxLength <= 0 || config.maxLength > MAX_LENGTH_SECONDS) {
      throw new RecordingConfigError(`maxLength must be seconds above 0 and at most ${MAX_LENGTH_SECONDS}`);
    }
    options.maxLengthMs = Math.round(config.maxLength * 1000);
  }
  if (config.preset !== undefined) {
    const preset = presets.find((p) => p.name === config.preset);
    if (!preset) {
      throw new RecordingConfigError(`preset '${config.preset}' is unknown; known: ${presets.map((p) => p.name).join(', ')} (GET /rest-api/recorder/presets)`);
    }
    options.preset = preset;
  }
  if (Object.keys(options).length === 0) return undefined;
  try {
    checkOptions(options);
  } catch (err) {
    if (err instanceof RecordOptionsError) throw new RecordingConfigError(err.message);
    throw err;
  }
  return options;
}

/** The recorder overrides of a startup config; settings not given follow the server's. */
export function recordingOverridesOf(config: StartupConfig | undefined, presets: readonly Preset[] = []): RecordingOverrides {
  if (!config) return {};
  const overrides: { fileTemplate?: string; rotation?: RecordingOverrides['rotation']; options?: RecordOptions } = {};
  const options = recordOptionsOf(config, presets);
  if (options) overrides.options = options;
  if (config.fileTemplate !== undefined) overrides.fileTemplate = checkFileTemplate(config.fileTemplate);
  if (config.rotation !== undefined) {
    try {
      overrides.rotation = parseRotation(config.rotation);
    } catch (err) {
      if (err instanceof RotationError) throw new RecordingConfigError(err.message);
      throw err;
    }
  }
  return overrides;
}
