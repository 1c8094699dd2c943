import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export interface FfmpegBinaries {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** Where the ffmpeg path came from, for the start-up log. */
  readonly origin: 'ffmpeg_path' | 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH';
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, envPath: string | undefined): string | null {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function ffmpegStaticBinary(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const bin = require('ffmpeg-static') as unknown;
    return typeof bin === 'string' && isExecutable(bin) ? bin : null;
  } catch {
    return null;
  }
}

/** ffprobe next to the chosen ffmpeg, else on PATH. */
function ffprobeFor(ffmpeg: string, envPath: string | undefined): string {
  const sibling = path.join(path.dirname(ffmpeg), 'ffprobe');
  if (isExecutable(sibling)) return sibling;
  return onPath('ffprobe', envPath) ?? 'ffprobe';
}

export class FfmpegNotFoundError extends Error {}

/**
 * Finds ffmpeg in this order: the ffmpeg_path property, FFMPEG_PATH,
 * ffmpeg-static's binary if it installed, ffmpeg on PATH.
 */
export function locateFfmpeg(configured: string, env: NodeJS.ProcessEnv): FfmpegBinaries {
  if (configured !== '') {
    if (!isExecutable(configured)) throw new FfmpegNotFoundError(`ffmpeg_path '${configured}' is not an executable file`);
    return { ffmpeg: configured, ffprobe: ffprobeFor(configured, env.PATH), origin: 'ffmpeg_path' };
  }
  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new FfmpegNotFoundError(`FFMPEG_PATH '${fromEnv}' is not an executable file`);
    return { ffmpeg: fromEnv, ffprobe: ffprobeFor(fromEnv, env.PATH), origin: 'FFMPEG_PATH' };
  }
  const bundled = ffmpegStaticBinary();
  if (bundled) return { ffmpeg: bundled, ffprobe: ffprobeFor(bundled, env.PATH), origin: 'ffmpeg-static' };
  const system = onPath('ffmpeg', env.PATH);
  if (system) return { ffmpeg: system, ffprobe: ffprobeFor(system, env.PATH), origin: 'PATH' };
  throw new FfmpegNotFoundError(
    'ffmpeg not found: install it (Debian/Ubuntu: apt-get install ffmpeg), or set ffmpeg_path in conf/server.properties or FFMPEG_PATH',
  );
}
