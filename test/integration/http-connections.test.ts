import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDaemon, waitFor } from '../helpers/daemon.js';

/** Opens a TCP connection and resolves when it is connected; records whether the server closed it. */
function connect(port: number): Promise<{ socket: net.Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const socket = net.connect(port, '127.0.0.1', () => resolve({ socket, closed: () => closed }));
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

/** A raw HTTP/1.1 GET on an open socket: the status line and headers. */
function rawGet(socket: net.Socket, p: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const onData = (chunk: Buffer): void => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(data);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('HTTP connection limits', () => {
  it('keep-alive lasts http_keep_alive_timeout (72 s by default), announced in Keep-Alive', async () => {
    const daemon = await startDaemon();
    try {
      const { socket } = await connect(daemon.httpPort);
      const head = await rawGet(socket, '/rest-api/docs');
      expect(head).toMatch(/^HTTP\/1\.1 \d{3}/);
      expect(head.toLowerCase()).toContain('keep-alive: timeout=72');
      socket.destroy();
    } finally {
      await daemon.stop();
    }
  });

  it('beyond http_max_connections a new connection is closed at once; the others and later ones still work', async () => {
    const daemon = await startDaemon({ http_max_connections: 4, http_keep_alive_timeout: 30 });
    const held: { socket: net.Socket; closed: () => boolean }[] = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await connect(daemon.httpPort));
      const extra = await connect(daemon.httpPort);
      await waitFor(() => extra.closed(), 10_000, 'the connection beyond the limit closed by the daemon');
      // the held ones are served
      const head = await rawGet(held[0]!.socket, '/rest-api/docs');
      expect(head).toMatch(/^HTTP\/1\.1 (200|404)/);
      expect(held.every((h) => !h.closed())).toBe(true);
      for (const h of held) h.socket.destroy();
      // once they are gone, new connections are served again
      await waitFor(
        async () => {
          try {
            return (await fetch(daemon.url('/rest-api/docs'))).status < 500;
          } catch {
            return false;
          }
        },
        10_000,
        'a new connection served after the held ones closed',
      );
      expect(daemon.output).not.toContain('"level":50');
    } finally {
      for (const h of held) h.socket.destroy();
      await daemon.stop();
    }
  });

  it('SIGTERM does not wait for clients: an idle keep-alive connection and one that never finishes its headers do not hold the stop', async () => {
    // a keep-alive far longer than the stop may take: waiting for either connection would fail the stop
    const daemon = await startDaemon({ http_keep_alive_timeout: 600 });
    const idle = await connect(daemon.httpPort);
    const head = await rawGet(idle.socket, '/rest-api/docs');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const partial = await connect(daemon.httpPort);
    partial.socket.write('GET /rest-api/docs HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    try {
      const exit = await daemon.stop('SIGTERM', 20_000);
      expect(exit.code).toBe(0);
      await waitFor(() => idle.closed() && partial.closed(), 5_000, 'both client connections closed by the stopped daemon');
    } finally {
      idle.socket.destroy();
      partial.socket.destroy();
    }
  });
});
