import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { probeDuration } from './ffmpeg/probe-duration.js';
import { finalizePart, FinalizeError } from './finalize-part.js';
import { planRecording, type Mp4Layout, type RecordFormats } from './formats.js';
import { moveFile } from './move-file.js';
import { type InsertRange, repairInterruptedInsert } from './mp4/insert-range.js';
import { nameRecord, type NamingRules } from './naming.js';
import { readSidecar, removeSidecar, type PartSidecar } from './part-sidecar.js';
import type { RecordInfo } from './recorder.js';
import { TEMP_PREFIX } from './recorder.js';

export interface RecoveryOptions {
  readonly tmpDir: string;
  readonly recordDir: string;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly mp4: Mp4Layout;
  readonly formats: RecordFormats;
  /** Naming used when a part has no sidecar. */
  readonly naming: NamingRules;
  readonly timeoutMs: number;
  /** The daemon's insert-range helper: undoes an insert a crash interrupted (null: such a file is left as it is). */
  readonly insertRange: InsertRange | null;
  readonly log: Logger;
}

const TEMP_NAME = /^\.rec-([0-9a-f-]{36})-(\d+)-(\d+)\.(mp4|mkv|webm|ts)$/;

/** Temp parts left in record_tmp_dir by a crash (pure filter over a listing). */
export function leftoverParts(names: readonly string[]): string[] {
  return names.filter((n) => TEMP_NAME.test(n)).sort();
}

/**
 * Finishes the parts a crash left behind: each temp file in record_tmp_dir
 * becomes a proper record (container finished, named by its template with
 * what is known, end time from the media) in record_dir. Unreadable ones are
 * kept aside as `.broken`. Returns the records made.
 */
export async function recoverInterruptedParts(options: RecoveryOptions): Promise<RecordInfo[]> {
  const { log } = options;
  let names: string[];
  try {
    names = await fs.promises.readdir(options.tmpDir);
  } catch {
    return [];
  }
  // half-written outputs of an interrupted finish are redone from their temp file
  for (const n of names.filter((n) => n.startsWith(TEMP_PREFIX) && n.includes('.final.'))) {
    await fs.promises.rm(path.join(options.tmpDir, n), { force: true });
  }
  const records: RecordInfo[] = [];
  for (const name of leftoverParts(names)) {
    const tmpFile = path.join(options.tmpDir, name);
    const m = TEMP_NAME.exec(name)!;
    const sidecar = await readSidecar(tmpFile);
    // a crash inside an insert-range finish can leave zeros in front of the fragmented file
    if (m[4] === 'mp4' && options.insertRange && (await repairInterruptedInsert(tmpFile, options.insertRange).catch(() => false))) {
      log.warn({ tmpFile }, 'Interrupted insert-range finish: the inserted room taken out again');
    }
    const seconds = await probeDuration(options.ffprobe, tmpFile);
    // a crash can leave the description without the part's first timestamp
    if (seconds === null) {
      log.error({ tmpFile }, 'Interrupted recording could not be read; kept aside as .broken');
      await fs.promises.rename(tmpFile, `${tmpFile}.broken`).catch(() => undefined);
      await removeSidecar(tmpFile);
      continue;
    }
    const stat = await fs.promises.stat(tmpFile);
    const durationMs = Math.round(seconds * 1000);
    const info: PartSidecar = sidecar ?? {
      version: 1,
      streamName: 'recovered',
      mediaSessionId: m[1]!,
      sessionId: '',
      login: '',
      audioCodec: '',
      videoCodec: '',
      naming: options.naming,
      nameIndex: Number(m[3]) > 1 ? Number(m[3]) : null,
      plan: m[4] === 'mp4' ? planRecording('', '', options.formats) : planRecording('H264', '', options.formats),
      startTimeMillis: stat.birthtimeMs || stat.mtimeMs - durationMs,
      firstTimestampMs: 0,
    };
    const startTimeMillis = Math.round(info.startTimeMillis);
    const firstTs = Math.max(info.firstTimestampMs, 0);
    const values = {
      streamName: info.streamName,
      mediaSessionId: info.mediaSessionId,
      sessionId: info.sessionId,
      login: info.login,
      audioCodec: info.audioCodec,
      videoCodec: info.videoCodec,
      startTimeMillis,
      endTimeMillis: startTimeMillis + durationMs,
      startTime: firstTs,
      endTime: firstTs + durationMs,
      duration: durationMs,
    };
    const fileName = nameRecord(info.naming, values, 'empty', info.plan.extension, info.nameIndex);
    const dest = path.join(options.recordDir, fileName);
    let size: number;
    try {
      size = (await finalizePart(tmpFile, dest, { ffmpeg: options.ffmpeg, plan: info.plan, layout: options.mp4, timeoutMs: options.timeoutMs, repair: true, insertRange: options.insertRange, creationTime: new Date(startTimeMillis) })).size;
    } catch (err) {
      if (!(err instanceof FinalizeError)) throw err;
      await moveFile(tmpFile, dest);
      size = (await fs.promises.stat(dest)).size;
    }
    await removeSidecar(tmpFile);
    log.info({ stream: info.streamName, mediaSessionId: info.mediaSessionId, file: dest, durationMs }, 'Recovered an interrupted recording');
    records.push({
      fileName,
      path: dest,
      mediaSessionId: info.mediaSessionId,
      streamName: info.streamName,
      size,
      part: Number(m[3]),
      startTimeMillis,
      endTimeMillis: startTimeMillis + durationMs,
      startTime: firstTs,
      endTime: firstTs + durationMs,
      durationMs,
      tmpFile,
      recovered: true,
      ...(sidecar ? { login: sidecar.login, videoCodec: sidecar.videoCodec, audioCodec: sidecar.audioCodec } : {}),
      ...(sidecar?.pauses && sidecar.pauses.length > 0 ? { pauses: sidecar.pauses } : {}),
    });
  }
  return records;
}
