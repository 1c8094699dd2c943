import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConnectionLimits, LogThrottle } from '../../src/ingest/rtmp/connection-limits.js';
import {
  checkConnect,
  checkMessage,
  checkMessageHeader,
  checkStreamTarget,
  checkTimestampJump,
  MAX_COMMAND_BYTES,
} from '../../src/ingest/rtmp/rtmp-checks.js';
import { describeThrow } from '../../src/ingest/rtmp/rtmp-refusal.js';
import { installLastResort, UNCAUGHT_EXIT_CODE } from '../../src/last-resort.js';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

describe('checkMessageHeader', () => {
  it.each([
    [9, 1000, null],
    [9, 4 * 1024 * 1024, null],
    [9, 4 * 1024 * 1024 + 1, /larger than rtmp_max_message_size/],
    [20, MAX_COMMAND_BYTES, null],
    [20, MAX_COMMAND_BYTES + 1, /command message/],
    [1, 4, null],
    [1, 65, /control message of 65 bytes/],
  ] as const)('type %i, %i bytes', (type, length, expected) => {
    const reason = checkMessageHeader(type, length, 4 * 1024 * 1024);
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toMatch(expected);
  });
});

describe('checkMessage', () => {
  it.each([
    ['zero-length video', 9, Buffer.alloc(0), /empty video message/],
    ['4-byte AVC video', 9, Buffer.from([0x17, 1, 0, 0]), /needs 5/],
    ['AVC keyframe header', 9, Buffer.from([0x17, 1, 0, 0, 0]), null],
    ['short HEVC coded frame', 9, Buffer.from([0x91, ...Buffer.from('hvc1'), 0]), /HEVC video message of 6 bytes/],
    ['zero-length audio', 8, Buffer.alloc(0), /empty audio message/],
    ['1-byte AAC', 8, Buffer.from([0xaf]), /AAC audio message/],
    ['1-byte MP3', 8, Buffer.from([0x2f]), null],
    ['chunk size 0', 1, u32(0), /chunk size 0 is out of range/],
    ['chunk size with the top bit', 1, u32(0x80000000), /out of range/],
    ['chunk size 4096', 1, u32(4096), null],
    ['short chunk size', 1, Buffer.from([0, 0]), /control message of 2 bytes \(type 1\); it needs 4/],
    ['short peer bandwidth', 6, u32(1), /it needs 5/],
    ['empty command', 20, Buffer.alloc(0), /empty command message/],
    ['empty data', 18, Buffer.alloc(0), /empty data message/],
    ['unknown type', 99, Buffer.alloc(0), null],
  ] as const)('%s', (_what, type, payload, expected) => {
    const reason = checkMessage(type, payload);
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toMatch(expected);
  });
});

describe('checkConnect', () => {
  const url = 'rtmp://127.0.0.1:1935/live';
  it.each([
    ['a valid connect', { app: 'live', tcUrl: url }, null],
    ['no command object', null, /without a command object \(got null\)/],
    ['an array', ['live'], /without a command object \(got an array\)/],
    ['no tcUrl', { app: 'live' }, /connect without a tcUrl \(got nothing\)/],
    ['a tcUrl that is no URL', { app: 'live', tcUrl: 'live' }, /not a URL/],
    ['a numeric tcUrl', { app: 'live', tcUrl: 7 }, /got a number/],
    ['an app that is an array', { app: ['live'], tcUrl: url }, /app name must be a string \(got an array\)/],
    ['an empty app', { app: '', tcUrl: url }, /must not be empty/],
    ['an app with a slash', { app: 'live/x', tcUrl: url }, /may hold only/],
    ['an app with a control character', { app: 'li\u0007ve', tcUrl: url }, /control character \(U\+0007\)/],
  ] as const)('%s', (_what, cmdObj, expected) => {
    const reason = checkConnect(cmdObj);
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toMatch(expected);
  });
});

describe('checkStreamTarget', () => {
  it('reads name, login and token as node-media-server does', () => {
    expect(checkStreamTarget('cam1?login=alice&token=t1&record=true', 'publish')).toEqual({ ok: true, name: 'cam1', login: 'alice', token: 't1' });
    expect(checkStreamTarget('cam1', 'play')).toEqual({ ok: true, name: 'cam1', login: '', token: null });
    expect(checkStreamTarget('cam1?login=a&login=b', 'publish')).toMatchObject({ ok: true, login: 'a' });
  });

  it.each([
    [null, /stream name must be a string \(got null\)/],
    [42, /got a number/],
    [{ a: 1 }, /got an object/],
    [undefined, /got nothing/],
    ['', /must not be empty/],
    ['?login=x', /must not be empty/],
    ['a\u0000b', /control character \(U\+0000\)/],
    ['x'.repeat(201), /201 bytes long/],
    ['../x', /may hold only/],
    ['ok?login=a%0Ab', /login holds a control character \(U\+000A\)/],
    [`ok?login=${'l'.repeat(129)}`, /login is 129 bytes long/],
  ] as const)('refuses %j', (raw, expected) => {
    const result = checkStreamTarget(raw, 'publish');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(expected);
  });
});

describe('checkTimestampJump', () => {
  it.each([
    [9, 1000, null, null],
    [9, 3_600_040, 40, null],
    [9, 3_600_041, 40, /video timestamp jumps 3600001 ms ahead/],
    [8, 0xffffffff, 0, /audio timestamp jumps/],
    [8, 0, 5000, null],
  ] as const)('type %i at %i after %j', (type, clock, previous, expected) => {
    const reason = checkTimestampJump(type, clock, previous);
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toMatch(expected);
  });
});

describe('ConnectionLimits', () => {
  it('caps per address and in all, and frees places on release', () => {
    const limits = new ConnectionLimits(3, 2);
    expect(limits.admit('a')).toBeNull();
    expect(limits.admit('a')).toBeNull();
    expect(limits.admit('a')).toMatch(/2 RTMP connections are open from a \(rtmp_max_connections_per_ip=2\)/);
    expect(limits.admit('b')).toBeNull();
    expect(limits.admit('c')).toMatch(/3 RTMP connections are open \(rtmp_max_connections=3\)/);
    limits.release('a');
    expect(limits.total).toBe(2);
    expect(limits.admit('c')).toBeNull();
    expect(limits.admit('a')).toMatch(/rtmp_max_connections=3/);
  });
});

describe('LogThrottle', () => {
  it('lets one event a second through and counts the others', () => {
    const t = new LogThrottle(1000);
    expect(t.take(10_000)).toBe(0);
    expect(t.take(10_100)).toBeNull();
    expect(t.take(10_900)).toBeNull();
    expect(t.take(11_001)).toBe(2);
  });
});

describe('describeThrow', () => {
  it('names the error and the first frame outside Node, with short paths', () => {
    const err = new TypeError("Cannot read properties of null (reading 'len')");
    err.stack = `TypeError: x\n    at node:internal/buffer:74:11\n    at Object.amf0decObject (/srv/app/node_modules/node-media-server/src/protocol/amf.js:196:15)`;
    expect(describeThrow(err)).toBe("TypeError: Cannot read properties of null (reading 'len') at Object.amf0decObject (node-media-server/src/protocol/amf.js:196:15)");
    expect(describeThrow('text')).toBe('threw text');
  });
});

describe('installLastResort', () => {
  const silent = pino({ level: 'silent' });

  it('closes the daemon, then exits with code 70, once', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    let closes = 0;
    installLastResort({ log: silent, close: async () => void closes++, waitMs: 5000, exit: (c) => exits.push(c), target });
    target.emit('uncaughtException', new Error('boom'), 'uncaughtException');
    target.emit('unhandledRejection', new Error('again'));
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toBe(1);
    expect(exits).toEqual([UNCAUGHT_EXIT_CODE]);
  });

  it('exits after the bounded wait when closing hangs', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    installLastResort({ log: silent, close: () => new Promise<void>(() => undefined), waitMs: 50, exit: (c) => exits.push(c), target });
    target.emit('unhandledRejection', new Error('lost'));
    await new Promise((r) => setTimeout(r, 150));
    expect(exits).toEqual([UNCAUGHT_EXIT_CODE]);
  });

  it('exits when closing fails', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    installLastResort({ log: silent, close: () => Promise.reject(new Error('no')), waitMs: 5000, exit: (c) => exits.push(c), target });
    target.emit('uncaughtException', new Error('boom'), 'uncaughtException');
    await new Promise((r) => setTimeout(r, 20));
    expect(exits).toEqual([UNCAUGHT_EXIT_CODE]);
  });
});

describe('RTMP limit properties', () => {
  it('have their defaults and are validated with the key named', async () => {
    const { ConfigError, parseServerConfig } = await import('../../src/config/server-config.js');
    const { config } = parseServerConfig({}, '/srv/wcs');
    expect(config).toMatchObject({
      rtmpPublishTimeout: 10,
      rtmpMaxConnections: 1000,
      rtmpMaxConnectionsPerIp: 100,
      rtmpMaxMessageSize: 4 * 1024 * 1024,
      rtmpPlayEnabled: false,
    });
    expect(parseServerConfig({ rtmp_max_message_size: '16m' }, '/srv/wcs').config.rtmpMaxMessageSize).toBe(0xffffff);
    expect(parseServerConfig({ rtmp_max_message_size: '65536' }, '/srv/wcs').config.rtmpMaxMessageSize).toBe(65536);
    for (const [key, value, allowed] of [
      ['rtmp_max_message_size', '1k', /a size from 64k to 16m/],
      ['rtmp_max_message_size', '17m', /a size from 64k to 16m/],
      ['rtmp_max_message_size', 'lots', /a size from 64k to 16m/],
      ['rtmp_publish_timeout', '0', /an integer from 1 to 3600/],
      ['rtmp_max_connections', '0', /an integer from 1/],
      ['rtmp_max_connections_per_ip', '-1', /an integer from 1/],
      ['rtmp_play_enabled', 'maybe', /true|false/],
    ] as const) {
      expect(() => parseServerConfig({ [key]: value }, '/srv/wcs')).toThrow(ConfigError);
      expect(() => parseServerConfig({ [key]: value }, '/srv/wcs')).toThrow(new RegExp(`Bad value for ${key}: '${value}'; allowed: ${allowed.source}`));
    }
  });
});
