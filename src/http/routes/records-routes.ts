import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { UploadRow } from '../../storage/upload-store.js';
import { uploadJson, uploadSchema } from './storage-routes.js';
import { RECORD_PROVIDERS, RECORD_STATES, type CatalogRecord } from '../../catalog/catalog.js';
import { downloadUrlOf } from '../download-url.js';
import { HttpError } from '../http-error.js';
import { errorResponses, mediaSessionIdSchema, pauseSchema } from '../schemas.js';
import type { RecordsControl, RecordsFindBody } from '../services/records-control.js';
import { TimeBoundError } from '../time-bound.js';

const timeBoundSchema = {
  type: ['integer', 'string'],
  maxLength: 40,
  description: 'epoch ms, or an ISO 8601 time such as 2026-12-06T20:00:00Z',
} as const;

/** The filters shared by /records/find and /recorder/find_records. */
export const recordFilterProperties = {
  streamName: { type: 'string', minLength: 1, maxLength: 255 },
  mediaSessionId: mediaSessionIdSchema,
  fileName: { type: 'string', minLength: 1, maxLength: 255 },
  provider: { type: 'string', enum: [...RECORD_PROVIDERS] },
  from: { ...timeBoundSchema, description: 'records ending after this time (epoch ms or ISO 8601)' },
  to: { ...timeBoundSchema, description: 'records starting before this time (epoch ms or ISO 8601)' },
  state: {
    anyOf: [
      { type: 'string', enum: [...RECORD_STATES] },
      { type: 'array', items: { type: 'string', enum: [...RECORD_STATES] }, maxItems: RECORD_STATES.length },
    ],
    description: 'default: recording, finished, recovered, broken (files on disk)',
  },
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
  limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'default 100' },
  sort: { type: 'string', enum: ['start', '-start', 'end', '-end'], description: 'default start (oldest first)' },
} as const;

const findSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  description: 'Every field given must match; none = every record on disk',
  properties: recordFilterProperties,
} as const;

const catalogRecordSchema = {
  type: 'object',
  properties: {
    fileName: { type: 'string' },
    streamName: { type: ['string', 'null'] },
    mediaSessionId: { type: ['string', 'null'] },
    provider: { type: 'string' },
    login: { type: 'string' },
    startTimeMillis: { type: 'integer' },
    endTimeMillis: { type: ['integer', 'null'], description: 'null while recording' },
    duration: { type: ['integer', 'null'], description: 'ms' },
    size: { type: 'integer' },
    container: { type: 'string' },
    videoCodec: { type: 'string' },
    audioCodec: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    part: { type: 'integer' },
    state: { type: 'string' },
    pinned: { type: 'boolean' },
    deletedAt: { type: ['integer', 'null'] },
    deletedReason: { type: ['string', 'null'] },
    pauses: { type: 'array', items: pauseSchema, description: 'pauses inside the record (absent when none)' },
    nodeId: { type: 'string', description: 'the node (node_id) whose disk holds the file; any node serves its downloadUrl (docs/cluster.md)' },
    downloadUrl: { type: ['string', 'null'], description: 'null when the file cannot be downloaded (being written, deleted, outside record_dir)' },
    upload: uploadSchema,
  },
} as const;

const timelineSchema = {
  type: 'object',
  required: ['streamName'],
  additionalProperties: false,
  properties: {
    streamName: { type: 'string', minLength: 1, maxLength: 255 },
    from: timeBoundSchema,
    to: timeBoundSchema,
  },
} as const;

const fileNameBody = {
  type: 'object',
  required: ['fileName'],
  additionalProperties: false,
  properties: { fileName: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

const pinBody = {
  type: 'object',
  required: ['fileName', 'pinned'],
  additionalProperties: false,
  properties: { fileName: { type: 'string', minLength: 1, maxLength: 255 }, pinned: { type: 'boolean' } },
} as const;

const spanList = {
  type: 'array',
  items: { type: 'object', properties: { start: { type: 'integer' }, end: { type: 'integer' }, fileName: { type: 'string' } } },
} as const;

function recordJson(
  req: FastifyRequest,
  r: CatalogRecord,
  recordDir: string,
  publicBaseUrl: string,
  localNode: string,
  upload: UploadRow | undefined,
): Record<string, unknown> {
  // another node's record: its own record_dir is not known here, and that node decides (any node proxies the download)
  const inRecordDir = r.nodeId !== localNode || path.resolve(r.dir) === path.resolve(recordDir);
  const downloadable = (r.state === 'finished' || r.state === 'recovered' || r.state === 'broken' || r.state === 'remote') && inRecordDir;
  return {
    fileName: r.fileName,
    streamName: r.streamName,
    mediaSessionId: r.mediaSessionId,
    provider: r.provider,
    login: r.login,
    startTimeMillis: r.startMs,
    endTimeMillis: r.endMs,
    duration: r.durationMs,
    size: r.size,
    container: r.container,
    videoCodec: r.videoCodec,
    audioCodec: r.audioCodec,
    width: r.width,
    height: r.height,
    part: r.part,
    state: r.state,
    pinned: r.pinned,
    deletedAt: r.deletedAt,
    deletedReason: r.deletedReason,
    ...(r.pauses ? { pauses: r.pauses } : {}),
    nodeId: r.nodeId,
    downloadUrl: downloadable ? downloadUrlOf(publicBaseUrl, req.protocol, req.host, r.fileName) : null,
    upload: upload ? uploadJson(upload) : null,
  };
}

function badTime(err: unknown): never {
  if (err instanceof TimeBoundError) throw new HttpError(400, err.message);
  throw err;
}

/** /rest-api/records/*: the record catalog (docs/catalog.md). */
export function registerRecordsRoutes(app: FastifyInstance, records: RecordsControl, options: { publicBaseUrl: string }): void {
  app.post<{ Body: RecordsFindBody | null }>(
    '/rest-api/records/find',
    {
      schema: {
        summary: 'Records in the catalog matching filters, a page at a time; records overlapping from/to',
        body: findSchema,
        response: {
          200: { type: 'object', properties: { total: { type: 'integer' }, records: { type: 'array', items: catalogRecordSchema } } },
          ...errorResponses(400, 401, 413),
        },
      },
    },
    async (req) => {
      const found = await records.find(req.body ?? {}).catch(badTime);
      const uploads = await records.uploadsOf(found.records);
      return {
        total: found.total,
        records: found.records.map((r) => recordJson(req, r, records.recordDir, options.publicBaseUrl, records.nodeId, uploads.get(r.fileName))),
      };
    },
  );
  app.post<{ Body: { streamName: string; from?: number | string; to?: number | string } }>(
    '/rest-api/records/timeline',
    {
      schema: {
        summary: 'Recorded spans (one per part) and the gaps between them of one stream, epoch ms',
        body: timelineSchema,
        response: {
          200: { type: 'object', properties: { streamName: { type: 'string' }, spans: spanList, gaps: spanList } },
          ...errorResponses(400, 401, 413),
        },
      },
    },
    async (req) => {
      const t = await records.timeline(req.body.streamName, req.body.from, req.body.to).catch(badTime);
      return { streamName: req.body.streamName, spans: t.spans, gaps: t.gaps };
    },
  );
  app.post<{ Body: { fileName: string } }>(
    '/rest-api/records/delete',
    {
      schema: {
        summary: 'Deletes a record file; its row is kept as deleted. 409 while it is being written or pinned',
        body: fileNameBody,
        response: { 200: { type: 'object', properties: {}, additionalProperties: false }, ...errorResponses(400, 401, 404, 409, 413) },
      },
    },
    async (req) => {
      const outcome = await records.delete(req.body.fileName);
      if (outcome === 'unknown') throw new HttpError(404, `Record '${req.body.fileName}' not found`);
      if (outcome === 'in-progress') throw new HttpError(409, `Record '${req.body.fileName}' is being recorded`);
      if (outcome === 'pinned') throw new HttpError(409, `Record '${req.body.fileName}' is pinned; unpin it first`);
      if (typeof outcome === 'object') {
        throw new HttpError(409, `Record '${req.body.fileName}' is held by node '${outcome.otherNode}': delete it there (each node deletes only files on its own disk)`);
      }
      return {};
    },
  );
  app.post<{ Body: { fileName: string; pinned: boolean } }>(
    '/rest-api/records/pin',
    {
      schema: {
        summary: 'Pins (or unpins) a record: retention never deletes a pinned record',
        body: pinBody,
        response: { 200: catalogRecordSchema, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => {
      const row = await records.pin(req.body.fileName, req.body.pinned);
      if (!row) throw new HttpError(404, `Record '${req.body.fileName}' not found`);
      return recordJson(req, row, records.recordDir, options.publicBaseUrl, records.nodeId, (await records.uploadsOf([row])).get(row.fileName));
    },
  );
}
