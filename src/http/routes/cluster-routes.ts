import type { FastifyInstance } from 'fastify';
import type { ClusterView } from '../../cluster/cluster-view.js';
import { errorResponses } from '../schemas.js';

export const nodeSchema = {
  type: 'object',
  properties: {
    nodeId: { type: 'string' },
    publicUrl: { type: 'string', description: 'node_public_url: where the other nodes fetch the records it holds' },
    alive: { type: 'boolean', description: 'its last heartbeat is at most cluster_node_timeout old (database clock)' },
    lastSeenAgoSeconds: { type: 'number' },
    lastSeen: { type: 'integer', description: 'last heartbeat, ms since the epoch (database clock)' },
    startedAt: { type: 'integer', description: 'when the node started, ms since the epoch' },
    version: { type: 'string' },
    streams: { type: 'integer', description: 'live streams at its last heartbeat' },
    stoppedAt: { type: ['integer', 'null'], description: 'when it stopped cleanly; null while running or after a crash' },
    self: { type: 'boolean', description: 'true for the node answering' },
  },
} as const;

/** GET /rest-api/cluster/nodes (docs/cluster.md). */
export function registerClusterRoutes(app: FastifyInstance, cluster: ClusterView): void {
  const route = {
    schema: {
      summary: 'Every node sharing the catalog (heartbeat table) with its liveness; on the embedded catalog, this node alone',
      response: {
        200: { type: 'object', properties: { shared: { type: 'boolean' }, nodes: { type: 'array', items: nodeSchema } } },
        ...errorResponses(401, 503),
      },
    },
  };
  const handler = async () => ({ shared: cluster.shared, nodes: await cluster.nodes() });
  app.get('/rest-api/cluster/nodes', route, handler);
  // WCS calls are POSTs: both work
  app.post('/rest-api/cluster/nodes', { schema: { ...route.schema, body: { type: ['object', 'null'], additionalProperties: false, properties: {} } } }, handler);
}
