import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { boundUdpPorts, waitForUdpListeners } from '../../src/ingest/webrtc/udp-listening.js';

describe('UDP listeners (the feed ffmpeg is ready once it listens on its RTP ports)', () => {
  it('parses /proc/net/udp local ports', () => {
    const text = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  123: 0100007F:A41C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0',
      '   12: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0',
    ].join('\n');
    expect([...boundUdpPorts(text)].sort((a, b) => a - b)).toEqual([0x35, 0xa41c]);
  });

  it('sees a socket bound here, and gives up on a port nobody binds', async () => {
    const s = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)));
    try {
      expect(await waitForUdpListeners([port], 1000)).toBe(true);
    } finally {
      s.close();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(await waitForUdpListeners([port], 100)).toBe(false);
  });
});
