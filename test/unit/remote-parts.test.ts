import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXIED_BY_HEADER } from '../../src/http/peer-proxy.js';
import { RemotePartError, RemoteParts } from '../../src/http/remote-parts.js';

/** Copies of other nodes' parts, fetched from a real loopback server standing in for the other node. */

const FILES: Record<string, Buffer> = {
  'a.mp4': Buffer.alloc(3000, 1),
  'b.mp4': Buffer.alloc(3000, 2),
  'c.mp4': Buffer.alloc(3000, 3),
};
let other: http.Server;
let base: string;
const asked: { url: string; headers: http.IncomingHttpHeaders }[] = [];
const log = pino({ level: 'silent' });

beforeAll(async () => {
  other = http.createServer((req, res) => {
    asked.push({ url: req.url ?? '', headers: req.headers });
    const name = decodeURIComponent((req.url ?? '').split('?')[0]!.replace('/client/records/', ''));
    const body = FILES[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => other.close(r));
});

function parts(maxBytes: number, minKeepMs = 0): { remote: RemoteParts; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remote-parts-'));
  return { remote: new RemoteParts({ cacheDir: path.join(dir, '.cluster'), maxBytes, minKeepMs, selfId: 'node-b', timeoutMs: 5000 }, log), dir };
}

describe('RemoteParts', () => {
  it('copies a part once (concurrent asks share one download), with the caller token and the proxied-by header', async () => {
    const { remote, dir } = parts(1e9);
    await remote.start();
    asked.length = 0;
    const [p1, p2] = await Promise.all([
      remote.localCopy('a.mp4', { nodeId: 'node-a', baseUrl: base }, { token: 't0k' }),
      remote.localCopy('a.mp4', { nodeId: 'node-a', baseUrl: base }, { token: 't0k' }),
    ]);
    expect(p1).toBe(p2);
    expect(fs.readFileSync(p1).equals(FILES['a.mp4']!)).toBe(true);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.url).toBe('/client/records/a.mp4?token=t0k');
    expect(asked[0]!.headers[PROXIED_BY_HEADER]).toBe('node-b');
    // asked again: from the copy
    await remote.localCopy('a.mp4', { nodeId: 'node-a', baseUrl: base }, {});
    expect(asked).toHaveLength(1);
    // a restart finds the copies it made (and drops partial ones)
    fs.writeFileSync(path.join(dir, '.cluster', '.dl-123-partial.mp4'), 'x');
    const again = new RemoteParts({ cacheDir: path.join(dir, '.cluster'), maxBytes: 1e9, minKeepMs: 0, selfId: 'node-b', timeoutMs: 5000 }, log);
    await again.start();
    expect(again.cachedBytes).toBe(3000);
    expect(fs.existsSync(path.join(dir, '.cluster', '.dl-123-partial.mp4'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps within its byte limit, least recently used removed first', async () => {
    const { remote, dir } = parts(7000);
    await remote.start();
    const node = { nodeId: 'node-a', baseUrl: base };
    const a = await remote.localCopy('a.mp4', node, {});
    await new Promise((r) => setTimeout(r, 5));
    await remote.localCopy('b.mp4', node, {});
    await new Promise((r) => setTimeout(r, 5));
    await remote.localCopy('c.mp4', node, {});
    expect(remote.cachedBytes).toBeLessThanOrEqual(7000);
    expect(fs.existsSync(a)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a part the node does not have: 502 naming the node; a node that refuses: 502; nothing left behind', async () => {
    const { remote, dir } = parts(1e9);
    await remote.start();
    const missing = await remote.localCopy('nope.mp4', { nodeId: 'node-a', baseUrl: base }, {}).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(RemotePartError);
    expect((missing as RemotePartError).status).toBe(502);
    expect((missing as Error).message).toMatch(/node 'node-a', which answered 404/);
    const closed = await remote.localCopy('a.mp4', { nodeId: 'node-x', baseUrl: 'http://127.0.0.1:1' }, {}).catch((e: unknown) => e);
    expect((closed as RemotePartError).status).toBe(502);
    expect((closed as Error).message).toMatch(/node 'node-x'.*cannot be reached/);
    expect(fs.readdirSync(path.join(dir, '.cluster'))).toEqual([]);
    // a name that is not a plain file name never reaches the disk
    await expect(remote.localCopy('../x.mp4', { nodeId: 'node-a', baseUrl: base }, {})).rejects.toBeInstanceOf(RemotePartError);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
