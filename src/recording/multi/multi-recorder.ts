import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Stream } from '../../streams/stream.js';
import { nameRecord, type NamingRules, type TemplateValues } from '../naming.js';
import { assemble } from './assemble.js';
import { multiRecorderStreamName, multiWorkFolderName } from './multi-uri.js';
import { readMovie } from './mp4-tracks.js';
import { Participant, type ParticipantRecord, type ParticipantSettings } from './participant.js';

export interface MultiRecorderSettings extends ParticipantSettings {
  readonly naming: NamingRules;
  /** multi_record_dir */
  readonly dir: string;
}

/** A finished multiple recording. */
export interface MultiRecordInfo {
  readonly uri: string;
  readonly fileName: string;
  readonly path: string;
  readonly durationMs: number;
  /** mvhd creation/modification time: seconds since 1904-01-01, as WCS passes it to the hook. */
  readonly creationModificationTime: number;
  readonly participants: number;
}

/** The stream is already recorded by this recorder (409). */
export class AlreadyAddedError extends Error {}
/** The stream is not in this recorder (404). */
export class NotAddedError extends Error {}

/** Hidden folder of a recorder's participant files, inside multi_record_dir. */
export const MULTI_WORK_PREFIX = '.multi-';

/**
 * {login} of a multiple recording's file name. A multiple recorder is
 * started over REST, with no client login; WCS fills {login} with
 * "mockLogin" there (its document's multiple recording with the default
 * template: `stream-32c7edd7-37bf-4bf2-a58d-955679c5287e-mockLogin.mp4`).
 */
export const MULTI_RECORDER_LOGIN = 'mockLogin';

/**
 * Template values of a multiple recording's file name (pure): {streamName}
 * from the URI, {mediaSessionId} the recorder's own id, {login}
 * MULTI_RECORDER_LOGIN, {startTime}/{endTime} -1 (each stream has its own
 * timestamps), {startTimeMillis}/{endTimeMillis} from the server clock.
 */
export function multiNameValues(recorder: MultiRecorderDescription, endTimeMillis?: number, durationMs?: number): TemplateValues {
  const values: TemplateValues = {
    streamName: multiRecorderStreamName(recorder.uri),
    mediaSessionId: recorder.mediaSessionId,
    login: MULTI_RECORDER_LOGIN,
    startTime: -1,
    endTime: -1,
    startTimeMillis: recorder.startTimeMillis,
  };
  if (endTimeMillis !== undefined) values.endTimeMillis = endTimeMillis;
  if (durationMs !== undefined) values.duration = durationMs;
  return values;
}

/**
 * Several streams into one MP4 (WCS multipleRecorder). Each add is a
 * participant session recorded to its own crash-safe file with its join and
 * leave times on the server clock; terminate() assembles them into one MP4
 * by stream copy, every session its own tracks with edit lists. Rotation is
 * off for multiple recordings.
 */
export class MultiRecorder {
  readonly startTimeMillis = Date.now();
  /** The recorder's own media session id ({mediaSessionId} of its file name). */
  readonly mediaSessionId = randomUUID();
  readonly workDir: string;
  readonly #active = new Map<string, Participant>();
  readonly #sessions: Participant[] = [];
  #terminating: Promise<MultiRecordInfo | null> | null = null;
  readonly log: Logger;

  constructor(
    readonly uri: string,
    private readonly settings: MultiRecorderSettings,
    log: Logger,
  ) {
    this.log = log.child({ multiRecorder: uri });
    this.workDir = path.join(settings.dir, multiWorkFolderName(MULTI_WORK_PREFIX, uri, this.startTimeMillis));
  }

  async start(): Promise<void> {
    await fs.promises.mkdir(this.workDir, { recursive: true });
    await fs.promises.writeFile(path.join(this.workDir, MULTI_DESCRIPTION_FILE), JSON.stringify(this.description));
    this.log.info({ workDir: this.workDir, mediaSessionId: this.mediaSessionId }, 'Multiple recorder started');
  }

  get description(): MultiRecorderDescription {
    return { uri: this.uri, mediaSessionId: this.mediaSessionId, startTimeMillis: this.startTimeMillis };
  }

  get terminated(): boolean {
    return this.#terminating !== null;
  }

  /** mediaSessionIds of the streams being recorded now, in join order. */
  get mediaSessionIds(): string[] {
    return [...this.#active.values()].filter((p) => !p.finished).map((p) => p.mediaSessionId);
  }

  /** Sessions whose video is being encoded to H.264 now (until their muxer has exited). */
  get transcodingNow(): number {
    return this.#sessions.filter((p) => p.transcodes && !p.done).length;
  }

  /**
   * The file name as find_all shows it while recording: the name the file
   * will get, except {endTimeMillis} and {duration}, not known yet, which
   * stay literal (as /recorder/find_all shows them).
   */
  get currentFileName(): string {
    return nameRecord(this.settings.naming, multiNameValues(this.description), 'keep', 'mp4', null);
  }

  has(mediaSessionId: string): boolean {
    return this.#active.get(mediaSessionId)?.finished === false;
  }

  add(stream: Stream): void {
    // a session that ended on its own (muxer too slow, codec refused) no longer holds the stream
    if (this.#active.get(stream.mediaSessionId)?.finished) this.#active.delete(stream.mediaSessionId);
    if (this.#active.has(stream.mediaSessionId)) {
      throw new AlreadyAddedError(`Stream ${stream.mediaSessionId} is already added to ${this.uri}`);
    }
    const number = this.#sessions.length + 1;
    const participant = new Participant(number, stream, path.join(this.workDir, `participant-${number}.mp4`), this.settings, this.log, (p) => {
      if (this.#active.get(p.mediaSessionId) === p) this.#active.delete(p.mediaSessionId);
      void p.finish('stream ended');
    });
    this.#active.set(stream.mediaSessionId, participant);
    this.#sessions.push(participant);
    participant.start();
    this.log.info(
      { stream: stream.name, mediaSessionId: stream.mediaSessionId, participant: number, videoCodec: stream.media.videoCodec, transcodes: participant.transcodes },
      'Stream added to the multiple recorder',
    );
  }

  async remove(mediaSessionId: string): Promise<void> {
    const participant = this.#active.get(mediaSessionId);
    if (!participant || participant.finished) throw new NotAddedError(`Stream ${mediaSessionId} is not in ${this.uri}`);
    this.#active.delete(mediaSessionId);
    await participant.finish('removed by REST');
  }

  /** Ends every session and assembles the file; null when nothing was recorded. */
  terminate(reason: string): Promise<MultiRecordInfo | null> {
    if (!this.#terminating) this.#terminating = this.#terminate(reason);
    return this.#terminating;
  }

  async #terminate(reason: string): Promise<MultiRecordInfo | null> {
    this.log.info({ reason, sessions: this.#sessions.length }, 'Multiple recorder finishing');
    this.#active.clear();
    const records = (await Promise.all(this.#sessions.map((p) => p.finish(reason)))).filter((r): r is ParticipantRecord => r !== null);
    return finishMultiRecording(this.description, records, this.workDir, this.settings, this.log);
  }
}

/** The description of a recorder written in its work folder (crash recovery). */
export interface MultiRecorderDescription {
  readonly uri: string;
  /** The recorder's own id; folders written before it was kept get a new one on recovery. */
  readonly mediaSessionId: string;
  readonly startTimeMillis: number;
}

export const MULTI_DESCRIPTION_FILE = 'recorder.json';

/**
 * Assembles the participants' files of a recorder into one MP4 in
 * multi_record_dir, named by the template; the work folder is removed once
 * the file is in place. Null when nothing was recorded. Used by terminate
 * and by the recovery of recorders a crash interrupted.
 */
export async function finishMultiRecording(
  recorder: MultiRecorderDescription,
  records: readonly ParticipantRecord[],
  workDir: string,
  settings: MultiRecorderSettings,
  log: Logger,
): Promise<MultiRecordInfo | null> {
  const endTimeMillis = Date.now();
  const uri = recorder.uri;
  try {
    const staged = path.join(workDir, 'assembled.mp4');
    const made = await assemble(settings.ffmpeg, records, staged, uri, settings.stopTimeoutMs * 4);
    if (!made) {
      log.info('Multiple recording ended with no media; no file');
      await fs.promises.rm(workDir, { recursive: true, force: true });
      return null;
    }
    const movie = readMovie(staged);
    const values = multiNameValues(recorder, endTimeMillis, movie.durationMs);
    const fileName = freeName(settings, values);
    const dest = path.join(settings.dir, fileName);
    await fs.promises.rename(staged, dest);
    const info: MultiRecordInfo = {
      uri,
      fileName,
      path: dest,
      durationMs: movie.durationMs,
      creationModificationTime: movie.modificationTime,
      participants: records.length,
    };
    log.info({ file: dest, durationMs: info.durationMs, participants: records.length, tracks: movie.tracks.length }, 'Multiple recording done');
    await fs.promises.rm(workDir, { recursive: true, force: true });
    return info;
  } catch (err) {
    // the participants' files stay in the work folder: nothing recorded is lost
    log.error({ err: (err as Error).message, workDir }, 'Multiple recording could not be assembled; participant files kept');
    throw err;
  }
}

/** The template's name, or with _2, _3, ... when a file of that name exists (templates without times repeat). */
function freeName(settings: MultiRecorderSettings, values: TemplateValues): string {
  let index: number | null = null;
  for (;;) {
    const name = nameRecord(settings.naming, values, 'empty', 'mp4', index);
    if (!fs.existsSync(path.join(settings.dir, name))) return name;
    index = (index ?? 1) + 1;
  }
}
