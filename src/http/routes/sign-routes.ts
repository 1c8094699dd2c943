import type { FastifyInstance } from 'fastify';
import { bearerToken } from '../auth.js';
import { HttpError } from '../http-error.js';
import { errorResponses } from '../schemas.js';
import { canonicalTarget, signingKey, signUrl } from '../signed-url.js';
import { sameSecret } from '../../util/same-secret.js';

export interface SignOptions {
  readonly restApiToken: string;
  readonly recordsAccessToken: string;
  /** records_signed_url_ttl, seconds. */
  readonly ttlSeconds: number;
  readonly now?: () => number;
}

const SIGNABLE = ['/client/records/', '/client/streams/'];

/**
 * POST /rest-api/records/sign {path}: a short-lived URL for a record or a
 * time range (/client/records/…, /client/streams/…) that carries exp and sig
 * instead of records_access_token, for <video> src and download links.
 * Under rest_api_token like every REST call; when only records_access_token
 * is set, the call itself needs it as Bearer (else anyone could sign).
 */
export function registerSignRoutes(app: FastifyInstance, options: SignOptions): void {
  const key = options.recordsAccessToken === '' ? null : signingKey(options.recordsAccessToken);
  const now = options.now ?? Date.now;
  app.post<{ Body: { path: string } }>(
    '/rest-api/records/sign',
    {
      schema: {
        summary: 'A short-lived signed URL (exp, sig) for a record or time-range download, so media URLs never carry records_access_token',
        body: {
          type: 'object',
          required: ['path'],
          additionalProperties: false,
          properties: { path: { type: 'string', minLength: 1, maxLength: 2048, description: '/client/records/<file> or /client/streams/<name>.mp4?from=&to=' } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              url: { type: 'string', description: 'path and query to use on this server' },
              expires: { type: ['integer', 'null'], description: 'epoch seconds; null when records are open (no records_access_token)' },
            },
          },
          ...errorResponses(400, 401, 413),
        },
      },
    },
    async (req, reply) => {
      const target = canonicalTarget(req.body.path);
      if (target === null || !SIGNABLE.some((p) => target.startsWith(p)) || target.includes('/../')) {
        throw new HttpError(400, `path must be a local /client/records/ or /client/streams/ URL`);
      }
      if (key === null) return { url: target, expires: null };
      if (options.restApiToken === '') {
        const token = bearerToken(req.headers.authorization);
        if (token === null || !sameSecret(token, options.recordsAccessToken)) {
          return reply
            .status(401)
            .header('WWW-Authenticate', 'Bearer realm="records"')
            .send({ error: 401, message: 'Authorization: Bearer <records_access_token> required' });
        }
      }
      const signed = signUrl(key, target, options.ttlSeconds, now());
      if (signed === null) throw new HttpError(400, 'path cannot be signed');
      return { url: signed.url, expires: signed.exp };
    },
  );
}
