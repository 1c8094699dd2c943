import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../http-error.js';
import { requireStreamName, requireText } from '../name-guard.js';
import { MAX_FILE_NAME_BYTES } from '../../recording/naming.js';
import { downloadUrlOf } from '../download-url.js';
import { TimeBoundError } from '../time-bound.js';
import { recordFilterProperties } from './records-routes.js';
import { MAX_LENGTH_SECONDS, type StartupConfig } from '../recording-config.js';
import { emptyAnswerSchema, emptyBodySchema, errorResponses, mediaSessionIdSchema, pauseSchema } from '../schemas.js';
import { DiskSpaceError } from '../../recording/recorder-manager.js';
import { PRESET_CONTAINERS } from '../../recording/presets.js';
import {
  NotPublishingError,
  NotRecordingError,
  PauseStateError,
  RecordingConfigError,
  RecordOptionsError,
  TranscodeLimitError,
  UnknownSessionError,
  type RecordFilter,
  type RecordingControl,
} from '../services/recording-control.js';

interface StartupBody {
  mediaSessionId: string;
  config?: StartupConfig;
}

const startupSchema = {
  type: 'object',
  required: ['mediaSessionId'],
  additionalProperties: false,
  properties: {
    mediaSessionId: mediaSessionIdSchema,
    config: {
      type: 'object',
      additionalProperties: false,
      description: 'Settings for this recording over the server ones',
      properties: {
        fileTemplate: { type: 'string', minLength: 1, maxLength: 255, description: 'as stream_record_policy_template' },
        rotation: { type: 'string', maxLength: 16, description: "as record_rotation: '20' (seconds), '10M' (megabytes), 'disabled'" },
        format: { type: 'string', enum: ['mp4', 'mkv', 'webm', 'ts'], description: "container; checked against the stream's codecs (H.264 into webm only with a VP9/AV1 preset)" },
        audio: { type: 'boolean', description: 'false leaves the audio track out' },
        video: { type: 'boolean', description: 'false leaves the video track out (not with audio false too)' },
        maxLength: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: MAX_LENGTH_SECONDS,
          description: 'seconds of recorded media; the recording stops there (file finished, hook run), as record_max_length',
        },
        preset: { type: 'string', minLength: 1, maxLength: 64, description: 'transcoding preset name (GET /rest-api/recorder/presets); none = nothing transcoded' },
      },
    },
  },
} as const;

const sessionSchema = {
  type: 'object',
  required: ['mediaSessionId'],
  additionalProperties: false,
  properties: { mediaSessionId: mediaSessionIdSchema },
} as const;

const recordFilterSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  description: 'Every field given must match; none = all records (the filters of /records/find)',
  properties: recordFilterProperties,
} as const;

const finishedRecordSchema = {
  type: 'object',
  properties: {
    fileName: { type: 'string' },
    mediaSessionId: { type: ['string', 'null'], description: 'null for a file this daemon did not record' },
    streamName: { type: ['string', 'null'] },
    size: { type: 'integer', description: 'bytes' },
    startTimeMillis: { type: 'integer', description: 'server clock, ms since the epoch' },
    endTimeMillis: { type: 'integer' },
    duration: { type: ['integer', 'null'], description: 'ms' },
    pauses: { type: 'array', items: pauseSchema, description: 'pauses inside the record (absent when none)' },
    downloadUrl: { type: 'string' },
  },
} as const;

const inProgressSchema = {
  type: 'object',
  properties: {
    fileName: { type: 'string' },
    mediaSessionId: { type: 'string' },
    state: { type: 'string', enum: ['RECORDING', 'PAUSED', 'FINISHING'], description: 'RECORDING also while a resumed recording waits for the keyframe it continues at' },
    file: { type: ['string', 'null'], description: 'the hidden temp file being written (in record_tmp_dir); null between parts' },
    size: { type: ['integer', 'null'], description: 'bytes of that file so far (MP4: its moov reserve included)' },
    durationMs: { type: 'integer', description: 'media time recorded so far, ms: every part, pauses left out' },
    streamTimestampMs: { type: 'integer', description: "the stream's own timestamp of the last media seen, ms (-1 before any)" },
    pauses: { type: 'array', items: pauseSchema },
  },
} as const;

function downloadUrl(req: FastifyRequest, publicBaseUrl: string, fileName: string): string {
  return downloadUrlOf(publicBaseUrl, req.protocol, req.host, fileName);
}

export interface RecorderRoutesOptions {
  /** record_public_base_url; '' = the request's scheme and host. */
  readonly publicBaseUrl: string;
}

/** /rest-api/recorder/* and the /stream/startRecording, /stream/stopRecording aliases. */
export function registerRecorderRoutes(app: FastifyInstance, recording: RecordingControl, options: RecorderRoutesOptions = { publicBaseUrl: '' }): void {
  const startup = async (body: StartupBody): Promise<Record<string, never>> => {
    if (body.config?.fileTemplate !== undefined) requireText(body.config.fileTemplate, 'config.fileTemplate', MAX_FILE_NAME_BYTES);
    try {
      await recording.startup(body.mediaSessionId, body.config);
    } catch (err) {
      if (err instanceof RecordingConfigError || err instanceof RecordOptionsError) throw new HttpError(400, err.message);
      if (err instanceof TranscodeLimitError) throw new HttpError(503, err.message);
      if (err instanceof UnknownSessionError) throw new HttpError(404, err.message);
      if (err instanceof NotPublishingError) throw new HttpError(409, err.message);
      if (err instanceof DiskSpaceError) throw new HttpError(507, err.message);
      throw err;
    }
    return {};
  };
  const terminate = async (body: { mediaSessionId: string }): Promise<Record<string, never>> => {
    try {
      await recording.terminate(body.mediaSessionId);
    } catch (err) {
      if (err instanceof NotRecordingError) throw new HttpError(404, err.message);
      throw err;
    }
    return {};
  };
  for (const url of ['/rest-api/recorder/startup', '/rest-api/stream/startRecording']) {
    app.post<{ Body: StartupBody }>(
      url,
      {
        schema: {
          summary: 'Starts recording a published stream (its current recording is finished first)',
          body: startupSchema,
          response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 409, 413, 503, 507) },
        },
      },
      async (req) => startup(req.body),
    );
  }
  for (const url of ['/rest-api/recorder/terminate', '/rest-api/stream/stopRecording']) {
    app.post<{ Body: { mediaSessionId: string } }>(
      url,
      {
        schema: {
          summary: 'Finishes a recording; answers once the file is finished and moved (or record_stop_timeout passed)',
          body: sessionSchema,
          response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 413) },
        },
      },
      async (req) => terminate(req.body),
    );
  }
  app.get(
    '/rest-api/recorder/presets',
    {
      schema: {
        summary: 'Transcoding presets a recording may name in config.preset (built-in, and conf/recording_presets.json)',
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                codec: { type: 'string', enum: ['h264', 'vp9', 'av1'] },
                width: { type: 'integer' },
                height: { type: 'integer' },
                frameRate: { type: 'number' },
                videoBitrateKbps: { type: 'integer' },
                keyframeIntervalSeconds: { type: 'number' },
                audioBitrateKbps: { type: 'integer', description: 'when the audio is encoded for the container (AAC, or Opus in WebM)' },
                containers: { type: 'array', items: { type: 'string' }, description: 'formats that hold its video' },
                source: { type: 'string', enum: ['built-in', 'file'] },
              },
            },
          },
          ...errorResponses(401),
        },
      },
    },
    async () => recording.presets.map((p) => ({ ...p, containers: [...PRESET_CONTAINERS[p.codec]] })),
  );
  app.post(
    '/rest-api/recorder/find_all',
    {
      schema: {
        summary: 'Recordings in progress; 404 when there are none (as WCS)',
        body: emptyBodySchema,
        response: {
          200: {
            type: 'array',
            items: inProgressSchema,
          },
          ...errorResponses(400, 401, 404, 413),
        },
      },
    },
    async () => {
      const list = recording.inProgress();
      if (list.length === 0) throw new HttpError(404, 'No recordings in progress');
      return Promise.all(
        list.map(async ({ part, ...r }) => ({
          ...r,
          file: part ? path.basename(part.tmpFile) : null,
          size: part ? await fs.promises.stat(part.tmpFile).then((st) => st.size, () => null) : null,
        })),
      );
    },
  );
  const pauseOrResume = async (what: 'pause' | 'resume', body: { mediaSessionId: string }): Promise<Record<string, never>> => {
    try {
      await recording[what](body.mediaSessionId);
    } catch (err) {
      if (err instanceof NotRecordingError) throw new HttpError(404, err.message);
      if (err instanceof PauseStateError) throw new HttpError(409, err.message);
      throw err;
    }
    return {};
  };
  app.post<{ Body: { mediaSessionId: string } }>(
    '/rest-api/recorder/pause',
    {
      schema: {
        summary: 'Pauses a recording: nothing is written until resumed (not in WCS); 409 when already paused or finishing',
        body: sessionSchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 409, 413) },
      },
    },
    async (req) => pauseOrResume('pause', req.body),
  );
  app.post<{ Body: { mediaSessionId: string } }>(
    '/rest-api/recorder/resume',
    {
      schema: {
        summary: 'Resumes a paused recording into the same file at the next keyframe, timestamps continuous (not in WCS); 409 when not paused',
        body: sessionSchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 409, 413) },
      },
    },
    async (req) => pauseOrResume('resume', req.body),
  );
  app.post(
    '/rest-api/recorder/progress',
    {
      schema: {
        summary: 'Recordings in progress with the size and start of their current part (not in WCS); [] when none',
        body: emptyBodySchema,
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                fileName: { type: 'string' },
                mediaSessionId: { type: 'string' },
                size: { type: ['integer', 'null'], description: 'bytes written so far to the current part (MP4: its moov reserve included); null between parts' },
                startTimeMillis: { type: ['integer', 'null'], description: 'when the current part started, ms since the epoch' },
                state: { type: 'string', enum: ['RECORDING', 'PAUSED', 'FINISHING'] },
                durationMs: { type: 'integer', description: 'media time recorded so far, ms (pauses left out)' },
              },
            },
          },
          ...errorResponses(400, 401, 413),
        },
      },
    },
    async () =>
      Promise.all(
        recording.inProgress().map(async ({ part, ...r }) => ({
          ...r,
          size: part ? await fs.promises.stat(part.tmpFile).then((st) => st.size, () => null) : null,
          startTimeMillis: part ? part.startTimeMillis : null,
        })),
      ),
  );
  app.post<{ Body: RecordFilter | null }>(
    '/rest-api/recorder/find_records',
    {
      schema: {
        summary: 'Finished records in record_dir (not in WCS); 404 when none match',
        body: recordFilterSchema,
        response: { 200: { type: 'array', items: finishedRecordSchema }, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => {
      if (req.body?.streamName !== undefined) requireStreamName(req.body.streamName, 'streamName');
      if (req.body?.fileName !== undefined) requireText(req.body.fileName, 'fileName', MAX_FILE_NAME_BYTES);
      const records = await recording.finishedRecords(req.body ?? {}).catch((err: unknown) => {
        if (err instanceof TimeBoundError) throw new HttpError(400, err.message);
        throw err;
      });
      if (records.length === 0) throw new HttpError(404, 'No finished records match');
      return records.map((r) => ({ ...r, downloadUrl: downloadUrl(req, options.publicBaseUrl, r.fileName) }));
    },
  );
}
