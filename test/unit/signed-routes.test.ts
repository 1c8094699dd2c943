import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAuth } from '../../src/http/auth.js';
import { registerSignRoutes } from '../../src/http/routes/sign-routes.js';

/** /rest-api/records/sign and the records routes' signature check, in process (fastify inject). */

let app: FastifyInstance;
let clock = 1_800_000_000_000;

function build(restApiToken: string, recordsAccessToken: string): FastifyInstance {
  app = Fastify();
  // as HttpServer answers an HttpError
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => reply.status(err.statusCode ?? 500).send({ error: err.statusCode ?? 500, message: err.message }));
  registerAuth(app, { restApiToken, recordsAccessToken, now: () => clock });
  registerSignRoutes(app, { restApiToken, recordsAccessToken, ttlSeconds: 600, now: () => clock });
  app.get('/client/records/:file', async () => 'media');
  app.get('/client/streams/:file', async () => 'range');
  return app;
}

async function sign(path: string, token?: string): Promise<{ status: number; url?: string; expires?: number | null }> {
  const res = await app.inject({
    method: 'POST',
    url: '/rest-api/records/sign',
    payload: { path },
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.statusCode, ...(res.statusCode === 200 ? (res.json() as { url: string; expires: number | null }) : {}) };
}

const get = async (url: string): Promise<number> => (await app.inject({ method: 'GET', url })).statusCode;

afterEach(async () => {
  await app?.close();
  clock = 1_800_000_000_000;
});

describe('signed media URLs on the records routes', () => {
  it('a URL signed under the REST token opens the record without the token, until it expires', async () => {
    build('rest', 'rec');
    expect((await sign('/client/records/a.mp4')).status).toBe(401);
    const s = await sign('/client/records/a.mp4', 'rest');
    expect(s.status).toBe(200);
    expect(s.url).toMatch(/^\/client\/records\/a\.mp4\?exp=\d+&sig=[0-9a-f]{64}$/);
    expect(s.expires).toBe(clock / 1000 + 600);
    expect(await get('/client/records/a.mp4')).toBe(401);
    expect(await get(s.url!)).toBe(200);
    expect(await get(s.url!.replace('a.mp4', 'b.mp4'))).toBe(401);
    clock += 601_000;
    expect(await get(s.url!)).toBe(401);
    // the token still works as before
    expect(await get('/client/records/a.mp4?token=rec')).toBe(200);
  });

  it('a time-range URL is signed with its range', async () => {
    build('rest', 'rec');
    const s = await sign('/client/streams/cam.mp4?from=1000&to=2000', 'rest');
    expect(await get(s.url!)).toBe(200);
    expect(await get(s.url!.replace('to=2000', 'to=3000'))).toBe(401);
  });

  it('when only records_access_token is set, signing needs it (else anyone could sign)', async () => {
    build('', 'rec');
    expect((await sign('/client/records/a.mp4')).status).toBe(401);
    expect((await sign('/client/records/a.mp4', 'wrong')).status).toBe(401);
    const s = await sign('/client/records/a.mp4', 'rec');
    expect(await get(s.url!)).toBe(200);
  });

  it('open records: the path comes back unchanged; only record and stream URLs are signed', async () => {
    build('rest', '');
    expect(await sign('/client/records/a.mp4', 'rest')).toEqual({ status: 200, url: '/client/records/a.mp4', expires: null });
    expect((await sign('/rest-api/records/find', 'rest')).status).toBe(400);
    expect((await sign('https://elsewhere/client/records/a.mp4', 'rest')).status).toBe(400);
    expect((await sign('/client/examples/x', 'rest')).status).toBe(400);
  });
});
