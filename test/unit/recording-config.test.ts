import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { recordingOverridesOf, RecordingConfigError } from '../../src/http/recording-config.js';
import { BUILT_IN_PRESETS } from '../../src/recording/presets.js';

describe('the options of a startup config (issue 18 item 8)', () => {
  it('become the recorder options: maxLength in ms, the preset resolved by name', () => {
    const o = recordingOverridesOf({ format: 'mkv', audio: false, maxLength: 2.5, preset: 'h264-720p' }, BUILT_IN_PRESETS);
    expect(o.options).toMatchObject({ format: 'mkv', audio: false, maxLengthMs: 2500 });
    expect(o.options?.preset?.name).toBe('h264-720p');
    expect(o.options?.preset?.width).toBe(1280);
  });

  it('none given: no options (the running recording with the server settings is kept by a startup without them)', () => {
    expect(recordingOverridesOf({ fileTemplate: '{streamName}' }, BUILT_IN_PRESETS).options).toBeUndefined();
    expect(recordingOverridesOf(undefined, BUILT_IN_PRESETS)).toEqual({});
  });

  it.each([
    [{ preset: 'nope' }, /preset 'nope' is unknown; known: h264-1080p/],
    [{ maxLength: 0 }, /maxLength must be seconds above 0/],
    [{ maxLength: 10 * 86400 }, /at most 604800/],
    [{ audio: false, video: false }, /both false/],
    [{ preset: 'av1-720p', format: 'ts' as const }, /format ts cannot hold AV1 video/],
  ])('%j: RecordingConfigError', (config, message) => {
    expect(() => recordingOverridesOf(config, BUILT_IN_PRESETS)).toThrow(RecordingConfigError);
    expect(() => recordingOverridesOf(config, BUILT_IN_PRESETS)).toThrow(message);
  });
});

describe('issue 18 properties', () => {
  it('defaults: hook timeout 60 s, 2 hooks at once, 1000 queued, 2 transcodes', () => {
    const { config } = parseServerConfig({}, '/srv');
    expect([config.onRecordHookTimeout, config.onRecordHookMaxConcurrent, config.onRecordHookMaxQueued, config.recordTranscodeMaxConcurrent]).toEqual([60, 2, 1000, 2]);
  });

  it.each([
    ['on_record_hook_timeout', '0'],
    ['on_record_hook_max_concurrent', '0'],
    ['on_record_hook_max_queued', 'lots'],
    ['record_transcode_max_concurrent', '-1'],
  ])('%s=%s is refused naming the key', (key, value) => {
    expect(() => parseServerConfig({ [key]: value }, '/srv')).toThrow(new RegExp(`Bad value for ${key}`));
  });
});
