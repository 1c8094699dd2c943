import path from 'node:path';
import type { RecorderSettings } from '../../src/recording/recorder.js';

/**
 * Recorder settings for tests that drive a Recorder or RecorderManager
 * directly: records in `dir`, temp parts in `dir/tmp`, no rotation, the
 * in-process muxer, MP4 moov first copied (no insert-range helper), the
 * server defaults of the rest. A test overrides what it is about.
 */
export function recorderSettings(dir: string, overrides: Partial<RecorderSettings> = {}): RecorderSettings {
  return {
    ffmpeg: 'ffmpeg',
    formats: { h264: 'mp4', vp8: 'webm' },
    naming: { template: '{streamName}', encoding: 'none', exclude: '/' },
    rotation: { kind: 'disabled' },
    indexParts: true,
    tmpDir: path.join(dir, 'tmp'),
    recordDir: dir,
    stopTimeoutMs: 5000,
    audio: { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 },
    matroska: { clusterDurationLimitMs: 100_000, clusterSizeLimit: 131072 },
    mp4: { moovFirst: true, reserveSpace: false, reservedBytes: 2048 * 1024, insertRange: false },
    insertRange: null,
    muxer: 'in-process',
    maxPendingInput: 1 << 26,
    limits: { errorIntervalMs: 3_600_000, maxErrors: 3, maxLengthMs: 0, idleTimeoutMs: 30_000 },
    ...overrides,
  };
}
