import { sameSecret } from '../util/same-secret.js';
import { checkSignedUrl, signingKey } from './signed-url.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Optional token protection (rest_api_token, records_access_token). Off
 * when the token is empty, as WCS is open by default.
 */

export { sameSecret };

/** The token of an `Authorization: Bearer <token>` header, or null (pure). */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? (m[1] ?? null) : null;
}

/** The `token` query parameter of a URL, or null (pure). */
export function queryToken(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  return new URLSearchParams(url.slice(q + 1)).get('token');
}

export interface AuthOptions {
  /** rest_api_token: protects every /rest-api/ URL; '' = open. */
  readonly restApiToken: string;
  /** records_access_token: protects /client/records/ and /client/streams/ (Bearer or ?token=); '' = open. */
  readonly recordsAccessToken: string;
  /** Clock for signed URLs (tests); default Date.now. */
  readonly now?: () => number;
}

function refuse(reply: FastifyReply, realm: string, message: string): FastifyReply {
  return reply
    .status(401)
    .header('WWW-Authenticate', `Bearer realm="${realm}"`)
    .send({ error: 401, message });
}

/** Adds the checks as an onRequest hook: they run before routing errors, body parsing and validation. */
export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  const { restApiToken, recordsAccessToken } = options;
  if (restApiToken === '' && recordsAccessToken === '') return;
  const key = recordsAccessToken === '' ? null : signingKey(recordsAccessToken);
  const now = options.now ?? Date.now;
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // the raw path and the matched route both count, so no spelling of a URL slips past
    const pathname = req.url.split('?')[0] ?? '';
    const route = req.routeOptions.url ?? '';
    const isRest = (p: string): boolean => p === '/rest-api' || p.startsWith('/rest-api/');
    if (restApiToken !== '' && (isRest(pathname) || isRest(route))) {
      const token = bearerToken(req.headers.authorization);
      if (token === null || !sameSecret(token, restApiToken)) {
        return refuse(reply, 'rest-api', token === null ? 'Authorization: Bearer <rest_api_token> required' : 'Wrong token');
      }
    }
    // records and time-range playback of streams (/client/streams/<name>.mp4) share the records token
    const isRecords = (p: string): boolean => p.startsWith('/client/records') || p.startsWith('/client/streams');
    if (key !== null && (isRecords(pathname) || isRecords(route))) {
      // a short-lived signed URL (/rest-api/records/sign) stands in for the token
      const signed = checkSignedUrl(key, req.url, now());
      if (signed === 'valid') return undefined;
      if (signed !== 'none') return refuse(reply, 'records', signed === 'expired' ? 'Signed URL expired' : 'Bad signature');
      const token = bearerToken(req.headers.authorization) ?? queryToken(req.url);
      if (token === null || !sameSecret(token, recordsAccessToken)) {
        return refuse(reply, 'records', token === null ? 'A token is required: Authorization: Bearer <token> or ?token=<token>' : 'Wrong token');
      }
    }
    return undefined;
  });
}
