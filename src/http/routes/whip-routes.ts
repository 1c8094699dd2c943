import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StreamNameTakenError } from '../../streams/stream-registry.js';
import { PortsExhaustedError } from '../../ingest/webrtc/port-pool.js';
import { SdpError, UnsupportedOfferError } from '../../ingest/webrtc/sdp.js';
import { IngestClosedError, UnknownSessionError, type PublishRequest, type PublishResult } from '../../ingest/webrtc/webrtc-ingest.js';
import { bearerToken, sameSecret } from '../auth.js';
import { HttpError } from '../http-error.js';
import { requireLogin, requireStreamName } from '../name-guard.js';

/** What the WHIP routes drive (WebRtcIngest). */
export interface WhipService {
  publish(request: PublishRequest): Promise<PublishResult>;
  unpublish(sessionId: string, reason: string): Promise<void>;
  sessionOf(sessionId: string): { streamName: string } | undefined;
}

export interface WhipOptions {
  /** whip_token: '' = open. */
  readonly token: string;
}

/** SDP offers with many codecs reach 10-20 KiB; a bigger body answers 413 before any parsing. */
export const SDP_BODY_LIMIT = 64 * 1024;

const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, DELETE, PATCH, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
  'Access-Control-Expose-Headers': 'Location, X-Media-Session-Id, Accept-Post',
  'Access-Control-Max-Age': '600',
};

/** The WCS client `record` flag of ?record=: true, false, or null when absent (pure). */
export function whipRecordFlag(value: string | undefined): boolean | null {
  if (value === undefined) return null;
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new HttpError(400, `record must be true or false, not '${value}'`);
}

const paramsSchema = {
  type: 'object',
  properties: { stream: { type: 'string', minLength: 1, maxLength: 255, description: 'Stream name' } },
  required: ['stream'],
} as const;

const sessionParamsSchema = {
  type: 'object',
  properties: {
    stream: { type: 'string', minLength: 1, maxLength: 255 },
    session: { type: 'string', minLength: 1, maxLength: 64, description: 'WHIP session id (from Location)' },
  },
  required: ['stream', 'session'],
} as const;

const errorSchema = { type: 'object', properties: { error: { type: 'number' }, message: { type: 'string' } } } as const;

/**
 * WHIP (RFC 9725): POST /whip/<stream> with an SDP offer publishes a
 * WebRTC stream (201, the answer, Location of the session); DELETE on the
 * Location ends it; OPTIONS answers CORS preflights. Registered in a
 * scope of its own (it replaces the body parsers). Candidates are in the
 * answer (no trickle: PATCH answers 405).
 */
export function registerWhipRoutes(app: FastifyInstance, whip: WhipService, options: WhipOptions): void {
  // every body is taken as text here, so the handler answers 415 for any type but application/sdp
  // (register this in its own scope: the parsers of the other routes are untouched)
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: SDP_BODY_LIMIT }, (_req, body, done) => done(null, body));

  const cors = (reply: FastifyReply): void => {
    for (const [k, v] of Object.entries(CORS_HEADERS)) reply.header(k, v);
  };
  const authorize = (req: FastifyRequest, reply: FastifyReply): void => {
    cors(reply);
    if (options.token === '') return;
    const token = bearerToken(req.headers.authorization);
    if (token === null || !sameSecret(token, options.token)) {
      reply.header('WWW-Authenticate', 'Bearer realm="whip"');
      throw new HttpError(401, token === null ? 'Authorization: Bearer <whip_token> required' : 'Wrong token');
    }
  };

  for (const url of ['/whip/:stream', '/whip/:stream/:session']) {
    app.options(url, { schema: { summary: 'CORS preflight' } }, async (_req, reply) => {
      cors(reply);
      reply.header('Accept-Post', 'application/sdp');
      return reply.status(204).send();
    });
    app.patch(url, { schema: { summary: 'Trickle ICE / ICE restart: not supported (candidates are in the answer)' } }, async (_req, reply) => {
      cors(reply);
      return reply.status(405).header('Allow', 'POST, DELETE, OPTIONS').send({ error: 405, message: 'Trickle ICE is not supported; all candidates are in the answer' });
    });
  }

  app.post<{ Params: { stream: string }; Querystring: { record?: string; login?: string } }>(
    '/whip/:stream',
    {
      bodyLimit: SDP_BODY_LIMIT,
      schema: {
        summary: 'WHIP publish: SDP offer in (content-type application/sdp), SDP answer out, Location of the session',
        params: paramsSchema,
        querystring: {
          type: 'object',
          properties: {
            record: { type: 'string', enum: ['true', 'false', '1', '0'], description: 'WCS client record flag' },
            login: { type: 'string', description: 'WCS login of the publisher ({login} of file templates); no control characters, at most 128 bytes' },
          },
        },
        produces: ['application/sdp'],
        response: { 201: { type: 'string' }, 400: errorSchema, 401: errorSchema, 409: errorSchema, 415: errorSchema, 422: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      authorize(req, reply);
      // the one rule for names: refused with 400 naming the field, before the body is looked at
      const stream = requireStreamName(req.params.stream, 'stream name (/whip/<name>)');
      const login = req.query.login === undefined ? '' : requireLogin(req.query.login, 'login (?login=)');
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/sdp') throw new HttpError(415, `Content-Type must be application/sdp, not '${type || 'none'}'`);
      const offer = typeof req.body === 'string' ? req.body : '';
      if (offer.trim() === '') throw new HttpError(400, 'The body must be an SDP offer');
      let result: PublishResult;
      try {
        result = await whip.publish({
          streamName: stream,
          login,
          offer,
          record: whipRecordFlag(req.query.record),
          remote: req.ip,
        });
      } catch (err) {
        if (err instanceof SdpError) throw new HttpError(400, `Bad SDP offer: ${err.message}`);
        if (err instanceof UnsupportedOfferError) throw new HttpError(422, err.message);
        if (err instanceof StreamNameTakenError) throw new HttpError(409, err.message);
        if (err instanceof PortsExhaustedError || err instanceof IngestClosedError) throw new HttpError(503, err.message);
        throw err;
      }
      return reply
        .status(201)
        .header('Content-Type', 'application/sdp')
        .header('Location', `/whip/${encodeURIComponent(stream)}/${result.sessionId}`)
        .header('X-Media-Session-Id', result.mediaSessionId)
        .send(result.answer);
    },
  );

  app.delete<{ Params: { stream: string; session: string } }>(
    '/whip/:stream/:session',
    {
      schema: {
        summary: 'Ends a WHIP session: the stream unpublishes and its recording finishes',
        params: sessionParamsSchema,
        response: { 200: { type: 'object' }, 401: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      authorize(req, reply);
      const live = whip.sessionOf(req.params.session);
      if (!live || live.streamName !== req.params.stream) throw new HttpError(404, `No WHIP session ${req.params.session} for stream '${req.params.stream}'`);
      try {
        await whip.unpublish(req.params.session, 'WHIP DELETE');
      } catch (err) {
        if (err instanceof UnknownSessionError) throw new HttpError(404, err.message);
        throw err;
      }
      return {};
    },
  );
}
