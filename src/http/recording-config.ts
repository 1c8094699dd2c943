import { MAX_FILE_NAME_BYTES, TEMPLATE_ELEMENTS } from '../recording/naming.js';
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
}

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

/** The recorder overrides of a startup config; settings not given follow the server's. */
export function recordingOverridesOf(config: StartupConfig | undefined): RecordingOverrides {
  if (!config) return {};
  const overrides: { fileTemplate?: string; rotation?: RecordingOverrides['rotation'] } = {};
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
