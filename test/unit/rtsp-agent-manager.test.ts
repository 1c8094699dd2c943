import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RtspAgentManager, RtspConflictError, RtspRequestError, type RtspAgentSettings } from '../../src/ingest/rtsp/rtsp-agent-manager.js';
import { parsePullList } from '../../src/ingest/rtsp/rtsp-uri.js';
import type { StreamSource } from '../../src/streams/media-tap.js';
import { Stream } from '../../src/streams/stream.js';
import { StreamRegistry } from '../../src/streams/stream-registry.js';

// '/bin/true' stands in for ffmpeg: it exits at once with no media, as a camera that never plays
function settings(over: Partial<RtspAgentSettings> = {}): RtspAgentSettings {
  return {
    ffmpeg: '/bin/true',
    transport: 'tcp',
    timeoutSeconds: 5,
    reconnectMinDelayMs: 60_000,
    reconnectMaxDelayMs: 60_000,
    audioBufferMax: 100,
    pullAtStartup: [],
    ...over,
  };
}

const log = pino({ level: 'silent' });
const managers: RtspAgentManager[] = [];

function manager(over: Partial<RtspAgentSettings> = {}, registry = new StreamRegistry()): RtspAgentManager {
  const m = new RtspAgentManager(settings(over), registry, log);
  managers.push(m);
  return m;
}

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

describe('RtspAgentManager', () => {
  it('starts a pull named by toStream, or by the URI without credentials; the agent never shows the password', () => {
    const m = manager();
    const a = m.startup({ uri: 'rtsp://admin:secret@cam1/s', toStream: 'lobby' });
    expect(a.toJSON()).toMatchObject({ uri: 'rtsp://***:***@cam1/s', toStream: 'lobby', transport: 'tcp', record: null, status: 'CONNECTING' });
    const b = m.startup({ uri: 'rtsp://admin:secret@cam2:8554/s?password=secret', record: false, transport: 'udp' });
    expect(b.toJSON()).toMatchObject({ toStream: 'rtsp://cam2:8554/s?password=***', transport: 'udp', record: false });
    expect(JSON.stringify(m.all().map((p) => p.toJSON()))).not.toContain('secret');
  });

  it('rtsps:// uses TCP (also when rtsp_transport is udp) and refuses UDP', () => {
    const m = manager({ transport: 'udp' });
    expect(m.startup({ uri: 'rtsps://cam/s' }).options.transport).toBe('tcp');
    expect(m.startup({ uri: 'rtsp://cam/s' }).options.transport).toBe('udp');
    expect(() => m.startup({ uri: 'rtsps://cam2/s', transport: 'udp' })).toThrow(RtspRequestError);
  });

  it.each(['http://cam/s', 'rtsp://', 'cam/s', 'rtsp://cam:0/s'])('refuses %j with a request error', (uri) => {
    expect(() => manager().startup({ uri })).toThrow(RtspRequestError);
  });

  it('refuses the same camera (whatever the credentials) and the same stream name, also one published by RTMP', () => {
    const registry = new StreamRegistry();
    const m = manager({}, registry);
    m.startup({ uri: 'rtsp://a:b@cam:554/s', toStream: 'one' });
    expect(() => m.startup({ uri: 'rtsp://c:d@CAM/s', toStream: 'two' })).toThrow(RtspConflictError);
    expect(() => m.startup({ uri: 'rtsp://cam/other', toStream: 'one' })).toThrow(/Stream name 'one'/);
    const source: StreamSource = { feedFormat: 'flv', openTap: () => ({ close: () => undefined }), disconnect: () => undefined };
    registry.publish(new Stream({ name: 'rtmp_one', app: 'live', mediaProvider: 'Flash', login: '', recordRequested: null, source }));
    expect(() => m.startup({ uri: 'rtsp://cam/third', toStream: 'rtmp_one' })).toThrow(/already published/);
  });

  it('finds by URI in any form and by status; terminate stops and forgets the pull', async () => {
    const m = manager();
    const p = m.startup({ uri: 'rtsp://admin:secret@cam/s', toStream: 'lobby' });
    m.startup({ uri: 'rtsp://cam/t', toStream: 'gate' });
    for (const uri of ['rtsp://admin:secret@cam/s', 'rtsp://***:***@cam/s', 'rtsp://cam:554/s', 'rtsp://x:y@cam/s']) {
      expect(m.find({ uri }).map((a) => a.options.streamName)).toEqual(['lobby']);
    }
    expect(m.find({ uri: 'rtsp://cam/u' })).toEqual([]);
    // the stand-in ffmpeg exits with no media: the pull waits to retry, saying why
    await new Promise<void>((resolve) => p.on('status', (s) => s === 'RETRYING' && resolve()));
    expect(p.lastError).toBe('ffmpeg exited with code 0 before any media');
    expect(m.find({ status: 'RETRYING' }).map((a) => a.options.streamName)).toContain('lobby');
    const stopped = await m.terminate('rtsp://cam/s');
    expect(stopped).toEqual([p]);
    expect(p.status).toBe('STOPPED');
    expect(m.all().map((a) => a.options.streamName)).toEqual(['gate']);
    expect(await m.terminate('rtsp://cam/s')).toEqual([]);
  });

  it('pulls rtsp_pull_streams at start-up; close() stops every pull and refuses new ones', async () => {
    const m = manager({ pullAtStartup: parsePullList('cam1=rtsp://u:p@h1/s, rtsp://h2/s') });
    m.start();
    expect(m.all().map((p) => p.options.streamName)).toEqual(['cam1', 'rtsp://h2/s']);
    const pulls = m.all();
    await m.close();
    expect(pulls.map((p) => p.status)).toEqual(['STOPPED', 'STOPPED']);
    expect(m.all()).toEqual([]);
    expect(() => m.startup({ uri: 'rtsp://h3/s' })).toThrow(RtspConflictError);
  });

  it('an ffmpeg that cannot be run: retried, with the reason', async () => {
    const m = manager({ ffmpeg: '/nonexistent/ffmpeg' });
    const p = m.startup({ uri: 'rtsp://cam/s' });
    await new Promise<void>((resolve) => p.on('status', (s) => s === 'RETRYING' && resolve()));
    expect(p.lastError).toMatch(/cannot run ffmpeg \(\/nonexistent\/ffmpeg\)/);
  });
});
