import type { FastifyInstance } from 'fastify';
import { bearerToken, queryToken } from '../auth.js';
import { sameSecret } from '../../util/same-secret.js';

/** What GET /metrics serves (Metrics in metrics.ts). */
export interface MetricsText {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface MetricsRouteOptions {
  /** metrics_token: when set, a scrape needs Authorization: Bearer <token> or ?token=<token>; '' = open. */
  readonly token: string;
}

/** GET /metrics in the Prometheus text format (not registered at all when metrics_enabled=false: 404). */
export function registerMetricsRoute(app: FastifyInstance, source: MetricsText, options: MetricsRouteOptions): void {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format, docs/metrics.md); Bearer or ?token=<metrics_token> when that is set' } }, async (req, reply) => {
    if (options.token !== '') {
      const token = bearerToken(req.headers.authorization) ?? queryToken(req.url);
      if (token === null || !sameSecret(token, options.token)) {
        return reply
          .status(401)
          .header('WWW-Authenticate', 'Bearer realm="metrics"')
          .send({ error: 401, message: token === null ? 'A token is required: Authorization: Bearer <metrics_token> or ?token=<metrics_token>' : 'Wrong token' });
      }
    }
    const body = await source.text();
    return reply.header('content-type', source.contentType).header('cache-control', 'no-store').send(body);
  });
}
