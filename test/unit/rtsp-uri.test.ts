import { describe, expect, it } from 'vitest';
import { ConfigError, parseServerConfig } from '../../src/config/server-config.js';
import {
  defaultStreamName,
  maskCredentials,
  parsePullList,
  parseRtspUri,
  RtspUriError,
  secretsOf,
  uriMatches,
} from '../../src/ingest/rtsp/rtsp-uri.js';

describe('parseRtspUri', () => {
  it.each([
    // uri, masked, key, default stream name
    ['rtsp://camera/stream1', 'rtsp://camera/stream1', 'rtsp://camera:554/stream1', 'rtsp://camera/stream1'],
    ['rtsp://camera:554/stream1', 'rtsp://camera:554/stream1', 'rtsp://camera:554/stream1', 'rtsp://camera/stream1'],
    ['RTSP://Camera.LAN:8554/live/ch0', 'rtsp://camera.lan:8554/live/ch0', 'rtsp://camera.lan:8554/live/ch0', 'rtsp://camera.lan:8554/live/ch0'],
    ['rtsp://admin:secret@10.0.0.7:554/Streaming/Channels/101', 'rtsp://***:***@10.0.0.7:554/Streaming/Channels/101', 'rtsp://10.0.0.7:554/Streaming/Channels/101', 'rtsp://10.0.0.7/Streaming/Channels/101'],
    ['rtsp://admin:p@ss:w@rd@10.0.0.7/s', 'rtsp://***:***@10.0.0.7/s', 'rtsp://10.0.0.7:554/s', 'rtsp://10.0.0.7/s'],
    ['rtsp://admin:p%40ss@cam/s', 'rtsp://***:***@cam/s', 'rtsp://cam:554/s', 'rtsp://cam/s'],
    ['rtsp://user@cam/s', 'rtsp://***:***@cam/s', 'rtsp://cam:554/s', 'rtsp://cam/s'],
    ['rtsps://cam/s', 'rtsps://cam/s', 'rtsps://cam:322/s', 'rtsps://cam/s'],
    ['rtsp://cam', 'rtsp://cam/', 'rtsp://cam:554/', 'rtsp://cam/'],
    ['rtsp://[::1]:8554/x', 'rtsp://[::1]:8554/x', 'rtsp://[::1]:8554/x', 'rtsp://[::1]:8554/x'],
    ['rtsp://cam/cgi?channel=1&user=admin&password=123', 'rtsp://cam/cgi?channel=1&user=***&password=***', 'rtsp://cam:554/cgi?channel=1&user=admin&password=123', 'rtsp://cam/cgi?channel=1&user=***&password=***'],
  ])('%s', (raw, masked, key, name) => {
    const uri = parseRtspUri(raw);
    // handed to ffmpeg as given, the scheme in lower case (ffmpeg 5.1 has no "RTSP" protocol)
    expect(uri.uri).toBe(raw.replace(/^[A-Za-z]+:/, (s) => s.toLowerCase()));
    expect(uri.masked).toBe(masked);
    expect(uri.key).toBe(key);
    expect(defaultStreamName(uri)).toBe(name);
    expect(defaultStreamName(uri)).not.toMatch(/secret|p@ss|p%40ss|123/);
  });

  it.each([
    ['', /empty/],
    ['http://cam/s', /scheme 'http' is not supported/],
    ['rtmp://cam/live/s', /rtsp:\/\/ or rtsps:\/\//],
    ['cam/s', /not of the form/],
    ['rtsp:/cam/s', /not of the form/],
    ['rtsp://', /no valid host/],
    ['rtsp://cam:99999/s', /port 99999/],
    ['rtsp://cam:0/s', /port 0/],
    ['rtsp://cam /s', /spaces/],
    ['rtsp://cam/s\n', /control/],
    ['rtsp://' + 'a'.repeat(3000), /longer than/],
    ['rtsp://admin:hunter2@/s', /no valid host/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseRtspUri(raw)).toThrow(RtspUriError);
    expect(() => parseRtspUri(raw)).toThrow(message);
    try {
      parseRtspUri(raw);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});

describe('maskCredentials', () => {
  it.each([
    ['rtsp://admin:wrong@127.0.0.1:40277/cam: Server returned 401 Unauthorized', 'rtsp://***:***@127.0.0.1:40277/cam: Server returned 401 Unauthorized'],
    ['Input #0, rtsp, from \'rtsps://u:p@h/x\':', "Input #0, rtsp, from 'rtsps://***:***@h/x':"],
    ['rtsp://127.0.0.1:1/cam: Connection refused', 'rtsp://127.0.0.1:1/cam: Connection refused'],
    ['two rtsp://a:b@h1/x and RTSP://c:d@h2/y', 'two rtsp://***:***@h1/x and RTSP://***:***@h2/y'],
  ])('%s', (text, masked) => {
    expect(maskCredentials(text)).toBe(masked);
  });

  it('masks the password wherever it appears, as written and decoded', () => {
    const uri = parseRtspUri('rtsp://admin:s3cr%3At@cam/s');
    expect(secretsOf(uri).sort()).toEqual(['s3cr%3At', 's3cr:t'].sort());
    expect(maskCredentials('auth s3cr:t failed; s3cr%3At', secretsOf(uri))).toBe('auth *** failed; ***');
  });
});

describe('uriMatches', () => {
  const uri = parseRtspUri('rtsp://admin:secret@cam:554/s');
  it.each([
    ['rtsp://admin:secret@cam:554/s', true],
    ['rtsp://***:***@cam:554/s', true],
    ['rtsp://cam/s', true],
    ['rtsp://other:pw@CAM:554/s', true],
    ['rtsp://cam/t', false],
    ['rtsp://cam:8554/s', false],
    ['not a uri', false],
  ])('%s -> %s', (given, expected) => {
    expect(uriMatches(uri, given)).toBe(expected);
  });
});

describe('parsePullList (rtsp_pull_streams)', () => {
  it('reads name=uri entries and bare URIs', () => {
    const list = parsePullList(' cam1=rtsp://a:b@h1/s?x=1 , rtsp://h2:8554/live ,, cam3 = rtsps://h3/s ');
    expect(list.map((e) => [e.name, e.uri.masked])).toEqual([
      ['cam1', 'rtsp://***:***@h1/s?x=1'],
      [null, 'rtsp://h2:8554/live'],
      ['cam3', 'rtsps://h3/s'],
    ]);
    expect(parsePullList('')).toEqual([]);
  });

  it.each([['cam1=http://h/s'], ['=rtsp://h/s'], ['cam1']])('rejects %j', (raw) => {
    expect(() => parsePullList(raw)).toThrow(RtspUriError);
  });
});

describe('RTSP properties', () => {
  const parse = (raw: Record<string, string> = {}) => parseServerConfig(raw, '/srv/wcs-home').config;

  it('defaults', () => {
    const c = parse();
    expect(c.recordRtspStreams).toBe(true);
    expect(c.rtspTransport).toBe('tcp');
    expect(c.rtspTimeout).toBe(10);
    expect(c.rtspReconnectMinDelay).toBe(1000);
    expect(c.rtspReconnectMaxDelay).toBe(30000);
    expect(c.rtspPullStreams).toEqual([]);
  });

  it('accepted values', () => {
    const c = parse({
      record_rtsp_streams: 'false',
      rtsp_transport: 'udp',
      rtsp_timeout: '3',
      rtsp_reconnect_min_delay: '200',
      rtsp_reconnect_max_delay: '200',
      rtsp_pull_streams: 'cam1=rtsp://u:p@h/s, cam2=rtsp://h2/s',
    });
    expect(c.recordRtspStreams).toBe(false);
    expect(c.rtspTransport).toBe('udp');
    expect(c.rtspTimeout).toBe(3);
    expect(c.rtspReconnectMinDelay).toBe(200);
    expect(c.rtspPullStreams.map((e) => e.name)).toEqual(['cam1', 'cam2']);
  });

  it.each([
    [{ rtsp_transport: 'http' }, /rtsp_transport.*one of tcp, udp/],
    [{ rtsp_timeout: '0' }, /rtsp_timeout/],
    [{ rtsp_reconnect_min_delay: '5000', rtsp_reconnect_max_delay: '1000' }, /rtsp_reconnect_max_delay.*at least rtsp_reconnect_min_delay/],
    [{ rtsp_pull_streams: 'cam1=rtsp://u:hunter2@h/s, cam1=rtsp://h2/s' }, /rtsp_pull_streams.*given twice/],
    [{ rtsp_pull_streams: 'cam1=rtsp://u:hunter2@h/s, cam2=rtsp://h/s' }, /given twice/],
    [{ rtsp_pull_streams: 'cam1=http://u:hunter2@h/s' }, /rtsp_pull_streams.*scheme/],
  ])('%j is refused with a message naming the key, without the password', (raw, message) => {
    expect(() => parse(raw)).toThrow(ConfigError);
    expect(() => parse(raw)).toThrow(message);
    try {
      parse(raw);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
