import type { FastifyInstance } from 'fastify';
import type { StreamRegistry } from '../../streams/stream-registry.js';

const streamSchema = {
  type: 'object',
  properties: {
    mediaSessionId: { type: 'string' },
    name: { type: 'string' },
    published: { type: 'boolean' },
    status: { type: 'string' },
    mediaProvider: { type: 'string' },
    record: { type: 'boolean' },
    audioCodec: { type: 'string' },
    videoCodec: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    login: { type: 'string' },
    createdDate: { type: 'integer' },
  },
} as const;

/** /rest-api/stream/*: the published streams, WCS field names. */
export function registerStreamRoutes(app: FastifyInstance, registry: StreamRegistry): void {
  app.post(
    '/rest-api/stream/find_all',
    {
      schema: {
        body: { type: ['object', 'null'] },
        response: { 200: { type: 'array', items: streamSchema } },
      },
    },
    async () => registry.all().map((s) => s.toJSON()),
  );
}
