import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { adoptWithSharedReads } from '../../src/ingest/rtmp/socket-reads.js';

/** A server with pauseOnConnect whose connections are handed to `onSocket`; resolves its port. */
function serve(onSocket: (s: net.Socket, server: net.Server) => void): Promise<{ server: net.Server; port: number }> {
  return new Promise((resolve) => {
    const server = net.createServer({ pauseOnConnect: true }, (s) => onSocket(s, server));
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port }));
  });
}

describe('socket reads into one shared buffer', () => {
  it('an accepted socket is adopted: every byte arrives through the shared buffer, writes and close work, the server drains', async () => {
    const shared = Buffer.alloc(64 * 1024);
    const sent = Buffer.alloc(3_000_000);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 0xff;
    const got: Buffer[] = [];
    let sameBuffer = true;
    let peer = '';
    const closed = new Promise<void>((resolveClosed) => {
      void serve((s) => {
        const adopted = adoptWithSharedReads(s, shared, (buf, n) => {
          sameBuffer &&= buf === shared;
          got.push(Buffer.from(buf.subarray(0, n)));
        });
        expect(adopted).not.toBeNull();
        peer = `${adopted!.remoteAddress}:${adopted!.remotePort}`;
        adopted!.write('ok');
        adopted!.on('close', () => resolveClosed());
      }).then(({ server, port }) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.write(sent);
          c.once('data', () => c.end());
        });
        c.on('close', () => server.close());
        // close() calls back only once the adopted socket counted as the server's connection is gone
        server.on('close', () => got.push(Buffer.from('server-closed')));
      });
    });
    await closed;
    await new Promise((r) => setTimeout(r, 100));
    expect(got.at(-1)?.toString()).toBe('server-closed');
    expect(Buffer.concat(got.slice(0, -1)).equals(sent)).toBe(true);
    expect(sameBuffer).toBe(true);
    expect(peer).toMatch(/127\.0\.0\.1:\d+$/);
  });

  it('says null when the socket has no handle of the expected kind (the caller then reads data events)', () => {
    const plain = new net.Socket();
    expect(adoptWithSharedReads(plain, Buffer.alloc(16), () => undefined)).toBeNull();
  });
});
