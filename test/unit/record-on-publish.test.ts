import { describe, expect, it } from 'vitest';
import { shouldRecordOnPublish, type RecordingPolicy } from '../../src/recording/recorder-manager.js';
import type { MediaProvider } from '../../src/streams/stream.js';

// record_streams, record_flash_published_streams (WCS "Recording streams on publishing")
describe('shouldRecordOnPublish', () => {
  // [record_streams, record_flash_published_streams, provider, recordRequested, expected]
  it.each<[boolean, boolean, MediaProvider, boolean | null, boolean]>([
    // record_streams=false: never, whatever else
    [false, false, 'Flash', null, false],
    [false, false, 'Flash', true, false],
    [false, false, 'Flash', false, false],
    [false, false, 'RTSP', null, false],
    [false, false, 'RTSP', true, false],
    [false, false, 'RTSP', false, false],
    [false, false, 'WebRTC', null, false],
    [false, false, 'WebRTC', true, false],
    [false, false, 'WebRTC', false, false],
    [false, true, 'Flash', null, false],
    [false, true, 'Flash', true, false],
    [false, true, 'Flash', false, false],
    [false, true, 'RTSP', null, false],
    [false, true, 'RTSP', true, false],
    [false, true, 'RTSP', false, false],
    [false, true, 'WebRTC', null, false],
    [false, true, 'WebRTC', true, false],
    [false, true, 'WebRTC', false, false],
    // record_streams=true, record_flash_published_streams=false
    [true, false, 'Flash', null, false],
    [true, false, 'Flash', true, true],
    [true, false, 'Flash', false, false],
    [true, false, 'RTSP', null, true],
    [true, false, 'RTSP', true, true],
    [true, false, 'RTSP', false, false],
    [true, false, 'WebRTC', null, true],
    [true, false, 'WebRTC', true, true],
    [true, false, 'WebRTC', false, false],
    // record_streams=true, record_flash_published_streams=true
    [true, true, 'Flash', null, true],
    [true, true, 'Flash', true, true],
    [true, true, 'Flash', false, false],
    [true, true, 'RTSP', null, true],
    [true, true, 'RTSP', true, true],
    [true, true, 'RTSP', false, false],
    [true, true, 'WebRTC', null, true],
    [true, true, 'WebRTC', true, true],
    [true, true, 'WebRTC', false, false],
  ])('record_streams=%s, record_flash_published_streams=%s, %s, recordRequested=%s -> %s', (recordStreams, recordFlash, mediaProvider, recordRequested, expected) => {
    const policy: RecordingPolicy = { recordStreams, recordFlashPublishedStreams: recordFlash, recordRtspStreams: true };
    expect(shouldRecordOnPublish({ mediaProvider, recordRequested }, policy)).toBe(expected);
  });

  // record_rtsp_streams: cameras' streams (a startup's `record` flag wins; record_streams=false turns all off)
  it.each<[boolean, boolean, MediaProvider, boolean | null, boolean]>([
    [true, false, 'RTSP', null, false],
    [true, false, 'RTSP', true, true],
    [true, false, 'RTSP', false, false],
    [true, true, 'RTSP', null, true],
    [true, true, 'RTSP', false, false],
    [false, true, 'RTSP', null, false],
    [false, true, 'RTSP', true, false],
    [true, false, 'Flash', null, true],
    [true, false, 'WebRTC', null, true],
  ])('record_streams=%s, record_rtsp_streams=%s, %s, recordRequested=%s -> %s', (recordStreams, recordRtsp, mediaProvider, recordRequested, expected) => {
    const policy: RecordingPolicy = { recordStreams, recordFlashPublishedStreams: true, recordRtspStreams: recordRtsp };
    expect(shouldRecordOnPublish({ mediaProvider, recordRequested }, policy)).toBe(expected);
  });
});
