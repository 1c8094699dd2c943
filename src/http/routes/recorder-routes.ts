import type { FastifyInstance } from 'fastify';
import { DiskSpaceError, NotPublishingError, type RecorderManager } from '../../recording/recorder-manager.js';
import type { StreamRegistry } from '../../streams/stream-registry.js';
import { HttpError } from '../http-error.js';

interface StartupBody {
  mediaSessionId: string;
  config?: { fileTemplate?: string };
}

const startupSchema = {
  type: 'object',
  required: ['mediaSessionId'],
  additionalProperties: false,
  properties: {
    mediaSessionId: { type: 'string', minLength: 1, maxLength: 64 },
    config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        fileTemplate: { type: 'string', minLength: 1, maxLength: 255 },
      },
    },
  },
} as const;

const sessionSchema = {
  type: 'object',
  required: ['mediaSessionId'],
  additionalProperties: false,
  properties: { mediaSessionId: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

/** /rest-api/recorder/* and the /stream/startRecording, /stream/stopRecording aliases. */
export function registerRecorderRoutes(app: FastifyInstance, registry: StreamRegistry, recorders: RecorderManager): void {
  const startup = async (body: StartupBody): Promise<Record<string, never>> => {
    const stream = registry.byMediaSessionId(body.mediaSessionId);
    if (!stream) throw new HttpError(404, `No stream with mediaSessionId ${body.mediaSessionId}`);
    try {
      await recorders.startRecording(body.mediaSessionId, { fileTemplate: body.config?.fileTemplate });
    } catch (err) {
      if (err instanceof NotPublishingError) throw new HttpError(409, err.message);
      if (err instanceof DiskSpaceError) throw new HttpError(507, err.message);
      throw err;
    }
    return {};
  };
  const terminate = async (body: { mediaSessionId: string }): Promise<Record<string, never>> => {
    const result = await recorders.stopRecording(body.mediaSessionId);
    if (result === undefined) throw new HttpError(404, `No recording in progress for mediaSessionId ${body.mediaSessionId}`);
    return {};
  };
  for (const url of ['/rest-api/recorder/startup', '/rest-api/stream/startRecording']) {
    app.post<{ Body: StartupBody }>(url, { schema: { body: startupSchema } }, async (req) => startup(req.body));
  }
  for (const url of ['/rest-api/recorder/terminate', '/rest-api/stream/stopRecording']) {
    app.post<{ Body: { mediaSessionId: string } }>(url, { schema: { body: sessionSchema } }, async (req) => terminate(req.body));
  }
  app.post(
    '/rest-api/recorder/find_all',
    {
      schema: {
        body: { type: ['object', 'null'] },
        response: {
          200: {
            type: 'array',
            items: { type: 'object', properties: { fileName: { type: 'string' }, mediaSessionId: { type: 'string' } } },
          },
        },
      },
    },
    async () => {
      const list = recorders.inProgress();
      if (list.length === 0) throw new HttpError(404, 'No recordings in progress');
      return list;
    },
  );
}
