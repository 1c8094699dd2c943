import dgram from 'node:dgram';
import { ConfigError, parseServerConfig } from '../../src/config/server-config.js';
import { describe, expect, it } from 'vitest';
import { ntpToEpochMs, rembFields, rtpDiff, senderClockAt } from '../../src/ingest/webrtc/engine.js';
import { chooseEngine, EngineUnavailableError } from '../../src/ingest/webrtc/engine-choice.js';
import { PortPool, PortsExhaustedError, udpPortFree } from '../../src/ingest/webrtc/port-pool.js';
import { rtpFeedArgs } from '../../src/ingest/webrtc/rtp-feed.js';
import { whipRecordFlag } from '../../src/http/routes/whip-routes.js';
import { byeSsrcs, installByeNotices, RtcpByeNotice } from '../../src/ingest/webrtc/werift-bye.js';
import { RtcpPacketConverter, RtcpSrPacket } from 'werift';

describe('PortPool', () => {
  it('hands out even RTP ports whose pair is inside the range, round-robin, and takes them back', async () => {
    const pool = new PortPool(31001, 31008, async () => true);
    expect(pool.capacity).toBe(3);
    const a = await pool.allocatePair();
    const b = await pool.allocatePair();
    const c = await pool.allocatePair();
    expect([a, b, c]).toEqual([31002, 31004, 31006]);
    await expect(pool.allocatePair()).rejects.toThrow(PortsExhaustedError);
    pool.release(b);
    expect(await pool.allocatePair()).toBe(31004);
    expect(pool.inUse).toBe(3);
  });

  it('skips pairs that are not free', async () => {
    const busy = new Set([31002, 31005]);
    const pool = new PortPool(31002, 31009, async (port) => !busy.has(port));
    expect(await pool.allocatePair()).toBe(31006);
  });

  it('probes for real: a bound port is not free', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const port = socket.address().port;
    expect(await udpPortFree(port, '127.0.0.1')).toBe(false);
    socket.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(await udpPortFree(port, '127.0.0.1')).toBe(true);
  });

  it('refuses a range without a pair', () => {
    expect(() => new PortPool(31001, 31002)).toThrow(RangeError);
  });
});

describe('engine choice', () => {
  it.each([
    ['auto', '/w/mediasoup-worker', 'mediasoup'],
    ['auto', null, 'werift'],
    ['werift', '/w/mediasoup-worker', 'werift'],
    ['mediasoup', '/w/mediasoup-worker', 'mediasoup'],
  ] as const)('%s with worker %s -> %s', (setting, worker, engine) => {
    expect(chooseEngine(setting, worker, 'no worker').engine).toBe(engine);
  });

  it('mediasoup asked for without a worker: an error that says why', () => {
    expect(() => chooseEngine('mediasoup', null, 'the mediasoup package is not installed')).toThrow(EngineUnavailableError);
    expect(() => chooseEngine('mediasoup', null, 'the mediasoup package is not installed')).toThrow(/not installed.*webrtc_engine=auto or werift/);
  });
});

describe('RTP clock helpers', () => {
  it('rtpDiff wraps at 32 bits', () => {
    expect(rtpDiff(100, 190)).toBe(90);
    expect(rtpDiff(0xfffffff0, 0x10)).toBe(0x20);
    expect(rtpDiff(0x10, 0xfffffff0)).toBe(-0x20);
  });

  it('senderClockAt: the publisher clock at an RTP timestamp from a sender report', () => {
    const report = { epochMs: 1_700_000_000_000, rtpTimestamp: 90_000 };
    expect(senderClockAt(0, report, 90_000)).toBe(1_700_000_000_000 - 1000);
    expect(senderClockAt(180_000, report, 90_000)).toBe(1_700_000_000_000 + 1000);
    expect(senderClockAt(4_294_967_296 - 48_000 + 10, { epochMs: 5000, rtpTimestamp: 10 }, 48_000)).toBe(4000);
  });

  it('ntpToEpochMs: NTP seconds since 1900 and a 32-bit fraction', () => {
    const epochSeconds = 1_700_000_000;
    const ntp = (BigInt(epochSeconds + 2_208_988_800) << 32n) | BigInt(2 ** 31);
    expect(ntpToEpochMs(ntp)).toBe(epochSeconds * 1000 + 500);
  });

  it('REMB bitrate as exponent and 18-bit mantissa', () => {
    expect(rembFields(100_000)).toEqual({ exp: 0, mantissa: 100_000 });
    const { exp, mantissa } = rembFields(2_500_000);
    expect(mantissa).toBeLessThanOrEqual(0x3ffff);
    expect(mantissa * 2 ** exp).toBeLessThanOrEqual(2_500_000);
    expect(mantissa * 2 ** exp).toBeGreaterThan(2_500_000 * 0.99);
  });
});

describe('feed ffmpeg and WHIP query', () => {
  it('feed: SDP on stdin, loopback only, a reorder queue, a listen timeout, WebM or Matroska by copy on stdout', () => {
    const args = rtpFeedArgs('webm', 15);
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    expect(after('-protocol_whitelist')).toBe('pipe,udp,rtp');
    expect(after('-localaddr')).toBe('127.0.0.1');
    expect(after('-listen_timeout')).toBe('15');
    expect(after('-reorder_queue_size')).toBe('500');
    expect(after('-i')).toBe('pipe:0');
    expect(after('-c')).toBe('copy');
    expect(args.slice(-3)).toEqual(['-f', 'webm', 'pipe:1']);
    expect(rtpFeedArgs('matroska', 15).slice(-3)).toEqual(['-f', 'matroska', 'pipe:1']);
  });

  it.each([
    [undefined, null],
    ['true', true],
    ['1', true],
    ['FALSE', false],
    ['0', false],
  ])('record=%s -> %s', (value, flag) => {
    expect(whipRecordFlag(value)).toBe(flag);
  });

  it('record=maybe is refused', () => {
    expect(() => whipRecordFlag('maybe')).toThrow(/true or false/);
  });
});

describe('WebRTC configuration keys', () => {
  it('defaults', () => {
    const { config } = parseServerConfig({}, '/home/wcs');
    expect(config).toMatchObject({
      ip: '127.0.0.1',
      mediaPortFrom: 31001,
      mediaPortTo: 32000,
      webrtcEngine: 'auto',
      whipToken: '',
      webrtcPublisherIdleTimeout: 10,
      webrtcCcMaxBitrate: 2500000,
    });
  });

  it.each([
    [{ webrtc_engine: 'janus' }, "Bad value for webrtc_engine: 'janus'; allowed: one of auto, werift, mediasoup"],
    [{ media_port_from: '31001', media_port_to: '31005' }, "Bad value for media_port_to: '31005'; allowed: at least media_port_from + 7"],
    [{ webrtc_publisher_idle_timeout: '0' }, "Bad value for webrtc_publisher_idle_timeout: '0'"],
    [{ webrtc_cc_max_bitrate: '5k' }, "Bad value for webrtc_cc_max_bitrate: '5k'"],
  ])('%j is refused', (raw, message) => {
    expect(() => parseServerConfig(raw, '/home/wcs')).toThrow(ConfigError);
    expect(() => parseServerConfig(raw, '/home/wcs')).toThrow(message);
  });
});

describe('RTCP BYE (werift drops it; we hand on a notice)', () => {
  const sr = Buffer.from('80c80006' + '00000001' + '0'.repeat(40), 'hex');
  const bye = Buffer.from('81cb0001' + '0000abcd', 'hex');
  const bye2 = Buffer.from('82cb0002' + '00000011' + '00000022', 'hex');

  it('finds the SSRCs of BYE packets in a compound packet', () => {
    expect(byeSsrcs(Buffer.concat([sr, bye]))).toEqual([0xabcd]);
    expect(byeSsrcs(Buffer.concat([bye2]))).toEqual([0x11, 0x22]);
    expect(byeSsrcs(sr)).toEqual([]);
    expect(byeSsrcs(Buffer.from('00', 'hex'))).toEqual([]);
  });

  it("werift's RTCP parser, once wrapped, reports the BYE next to the packets it knows", () => {
    installByeNotices();
    installByeNotices();
    const packets = RtcpPacketConverter.deSerialize(Buffer.concat([sr, bye])) as unknown[];
    expect(packets[0]).toBeInstanceOf(RtcpSrPacket);
    const notices = packets.filter((p) => p instanceof RtcpByeNotice) as RtcpByeNotice[];
    expect(notices).toHaveLength(1);
    expect(notices[0]!.ssrcs).toEqual([0xabcd]);
    expect(notices[0]!.type).toBe(203);
  });
});
