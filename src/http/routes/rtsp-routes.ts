import type { FastifyInstance } from 'fastify';
import type { RtspFindFilter, RtspStartupRequest } from '../../ingest/rtsp/rtsp-agent-manager.js';
import { RTSP_PULL_STATUSES } from '../../ingest/rtsp/rtsp-pull.js';
import { MAX_URI_LENGTH, RTSP_TRANSPORTS } from '../../ingest/rtsp/rtsp-uri.js';
import { HttpError } from '../http-error.js';
import { requireStreamName, requireText } from '../name-guard.js';
import { emptyAnswerSchema, emptyBodySchema, errorResponses } from '../schemas.js';
import { RtspConflictError, RtspLimitError, RtspRequestError, type RtspControl } from '../services/rtsp-control.js';

const uriSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_URI_LENGTH,
  description: 'rtsp:// or rtsps:// URI (scheme in any case); credentials as rtsp://user:password@host/path (percent-encode reserved characters)',
} as const;

const startupSchema = {
  type: 'object',
  required: ['uri'],
  additionalProperties: false,
  properties: {
    uri: uriSchema,
    toStream: { type: 'string', minLength: 1, maxLength: 255, description: 'stream name; default: the URI without its credentials' },
    record: { type: 'boolean', description: 'record this camera (true) or not (false); default: record_streams and record_rtsp_streams' },
    transport: { type: 'string', enum: [...RTSP_TRANSPORTS], description: 'RTSP transport; default: rtsp_transport' },
  },
} as const;

const findSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  description: 'Every field given must match; at least one field',
  properties: {
    uri: { ...uriSchema, description: 'the URI as started, with or without its credentials, or as find_all shows it' },
    status: { type: 'string', enum: [...RTSP_PULL_STATUSES] },
  },
} as const;

const terminateSchema = {
  type: 'object',
  required: ['uri'],
  additionalProperties: false,
  properties: { uri: findSchema.properties.uri },
} as const;

export const rtspAgentSchema = {
  type: 'object',
  description: 'One camera pull (RtspAgent); the URI never shows credentials',
  properties: {
    id: { type: 'string' },
    uri: { type: 'string', description: 'credentials masked: rtsp://***:***@host/path' },
    toStream: { type: 'string' },
    status: { type: 'string', enum: [...RTSP_PULL_STATUSES] },
    transport: { type: 'string', enum: [...RTSP_TRANSPORTS] },
    record: { type: ['boolean', 'null'], description: 'the startup record flag; null = server default' },
    mediaSessionId: { type: ['string', 'null'], description: 'the stream being published while PLAYING' },
    lastError: { type: ['string', 'null'], description: 'coarse on purpose (camera unreachable, stream lost, codec not supported); the detailed reason is in the server log' },
    retries: { type: 'integer', description: 'failed attempts since the camera last played' },
    sessions: { type: 'integer', description: 'media sessions begun (one per successful connection)' },
    createdDate: { type: 'integer' },
  },
} as const;

/** /rest-api/rtsp/*: pulling IP cameras (WCS RTSP agents). */
export function registerRtspRoutes(app: FastifyInstance, rtsp: RtspControl): void {
  app.post<{ Body: RtspStartupRequest }>(
    '/rest-api/rtsp/startup',
    {
      schema: {
        summary: 'Starts pulling a camera; its stream is published (mediaProvider RTSP) once media flows',
        body: startupSchema,
        response: { 200: rtspAgentSchema, ...errorResponses(400, 401, 409, 413, 503) },
      },
    },
    async (req) => {
      // the URI reaches ffmpeg's argv, the stream name files, hooks and logs: no control characters
      requireText(req.body.uri, 'uri', MAX_URI_LENGTH * 4);
      if (req.body.toStream !== undefined) requireStreamName(req.body.toStream, 'toStream');
      try {
        return rtsp.startup(req.body);
      } catch (err) {
        if (err instanceof RtspRequestError) throw new HttpError(400, err.message);
        if (err instanceof RtspConflictError) throw new HttpError(409, err.message);
        if (err instanceof RtspLimitError) throw new HttpError(503, err.message);
        throw err;
      }
    },
  );

  app.post(
    '/rest-api/rtsp/find_all',
    {
      schema: {
        summary: 'All camera pulls; 404 when none (as WCS)',
        body: emptyBodySchema,
        response: { 200: { type: 'array', items: rtspAgentSchema }, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async () => {
      const all = rtsp.find({});
      if (all.length === 0) throw new HttpError(404, 'No RTSP pulls');
      return all;
    },
  );

  app.post<{ Body: RtspFindFilter }>(
    '/rest-api/rtsp/find',
    {
      schema: {
        summary: 'Camera pulls matching uri and/or status; 404 when none',
        body: findSchema,
        response: { 200: { type: 'array', items: rtspAgentSchema }, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => {
      const found = rtsp.find(req.body);
      if (found.length === 0) throw new HttpError(404, 'No RTSP pull matches');
      return found;
    },
  );

  app.post<{ Body: { uri: string } }>(
    '/rest-api/rtsp/terminate',
    {
      schema: {
        summary: 'Stops pulling a camera; answers once its recording is finished',
        body: terminateSchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => {
      const stopped = await rtsp.terminate(req.body.uri);
      if (stopped.length === 0) throw new HttpError(404, 'No RTSP pull of that URI');
      return {};
    },
  );
}
