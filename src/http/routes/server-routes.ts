import type { FastifyInstance } from 'fastify';
import type { EventLoopDelay } from '../../util/event-loop-monitor.js';
import type { SlabPoolStats } from '../../util/slab-pool.js';
import { errorResponses } from '../schemas.js';

export interface ServerStats {
  readonly version: string;
  readonly uptimeSeconds: number;
  /** Streams being published now. */
  readonly streams: number;
  /** Single-stream recordings in progress. */
  readonly recordings: number;
  readonly eventLoopDelay: EventLoopDelay;
  /** Record hooks (single and multiple) that could not be started or exited non-zero since start-up. */
  readonly failedHooks: number;
  readonly memory: { readonly rssBytes: number; readonly heapUsedBytes: number };
  /** The RTMP ingest's slab pool (util/slab-pool.ts): slabs allocated and reused since start, free now, releases of a slab nobody held (a bug: 0). */
  readonly rtmpSlabs: SlabPoolStats;
}

/** Slower figures for the console (statfs per folder), read on each call. */
export interface ServerDetails {
  readonly disks: readonly { readonly name: string; readonly path: string; readonly freeBytes: number | null; readonly totalBytes: number | null }[];
  readonly retention: { readonly maxAgeSeconds: number; readonly maxSizeBytes: number; readonly minFreeBytes: number; readonly checkIntervalSeconds: number };
  /** What does the work: webrtc engine, record muxer. */
  readonly engines: Readonly<Record<string, string>>;
}

export interface ServerStatsSource {
  /** reset: start the event-loop figures afresh after reading them. */
  stats(reset: boolean): ServerStats;
  details?(): Promise<ServerDetails>;
}

const delaySchema = {
  type: 'object',
  properties: {
    meanMs: { type: 'number' },
    p50Ms: { type: 'number' },
    p99Ms: { type: 'number' },
    maxMs: { type: 'number' },
    sinceMs: { type: 'number' },
  },
} as const;

/** /rest-api/server/stats: what a monitor (or the benchmark) needs to see whether the daemon keeps up. */
export function registerServerRoutes(app: FastifyInstance, source: ServerStatsSource): void {
  app.post<{ Body: { reset?: boolean } | null }>(
    '/rest-api/server/stats',
    {
      schema: {
        summary: 'Daemon figures: streams, recordings, event-loop delay (ms), memory; {"reset": true} restarts the delay figures',
        body: { type: ['object', 'null'], additionalProperties: false, properties: { reset: { type: 'boolean' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              uptimeSeconds: { type: 'number' },
              streams: { type: 'integer' },
              recordings: { type: 'integer' },
              eventLoopDelay: delaySchema,
              failedHooks: { type: 'integer', description: 'record hooks that could not be started or exited non-zero since start-up' },
              memory: { type: 'object', properties: { rssBytes: { type: 'integer' }, heapUsedBytes: { type: 'integer' } } },
              rtmpSlabs: {
                type: 'object',
                description: 'RTMP read memory: 256 KiB slabs allocated and reused since start, free now, releases of a slab nobody held (should stay 0)',
                properties: {
                  allocated: { type: 'integer' },
                  reused: { type: 'integer' },
                  free: { type: 'integer' },
                  inUse: { type: 'integer' },
                  dropped: { type: 'integer' },
                  overReleased: { type: 'integer' },
                },
              },
              disks: {
                type: 'array',
                description: 'free space per folder (record_dir, record_tmp_dir, multi_record_dir)',
                items: {
                  type: 'object',
                  properties: { name: { type: 'string' }, path: { type: 'string' }, freeBytes: { type: ['integer', 'null'] }, totalBytes: { type: ['integer', 'null'] } },
                },
              },
              retention: {
                type: 'object',
                description: 'record_retention_* settings; 0 = off',
                properties: {
                  maxAgeSeconds: { type: 'number' },
                  maxSizeBytes: { type: 'number' },
                  minFreeBytes: { type: 'number' },
                  checkIntervalSeconds: { type: 'number' },
                },
              },
              engines: { type: 'object', additionalProperties: { type: 'string' }, description: 'webrtc engine and record muxer in use' },
            },
          },
          ...errorResponses(400, 401, 413),
        },
      },
    },
    async (req) => {
      const stats = source.stats(req.body?.reset === true);
      return source.details ? { ...stats, ...(await source.details()) } : stats;
    },
  );
}
