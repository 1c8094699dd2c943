import fs from 'node:fs';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg/ffmpeg-process.js';
import { finalizeArgs, type Mp4Layout, type RecordPlan } from './formats.js';
import { moveFile } from './move-file.js';
import { isCompleteMp4 } from './mp4-boxes.js';

export class FinalizeError extends Error {}

export interface FinalizeOptions {
  readonly ffmpeg: string;
  readonly plan: RecordPlan;
  readonly layout: Mp4Layout;
  readonly timeoutMs: number;
  /** Recovery of a file cut short by a crash: Matroska/WebM are rewritten too. */
  readonly repair?: boolean;
}

/**
 * Turns a finished temp file into the record at `dest`: an MP4 is rewritten
 * with moov first (into reserved space when configured, faststart when the
 * moov does not fit or no space is reserved); other containers are moved
 * as they are. Returns the size of the record.
 */
export async function finalizePart(tmpFile: string, dest: string, options: FinalizeOptions): Promise<{ size: number; usedReserve: boolean }> {
  const staged = path.join(path.dirname(tmpFile), `${path.basename(tmpFile)}.final.${options.plan.extension}`);
  const attempt = async (reserve: boolean): Promise<boolean> => {
    const args = finalizeArgs(options.plan, options.layout, tmpFile, staged, reserve, options.repair ?? false);
    if (args === null) return false;
    const exit = await runFfmpeg(options.ffmpeg, args, options.timeoutMs);
    if (options.plan.container !== 'mp4') {
      if (exit.code === 0) return true;
      await fs.promises.rm(staged, { force: true });
      throw new FinalizeError(`ffmpeg exit ${exit.code ?? exit.signal}: ${exit.stderrTail.slice(-2).join(' | ')}`);
    }
    // ffmpeg exits 0 even when writing the trailer fails (e.g. the moov does
    // not fit the reserved space), so check the file itself
    const trailerFailed = exit.stderrTail.some((l) => /error writing trailer|too small/i.test(l));
    if (exit.code === 0 && !trailerFailed && (await isCompleteMp4(staged))) return true;
    await fs.promises.rm(staged, { force: true });
    throw new FinalizeError(`ffmpeg exit ${exit.code ?? exit.signal}: ${exit.stderrTail.slice(-2).join(' | ')}`);
  };
  let remuxed = false;
  let usedReserve = false;
  try {
    remuxed = await attempt(options.layout.reserveSpace);
    usedReserve = remuxed && options.layout.reserveSpace && options.layout.moovFirst;
  } catch (err) {
    if (!options.layout.reserveSpace || options.plan.container !== 'mp4') throw err;
    // the moov did not fit in the reserved space: faststart instead
    remuxed = await attempt(false);
  }
  if (remuxed) {
    await moveFile(staged, dest);
    await fs.promises.rm(tmpFile, { force: true });
  } else {
    await moveFile(tmpFile, dest);
  }
  const size = (await fs.promises.stat(dest)).size;
  return { size, usedReserve };
}
