import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerProxy, PROXIED_BY_HEADER } from '../../src/http/peer-proxy.js';
import { freePort, waitFor } from '../helpers/daemon.js';

/** The proxy between two real HTTP servers on loopback: an "other node" and this one. */

const BODY = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i % 251));
let other: http.Server;
let otherUrl: string;
let seen: http.IncomingHttpHeaders[] = [];
const stalls: http.ServerResponse[] = [];

function app(proxy: PeerProxy, target: () => string): FastifyInstance {
  const f = Fastify();
  f.get('/client/records/:file', async (req, reply) => {
    await proxy.forward(req, reply, { nodeId: 'node-a', baseUrl: target(), what: `Record '${(req.params as { file: string }).file}'` });
    return reply;
  });
  return f;
}

beforeAll(async () => {
  other = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.url?.startsWith('/client/records/stall')) {
      stalls.push(res);
      return; // never answers
    }
    if (req.url?.startsWith('/client/records/slow-body')) {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(BODY.length) });
      res.write(BODY.subarray(0, 100));
      stalls.push(res);
      return; // stalls mid-body
    }
    const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    if (range) {
      const [s, e] = [Number(range[1]), Number(range[2])];
      res.writeHead(206, { 'content-type': 'video/mp4', 'content-range': `bytes ${s}-${e}/${BODY.length}`, 'content-length': String(e - s + 1), 'x-secret-internal': '1' });
      res.end(BODY.subarray(s, e + 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(BODY.length), 'accept-ranges': 'bytes' });
    res.end(BODY);
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of stalls) r.destroy();
  await new Promise((r) => other.close(r));
});

const log = pino({ level: 'silent' });

describe('PeerProxy', () => {
  it('streams the whole answer, and a byte range with Range and credentials passed on; only media headers come back', async () => {
    const f = app(new PeerProxy({ selfId: 'node-b', timeoutMs: 5000, maxConcurrent: 4 }, log), () => otherUrl);
    seen = [];
    const whole = await f.inject({ method: 'GET', url: '/client/records/x.mp4?token=t' });
    expect(whole.statusCode).toBe(200);
    expect(whole.rawPayload.equals(BODY)).toBe(true);
    expect(whole.headers['x-wcs-node']).toBe('node-a');
    const part = await f.inject({ method: 'GET', url: '/client/records/x.mp4?token=t', headers: { range: 'bytes=10-19', authorization: 'Bearer t' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${BODY.length}`);
    expect(part.rawPayload.equals(BODY.subarray(10, 20))).toBe(true);
    expect(part.headers['x-secret-internal']).toBeUndefined();
    expect(seen[1]).toMatchObject({ range: 'bytes=10-19', authorization: 'Bearer t', [PROXIED_BY_HEADER]: 'node-b' });
    await f.close();
  });

  it('a node that refuses connections: 502 naming it', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const f = app(new PeerProxy({ selfId: 'node-b', timeoutMs: 5000, maxConcurrent: 4 }, log), () => closed);
    const res = await f.inject({ method: 'GET', url: '/client/records/x.mp4' });
    expect(res.statusCode).toBe(502);
    expect(res.json().message).toMatch(/node 'node-a'.*cannot be reached: ECONNREFUSED/);
    await f.close();
  });

  it('a node that does not answer: 504 after the timeout; the slot is given back', async () => {
    const proxy = new PeerProxy({ selfId: 'node-b', timeoutMs: 300, maxConcurrent: 1 }, log);
    const f = app(proxy, () => otherUrl);
    const res = await f.inject({ method: 'GET', url: '/client/records/stall.mp4' });
    expect(res.statusCode).toBe(504);
    expect(res.json().message).toMatch(/did not answer within/);
    // the one slot is free again
    expect(proxy.active).toBe(0);
    await f.close();
  });

  it('an answer that stalls mid-body is ended (not held forever) and the slot given back', async () => {
    const proxy = new PeerProxy({ selfId: 'node-b', timeoutMs: 300, maxConcurrent: 1 }, log);
    const f = app(proxy, () => otherUrl);
    await f.listen({ port: 0, host: '127.0.0.1' });
    const port = (f.server.address() as AddressInfo).port;
    const outcome = await fetch(`http://127.0.0.1:${port}/client/records/slow-body.mp4`).then(
      async (r) => {
        try {
          await r.arrayBuffer();
          return 'complete';
        } catch {
          return 'cut';
        }
      },
      () => 'cut',
    );
    expect(outcome).toBe('cut');
    expect(proxy.active).toBe(0);
    await f.close();
  });

  it('more than max_concurrent at once: 503 with Retry-After', async () => {
    const proxy = new PeerProxy({ selfId: 'node-b', timeoutMs: 2000, maxConcurrent: 1 }, log);
    const f = app(proxy, () => otherUrl);
    const first = f.inject({ method: 'GET', url: '/client/records/stall.mp4' });
    await waitFor(() => proxy.active === 1, 10_000, 'the first request in flight');
    const second = await f.inject({ method: 'GET', url: '/client/records/x.mp4' });
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('2');
    expect((await first).statusCode).toBe(504);
    await f.close();
  });
});
