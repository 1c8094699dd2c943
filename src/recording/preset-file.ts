import fs from 'node:fs';
import type { Logger } from 'pino';
import { BUILT_IN_PRESETS, parsePresetFile, PresetError, type Preset } from './presets.js';

/** Largest conf/recording_presets.json read (it holds at most 64 small entries). */
const MAX_FILE_BYTES = 256 * 1024;

/**
 * The presets: the built-ins with conf/recording_presets.json over them.
 * No file: the built-ins. A bad file (unreadable, too big, not JSON, a bad
 * entry): one error line naming the fault, and the built-ins alone.
 */
export function loadPresets(file: string, log: Logger): Preset[] {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_FILE_BYTES) {
      log.error({ file, size, max: MAX_FILE_BYTES }, 'Recording presets file is too big; using the built-in presets only');
      return [...BUILT_IN_PRESETS];
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [...BUILT_IN_PRESETS];
    log.error({ file, err: (err as Error).message }, 'Cannot read the recording presets file; using the built-in presets only');
    return [...BUILT_IN_PRESETS];
  }
  try {
    const presets = parsePresetFile(text);
    log.info({ file, presets: presets.map((p) => p.name) }, 'Recording presets loaded');
    return presets;
  } catch (err) {
    if (!(err instanceof PresetError)) throw err;
    log.error({ file, err: err.message }, 'Recording presets file is not valid; using the built-in presets only');
    return [...BUILT_IN_PRESETS];
  }
}
