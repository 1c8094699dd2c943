/**
 * A publisher's burst is read in steps: once the connections have read a
 * turn's budget (read-turns.ts), they wait for the next turn of the event
 * loop, so other connections, the muxers' write completions and timers run
 * between the steps, and all of the burst still arrives, in order. A real
 * TCP connection on loopback, a raw RTMP client (test/fuzz), the session and
 * its live broadcast in this process.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawRtmpClient } from '../fuzz/rtmp-client.js';
import { chunk, mediaMessage, setChunkSize } from '../fuzz/rtmp-wire.js';
import { LiveBroadcast } from '../../src/ingest/rtmp/live-broadcast.js';
import { RtmpSession } from '../../src/ingest/rtmp/rtmp-session.js';
import { ReadTurns } from '../../src/ingest/rtmp/read-turns.js';

/** The budget here: small, so a 4 MiB burst needs many turns. */
const READ_BYTES_PER_TURN = 256 * 1024;
import { SlabPool } from '../../src/util/slab-pool.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('RTMP reads let the event loop turn', () => {
  it('a 4 MiB burst sent in one write is read over many turns of the loop (a turn reads about its budget), every message in order', async () => {
    const broadcast = new LiveBroadcast('/live/burst', 60_000, { finished: () => undefined, empty: () => undefined });
    const arrived: { ts: number; turn: number }[] = [];
    let turn = 0;
    let turning = true;
    const spin = (): void => {
      turn++;
      if (turning) setImmediate(spin);
    };
    setImmediate(spin);
    broadcast.addFlv((tag, _kind, ts) => {
      if (tag[0] === 9) arrived.push({ ts, turn });
    });
    const refused: string[] = [];
    const turns = new ReadTurns(READ_BYTES_PER_TURN);
    const server = net.createServer((socket) => {
      const session = new RtmpSession(
        socket,
        { maxMessageSize: 4 * 1024 * 1024, playEnabled: false, playToken: '' },
        {
          started: () => undefined,
          refused: (_s, reason) => {
            refused.push(reason);
            socket.destroy();
          },
          publish: (s) => (broadcast.publish(s) === 'taken' ? 'taken' : broadcast),
          play: () => broadcast,
        },
        new SlabPool(256 * 1024, 64),
        null,
        turns,
      );
      session.start();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;

    const c = await RawRtmpClient.connect(port);
    await c.handshake();
    c.publish(port, 'burst');
    expect(await c.waitUntil(() => c.received.includes('NetStream.Publish.Start'), 10_000)).toBe(true);
    // 128 video messages of 32 KiB (a keyframe first), 40 ms apart in stream time, in one write
    const messages = Array.from({ length: 128 }, (_, i) => {
      const body = Buffer.alloc(32 * 1024, i & 0xff);
      body[0] = i === 0 ? 0x17 : 0x27;
      body[1] = 1;
      return mediaMessage(9, 40 * i, body);
    });
    const burst = Buffer.concat([chunk(setChunkSize(65536), 4096), ...messages.map((m) => chunk(m, 65536))]);
    expect(burst.length).toBeGreaterThan(16 * READ_BYTES_PER_TURN);
    c.send(burst);
    expect(await c.waitUntil(() => arrived.length === messages.length || refused.length > 0, 20_000)).toBe(true);
    turning = false;
    c.socket.destroy();
    expect(refused).toEqual([]);
    expect(arrived.map((a) => a.ts)).toEqual(messages.map((m) => m.timestamp));
    // the loop turned while the burst was read: at least once per READ_BYTES_PER_TURN of it
    const turned = arrived[arrived.length - 1]!.turn - arrived[0]!.turn;
    expect(turned).toBeGreaterThanOrEqual(Math.floor(burst.length / READ_BYTES_PER_TURN) - 2);
  });
});
