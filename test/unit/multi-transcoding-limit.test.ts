import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskGuard } from '../../src/recording/disk-guard.js';
import { HookRunner } from '../../src/recording/hook-runner.js';
import {
  AlreadyAddedError,
  MultiRecorderManager,
  TranscodingLimitError,
  UnsupportedStreamError,
} from '../../src/recording/multi/multi-recorder-manager.js';
import { DEFAULT_VIDEO_ENCODING } from '../../src/recording/multi/participant-plan.js';
import type { MediaTap, StreamSource, TapConsumer } from '../../src/streams/media-tap.js';
import { Stream } from '../../src/streams/stream.js';
import { StreamRegistry } from '../../src/streams/stream-registry.js';

/**
 * The bound on transcoded participants (multi_recorder_max_transcoded_participants),
 * counted over every recorder. The streams' sources deliver no media, so no
 * muxer is ever started: this is the admission logic alone.
 */

/** A publish that never sends media; counts the keyframe requests it gets. */
class SilentSource implements StreamSource {
  readonly feedFormat: 'flv' | 'webm';
  keyframeRequests = 0;
  taps = 0;
  constructor(feed: 'flv' | 'webm') {
    this.feedFormat = feed;
  }
  openTap(_consumer: TapConsumer): MediaTap {
    this.taps++;
    return { close: () => this.taps-- };
  }
  disconnect(): void {}
  requestKeyframe(): void {
    this.keyframeRequests++;
  }
}

const log = pino({ level: 'silent' });
let dir: string;
let registry: StreamRegistry;

function publish(name: string, videoCodec: string, audioCodec: string): Stream {
  const source = new SilentSource(videoCodec === 'VP8' || videoCodec === 'H264' ? 'webm' : 'flv');
  const stream = new Stream({ name, app: 'live', mediaProvider: 'WebRTC', login: '', recordRequested: null, source });
  stream.media.videoCodec = videoCodec;
  stream.media.audioCodec = audioCodec;
  registry.publish(stream);
  return stream;
}

function manager(maxTranscodedParticipants: number): MultiRecorderManager {
  return new MultiRecorderManager(
    registry,
    {
      ffmpeg: 'ffmpeg',
      audio: { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 },
      video: DEFAULT_VIDEO_ENCODING,
      stopTimeoutMs: 1000,
      naming: { template: '{streamName}', encoding: 'none', exclude: '/' },
      dir,
      maxTranscodedParticipants,
    },
    new HookRunner(null, dir, log),
    new DiskGuard([dir], 0),
    log,
  );
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multi-limit-'));
  registry = new StreamRegistry();
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('transcoding places of multiple recordings', () => {
  it('VP8 participants take places over every recorder; H.264 and RTMP ones do not; a place is free again after remove and terminate', async () => {
    const m = manager(2);
    await m.startup('multi-recorder://a');
    await m.startup('multi-recorder://b');
    const [vp1, vp2, vp3] = ['vp1', 'vp2', 'vp3'].map((n) => publish(n, 'VP8', 'OPUS'));
    const chrome = publish('chrome', 'H264', 'OPUS');
    const rtmp = publish('rtmp', 'H264', 'AAC');
    const early = publish('early', '', '');

    m.add('multi-recorder://a', vp1!.mediaSessionId);
    m.add('multi-recorder://b', vp2!.mediaSessionId);
    expect(m.transcodingNow).toBe(2);
    expect(() => m.add('multi-recorder://a', vp3!.mediaSessionId)).toThrow(TranscodingLimitError);
    // the same stream added twice is a conflict (409), not a lack of places
    expect(() => m.add('multi-recorder://a', vp1!.mediaSessionId)).toThrow(AlreadyAddedError);
    for (const s of [chrome, rtmp, early]) m.add('multi-recorder://a', s.mediaSessionId);
    expect(m.transcodingNow).toBe(2);
    // each participant asked its publisher for a keyframe when it joined
    expect((vp1!.source as SilentSource).keyframeRequests).toBe(1);

    await m.remove('multi-recorder://a', vp1!.mediaSessionId);
    expect((vp1!.source as SilentSource).taps).toBe(0);
    expect(m.transcodingNow).toBe(1);
    m.add('multi-recorder://a', vp3!.mediaSessionId);
    expect(() => m.add('multi-recorder://a', vp1!.mediaSessionId)).toThrow(TranscodingLimitError);

    // nothing was recorded: terminate makes no file, and frees b's place
    expect(await m.terminate('multi-recorder://b')).toBeNull();
    expect(m.transcodingNow).toBe(1);
    m.add('multi-recorder://a', vp1!.mediaSessionId);
    expect(m.transcodingNow).toBe(2);
    await m.close();
    expect(m.transcodingNow).toBe(0);
    expect(m.findAll()).toEqual([]);
  });

  it('the refusal says which key bounds it and carries Retry-After', async () => {
    const m = manager(1);
    await m.startup('multi-recorder://r');
    const [a, b] = ['a', 'b'].map((n) => publish(n, 'VP8', 'OPUS'));
    m.add('multi-recorder://r', a!.mediaSessionId);
    let refused: unknown;
    try {
      m.add('multi-recorder://r', b!.mediaSessionId);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(TranscodingLimitError);
    expect((refused as TranscodingLimitError).message).toContain('1 of 1 transcoded participants');
    expect((refused as TranscodingLimitError).message).toContain('multi_recorder_max_transcoded_participants');
    expect((refused as TranscodingLimitError).retryAfterSeconds).toBe(10);
    await m.close();
  });

  it('0 places: VP8 is refused as unsupported (400), H.264 still joins; H.265 is never accepted', async () => {
    const m = manager(0);
    await m.startup('multi-recorder://z');
    expect(() => m.add('multi-recorder://z', publish('v', 'VP8', 'OPUS').mediaSessionId)).toThrow(UnsupportedStreamError);
    expect(() => m.add('multi-recorder://z', publish('h265', 'H265', 'AAC').mediaSessionId)).toThrow(UnsupportedStreamError);
    m.add('multi-recorder://z', publish('h', 'H264', 'AAC').mediaSessionId);
    expect(m.findAll()[0]!.mediaSessionsId).toHaveLength(1);
    await m.close();
  });
});
