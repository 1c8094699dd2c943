import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComposedAnswer } from '../../src/http/playback/compose-mp4.js';
import { PlaybackSourceError } from '../../src/http/playback/playback-stitcher.js';
import { sendComposed } from '../../src/http/playback/serve-composed.js';

/**
 * A composed playback answer reads its parts after its head is sent. A part
 * deleted from the disk meanwhile (uploaded with record_upload_delete_local,
 * retention) must not cut the answer short: the parts are opened before the
 * answer starts. Real files, a real fastify on loopback; the client reads
 * the first bytes, holds the rest while both parts are deleted, then reads
 * on: the second part (32 MiB behind the first bytes, far beyond what the
 * sockets buffer) is read after its file left the disk.
 */
describe('sendComposed: parts deleted while the answer is sent', () => {
  let dir: string;
  const app = Fastify();
  const head = Buffer.from('HEAD-BYTES');
  let parts: string[] = [];
  let answer: ComposedAnswer;
  let port = 0;
  const A = 32 * 1024 * 1024;
  const B = 3 * 1024 * 1024 + 1;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-serve-composed-'));
    parts = ['a.mp4', 'b.mp4'].map((name, i) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, Buffer.alloc(i === 0 ? A + 100 : B, 0x41 + i));
      return file;
    });
    answer = {
      head,
      ranges: [
        { path: parts[0]!, start: 100, length: A },
        { path: parts[1]!, start: 0, length: B },
      ],
      size: head.length + A + B,
    };
    app.get('/composed', async (req, reply) => sendComposed(req, reply, answer, 'etag1'));
    app.get('/gone-before', async (req, reply) => {
      try {
        return await sendComposed(req, reply, { ...answer, ranges: [{ path: path.join(dir, 'never.mp4'), start: 0, length: 10 }], size: head.length + 10 }, 'etag2');
      } catch (err) {
        return reply.status(err instanceof PlaybackSourceError ? 410 : 500).send({ message: (err as Error).message });
      }
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the whole answer, byte for byte, although both parts left the disk after its first bytes', async () => {
    const { status, body } = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/composed' }, (res) => {
          const chunks: Buffer[] = [];
          let deleted = false;
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            if (deleted) return;
            deleted = true;
            res.pause();
            for (const p of parts) fs.rmSync(p, { force: true });
            setTimeout(() => res.resume(), 200);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
    expect(parts.every((p) => !fs.existsSync(p))).toBe(true);
    expect(body.length).toBe(answer.size);
    expect(body.subarray(0, head.length).equals(head)).toBe(true);
    expect(body.subarray(head.length, head.length + A).every((x) => x === 0x41)).toBe(true);
    expect(body.subarray(head.length + A).every((x) => x === 0x42)).toBe(true);
    // and the answer let go of both parts once sent
    await untilNoOpenPart();
  });

  it('a client gone after the first bytes: the parts are closed', async () => {
    fs.writeFileSync(parts[0]!, Buffer.alloc(A + 100, 0x41));
    fs.writeFileSync(parts[1]!, Buffer.alloc(B, 0x42));
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/composed' }, (res) => {
        res.once('data', () => {
          expect(openPartFds().length).toBeGreaterThan(0);
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    });
    await untilNoOpenPart();
  });

  it('a part already gone when the answer starts: PlaybackSourceError (the route looks the parts up again), nothing sent', async () => {
    const res = await app.inject({ method: 'GET', url: '/gone-before' });
    expect(res.statusCode).toBe(410);
    expect(res.json().message).toMatch(/part 'never\.mp4' is no longer on this disk/);
  });
});

/** This process's descriptors open on a file of the test folder (deleted files included). */
function openPartFds(): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes('wcs-serve-composed-')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

async function untilNoOpenPart(): Promise<void> {
  for (let i = 0; i < 100 && openPartFds().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(openPartFds()).toEqual([]);
}
