import type { FastifyInstance } from 'fastify';
import type { StreamFilter } from '../../streams/stream-filter.js';
import { HttpError } from '../http-error.js';
import { requireStreamName } from '../name-guard.js';
import { emptyAnswerSchema, emptyBodySchema, errorResponses, streamFilterSchema, streamSchema } from '../schemas.js';
import type { StreamControl } from '../services/stream-control.js';
import type { ClusterView } from '../../cluster/cluster-view.js';

const findAllBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { cluster: { type: 'boolean', description: 'true: the live streams of every alive node, each with its nodeId (docs/cluster.md)' } },
} as const;

const clusterStreamSchema = {
  ...streamSchema,
  properties: { ...streamSchema.properties, nodeId: { type: 'string', description: 'with {"cluster": true}: the node the stream is published on' } },
} as const;

/** /rest-api/stream/*: the published streams, WCS field names. */
export function registerStreamRoutes(app: FastifyInstance, streams: StreamControl, cluster?: ClusterView): void {
  app.post<{ Body: { cluster?: boolean } | null }>(
    '/rest-api/stream/find_all',
    {
      schema: {
        summary: 'All published streams; with {"cluster": true} those of every alive node, each with its nodeId',
        body: findAllBody,
        response: { 200: { type: 'array', items: clusterStreamSchema }, ...errorResponses(400, 401, 413, 503) },
      },
    },
    async (req) => {
      const own = streams.find({}).map((s) => s.toJSON());
      if (req.body?.cluster === true && cluster) return cluster.streams(own as unknown as Record<string, unknown>[]);
      return own;
    },
  );

  app.post<{ Body: StreamFilter }>(
    '/rest-api/stream/find',
    {
      schema: {
        summary: 'Published streams matching a filter; 404 when none (as WCS)',
        body: streamFilterSchema,
        response: { 200: { type: 'array', items: streamSchema }, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => {
      if (req.body.name !== undefined) requireStreamName(req.body.name, 'name');
      const found = streams.find(req.body);
      if (found.length === 0) throw new HttpError(404, `No stream matches ${JSON.stringify(req.body)}`);
      return found.map((s) => s.toJSON());
    },
  );

  app.post<{ Body: StreamFilter }>(
    '/rest-api/stream/terminate',
    {
      schema: {
        summary: 'Disconnects the publishers of the matching streams; answers once their recordings are finished',
        body: streamFilterSchema,
        response: { 200: emptyAnswerSchema, ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (req) => {
      if (req.body.name !== undefined) requireStreamName(req.body.name, 'name');
      const ended = await streams.terminate(req.body);
      if (ended.length === 0) throw new HttpError(404, `No stream matches ${JSON.stringify(req.body)}`);
      return {};
    },
  );
}
