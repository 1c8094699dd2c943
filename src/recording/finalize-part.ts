import fs from 'node:fs';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg/ffmpeg-process.js';
import { finalizeArgs, type Mp4Layout, type RecordPlan } from './formats.js';
import { moveFile } from './move-file.js';
import { isCompleteMp4 } from './mp4-boxes.js';
import { BoxFormatError } from './mp4/box-tree.js';
import { finishFragmentedMp4, type FinishLayout } from './mp4/finish-fragmented.js';
import type { InsertRange } from './mp4/insert-range.js';

export class FinalizeError extends Error {}

export interface FinalizeOptions {
  readonly ffmpeg: string;
  readonly plan: RecordPlan;
  readonly layout: Mp4Layout;
  readonly timeoutMs: number;
  /** Recovery of a file cut short by a crash: Matroska/WebM are rewritten too. */
  readonly repair?: boolean;
  /** The record's wall-clock start: creation_time of a file remuxed by ffmpeg (the in-process finish keeps the temp file's). */
  readonly creationTime?: Date;
  /** Room for the moov in front of the media without copying it (the daemon's `fallocate --insert-range` helper; null: always copy). */
  readonly insertRange: InsertRange | null;
}

export interface FinalizeResult {
  readonly size: number;
  /** The moov went into the space reserved for it. */
  readonly usedReserve: boolean;
  /** How the container was finished: in process (a FinishLayout), by an ffmpeg remux, or moved as it is. */
  readonly method: FinishLayout | 'ffmpeg' | 'as-is';
  /** Why the in-process finish was not used, when ffmpeg was. */
  readonly fallbackReason?: string;
  /** Why the media was copied behind the moov instead of the room being inserted in front of it. */
  readonly insertRefused?: string;
}

/**
 * Turns a finished temp file into the record at `dest`. A fragmented MP4
 * from the live muxer is finished in process (sample tables from its
 * fragment headers, moov into the reserved space or at the end with no
 * copy, or into room the file system inserts in front of the media, or
 * ftyp+moov+media copied once where it cannot);
 * a file it cannot read that way, and crash recovery, go through an ffmpeg
 * remux with moov first (into reserved space when configured, faststart
 * otherwise). Other containers are moved as they are.
 */
export async function finalizePart(tmpFile: string, dest: string, options: FinalizeOptions): Promise<FinalizeResult> {
  const staged = path.join(path.dirname(tmpFile), `${path.basename(tmpFile)}.final.${options.plan.extension}`);
  let fallbackReason: string | undefined;
  if (options.plan.container === 'mp4' && !options.repair) {
    try {
      const insertRange = options.layout.insertRange === false ? null : options.insertRange;
      const done = await finishFragmentedMp4(tmpFile, { moovFirst: options.layout.moovFirst, stagedPath: staged, insertRange });
      await moveFile(done.file, dest);
      if (done.file !== tmpFile) await fs.promises.rm(tmpFile, { force: true });
      const size = (await fs.promises.stat(dest)).size;
      return { size, usedReserve: done.layout === 'reserved', method: done.layout, ...(done.insertRefused ? { insertRefused: done.insertRefused } : {}) };
    } catch (err) {
      // a structure it does not know is left untouched: ffmpeg remuxes it
      if (!(err instanceof BoxFormatError)) throw err;
      fallbackReason = err.message;
    }
  }
  const attempt = async (reserve: boolean): Promise<boolean> => {
    const args = finalizeArgs(options.plan, options.layout, tmpFile, staged, reserve, options.repair ?? false, options.creationTime);
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
  return { size, usedReserve, method: remuxed ? 'ffmpeg' : 'as-is', ...(fallbackReason ? { fallbackReason } : {}) };
}
