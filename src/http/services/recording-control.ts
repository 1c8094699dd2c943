import type { Logger } from 'pino';
import { NotPublishingError, PauseStateError, TranscodeLimitError, type RecorderManager, type RecordingInProgress } from '../../recording/recorder-manager.js';
import { RecordOptionsError } from '../../recording/record-options.js';
import type { Preset } from '../../recording/presets.js';
import type { FinishedRecord, RecordsFindBody } from './records-control.js';
import type { StreamRegistry } from '../../streams/stream-registry.js';
import { recordingOverridesOf, type StartupConfig } from '../recording-config.js';

/** No published stream has this mediaSessionId (404). */
export class UnknownSessionError extends Error {}
/** Nothing is being recorded for this mediaSessionId (404). */
export class NotRecordingError extends Error {}
export { NotPublishingError, PauseStateError, RecordOptionsError, TranscodeLimitError };
export { RecordingConfigError } from '../recording-config.js';

/** The filters of /recorder/find_records: those of /records/find (every field given must match). */
export type RecordFilter = RecordsFindBody;

/** Where the finished records come from (the record catalog). */
export interface FinishedRecordSource {
  finishedRecords(filter: RecordFilter): Promise<FinishedRecord[]>;
}

/** Recording on demand (/recorder/*) and the finished records, over the recorder manager and the record catalog. */
export class RecordingControl {
  constructor(
    private readonly registry: StreamRegistry,
    private readonly recorders: RecorderManager,
    private readonly catalog: FinishedRecordSource,
    private readonly log: Logger,
    /** The transcoding presets (built-in + conf/recording_presets.json). */
    readonly presets: readonly Preset[] = [],
  ) {}

  /**
   * Starts recording a published stream with the given settings over the
   * server's; its current recording, if any, is finished first.
   * Throws UnknownSessionError, RecordingConfigError, RecordOptionsError
   * (options that do not fit the stream's codecs), TranscodeLimitError or
   * NotPublishingError.
   */
  async startup(mediaSessionId: string, config: StartupConfig | undefined): Promise<void> {
    const overrides = recordingOverridesOf(config, this.presets);
    const stream = this.registry.byMediaSessionId(mediaSessionId);
    if (!stream) throw new UnknownSessionError(`No published stream with mediaSessionId ${mediaSessionId}`);
    this.log.info({ stream: stream.name, mediaSessionId, config: config ?? {} }, 'Recording requested by REST');
    await this.recorders.startRecording(mediaSessionId, overrides);
  }

  /** Finishes the recording of a stream (file moved, hook started). Throws NotRecordingError. */
  async terminate(mediaSessionId: string): Promise<void> {
    const result = await this.recorders.stopRecording(mediaSessionId);
    if (result === undefined) throw new NotRecordingError(`No recording in progress for mediaSessionId ${mediaSessionId}`);
  }

  /** Pauses a recording. Throws NotRecordingError (404) or PauseStateError (409: already paused, finishing). */
  async pause(mediaSessionId: string): Promise<void> {
    const recorder = await this.recorders.pauseRecording(mediaSessionId);
    if (!recorder) throw new NotRecordingError(`No recording in progress for mediaSessionId ${mediaSessionId}`);
  }

  /** Resumes a paused recording at the next keyframe. Throws NotRecordingError (404) or PauseStateError (409: not paused, finishing). */
  async resume(mediaSessionId: string): Promise<void> {
    const recorder = await this.recorders.resumeRecording(mediaSessionId);
    if (!recorder) throw new NotRecordingError(`No recording in progress for mediaSessionId ${mediaSessionId}`);
  }

  inProgress(): RecordingInProgress[] {
    return this.recorders.inProgress();
  }

  /** Throws TimeBoundError for a bad from/to. */
  async finishedRecords(filter: RecordFilter): Promise<FinishedRecord[]> {
    return this.catalog.finishedRecords(filter);
  }
}
