import fs from 'node:fs';
import { runFfmpeg } from '../ffmpeg/ffmpeg-process.js';
import { isCompleteMp4 } from '../mp4-boxes.js';
import { encodeTrackIdentity, readMovie, type TrackType } from './mp4-tracks.js';
import type { ParticipantRecord } from './participant.js';

/** A participant's file with the tracks it really holds. */
export interface AssemblyInput {
  readonly record: ParticipantRecord;
  /** Track types of the file, in its order (ffmpeg's stream indexes). */
  readonly tracks: readonly TrackType[];
}

/**
 * ffmpeg arguments that put every participant's file into one MP4 by
 * stream copy (pure). Each input is shifted by its join time on the
 * recorder's clock (-itsoffset), so the mov muxer gives its tracks an empty
 * edit (a pause) before their media; each track ends where its participant
 * left. Video then audio per participant, in join order, so a re-added
 * stream gets the next track ids. Each track's handler name carries its
 * stream name, mediaSessionId and participant number; the file's title is
 * the recorder URI.
 */
export function assembleArgs(inputs: readonly AssemblyInput[], output: string, uri: string, creationTime: Date): string[] {
  const ordered = [...inputs].sort((a, b) => a.record.participant - b.record.participant);
  const origin = Math.min(...ordered.map((i) => i.record.startWallMs));
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  for (const input of ordered) {
    const offset = Math.max(0, input.record.startWallMs - origin) / 1000;
    args.push('-itsoffset', offset.toFixed(3), '-i', input.record.file);
  }
  let out = 0;
  const meta: string[] = [];
  ordered.forEach((input, i) => {
    for (const type of ['VIDEO', 'AUDIO'] as const) {
      const index = input.tracks.indexOf(type);
      if (index < 0) continue;
      args.push('-map', `${i}:${index}`);
      const identity = { streamName: input.record.streamName, mediaSessionId: input.record.mediaSessionId, participant: input.record.participant };
      meta.push(`-metadata:s:${out}`, `handler_name=${encodeTrackIdentity(identity)}`);
      out++;
    }
  });
  args.push('-c', 'copy', ...meta);
  args.push('-metadata', `title=${uri}`, '-metadata', `creation_time=${creationTime.toISOString()}`);
  args.push('-movflags', '+faststart', '-f', 'mp4', '-y', output);
  return args;
}

export class AssemblyError extends Error {}

/** Assembles the participants' files into `output`; false when none has media. */
export async function assemble(ffmpeg: string, records: readonly ParticipantRecord[], output: string, uri: string, timeoutMs: number): Promise<boolean> {
  const inputs: AssemblyInput[] = [];
  for (const record of records) {
    try {
      const movie = readMovie(record.file);
      const tracks = movie.tracks.map((t) => t.type);
      if (tracks.includes('VIDEO') || tracks.includes('AUDIO')) inputs.push({ record, tracks });
    } catch {
      // a muxer that wrote nothing usable: that session is left out
    }
  }
  if (inputs.length === 0) return false;
  const exit = await runFfmpeg(ffmpeg, assembleArgs(inputs, output, uri, new Date()), timeoutMs);
  if (exit.code !== 0 || !(await isCompleteMp4(output))) {
    await fs.promises.rm(output, { force: true });
    throw new AssemblyError(`ffmpeg exit ${exit.code ?? exit.signal}: ${exit.stderrTail.slice(-3).join(' | ')}`);
  }
  return true;
}
