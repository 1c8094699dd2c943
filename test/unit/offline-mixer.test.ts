import { describe, expect, it } from 'vitest';
import { MIXER_DEFAULTS, MixerConfigError, parseMixerConfig } from '../../src/tools/mixer-config.js';
import { gridLayout, mixArgs, mixGraph, progressPercent, segmentsOf, type MixParticipant } from '../../src/tools/mix-plan.js';
import { callbackBody, mixedName } from '../../src/tools/offline-mixer.js';

const p = (key: number, start: number, end: number, audio = true): MixParticipant => ({
  key,
  streamName: `s${key}`,
  video: { index: (key - 1) * 2, startMs: start, endMs: end },
  audio: audio ? { index: (key - 1) * 2 + 1, startMs: start, endMs: end } : null,
});

describe('offline_mixer.json', () => {
  it("takes the document's file, strings as booleans", () => {
    expect(parseMixerConfig('{"hasVideo":"true","hasAudio":"true","mixerDisplayStreamName":true}')).toEqual(MIXER_DEFAULTS);
    expect(parseMixerConfig('{"multithreading":true,"callbackUrl":"http://b/cb","minAvailableSpace":"500M","frameRate":25}')).toMatchObject({
      multithreading: true,
      callbackUrl: 'http://b/cb',
      minAvailableSpace: 500 * 1024 * 1024,
      frameRate: 25,
    });
  });
  it('warns once per unknown key and goes on (as WCS does with keys it does not use)', () => {
    const warnings: string[] = [];
    const config = parseMixerConfig('{"colour":1,"hasAudio":"false","mixerLayout":"grid","frameRate":25}', (line) => warnings.push(line));
    expect(config).toEqual({ ...MIXER_DEFAULTS, hasAudio: false, frameRate: 25 });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('"colour"');
    expect(warnings[1]).toContain('"mixerLayout"');
    expect(warnings.every((w) => !w.includes('\n'))).toBe(true);
    // without a listener it still parses
    expect(parseMixerConfig('{"colour":1}')).toEqual(MIXER_DEFAULTS);
    // known keys with wrong values are still refused, unknown keys beside them or not
    expect(() => parseMixerConfig('{"colour":1,"width":"wide"}', () => undefined)).toThrow(MixerConfigError);
  });
  it.each(['[]', '{"hasVideo":"yes"}', '{"minAvailableSpace":"lots"}', '{"callbackUrl":"ftp://x"}', '{"width":33.5}', '{'])(
    'refuses %s',
    (text) => {
      expect(() => parseMixerConfig(text)).toThrow(MixerConfigError);
    },
  );
});

describe('who is on screen when', () => {
  it('cuts the timeline where the set of participants changes (joins at 0, 5, 10 s, one leaves at 15 s)', () => {
    const segs = segmentsOf([p(1, 0, 20_000), p(2, 5_000, 15_000), p(3, 10_000, 20_000)], 20_000);
    expect(segs).toEqual([
      { startMs: 0, endMs: 5_000, present: [1] },
      { startMs: 5_000, endMs: 10_000, present: [1, 2] },
      { startMs: 10_000, endMs: 15_000, present: [1, 2, 3] },
      { startMs: 15_000, endMs: 20_000, present: [1, 3] },
    ]);
  });
  it('keeps a stretch with nobody, and ignores participants without video', () => {
    const audioOnly: MixParticipant = { key: 9, streamName: 'a', video: null, audio: { index: 9, startMs: 0, endMs: 10 } };
    expect(segmentsOf([p(1, 2_000, 4_000), audioOnly], 6_000)).toEqual([
      { startMs: 0, endMs: 2_000, present: [] },
      { startMs: 2_000, endMs: 4_000, present: [1] },
      { startMs: 4_000, endMs: 6_000, present: [] },
    ]);
  });
  it.each([
    [1, [{ x: 0, y: 0, width: 1280, height: 720 }]],
    [2, [{ x: 0, y: 0, width: 640, height: 720 }, { x: 640, y: 0, width: 640, height: 720 }]],
    [3, [{ x: 0, y: 0, width: 640, height: 360 }, { x: 640, y: 0, width: 640, height: 360 }, { x: 320, y: 360, width: 640, height: 360 }]],
  ])('grid of %i', (n, tiles) => {
    expect(gridLayout(n, 1280, 720)).toEqual(tiles);
  });
  it('grid of 5 is 3 x 2, tiles even-sized', () => {
    const g = gridLayout(5, 642, 362);
    expect(g).toHaveLength(5);
    for (const t of g) expect([t.width % 2, t.height % 2]).toEqual([0, 0]);
    expect(g.map((t) => t.y)).toEqual([0, 0, 0, 180, 180]);
  });
});

describe('filter graph and command line', () => {
  const opts = { config: { width: 640, height: 360, frameRate: 30, mixerDisplayStreamName: true }, durationMs: 20_000, labelFile: (k: number) => `/tmp/l-${k}.txt`, fontFile: '/f/DejaVuSans.ttf' };
  const graph = mixGraph([p(1, 0, 20_000), p(2, 5_000, 15_000), p(3, 10_000, 20_000)], true, true, opts);

  it('one picture per participant and tile size, placed per segment, shown only while present', () => {
    const f = graph.filter;
    expect(f).toMatch(/^color=c=black:s=640x360:r=30:d=20\.000/);
    // participant 1: full frame 0-5 s, half 5-10 and 15-20 s, quarter 10-15 s: three sizes
    expect(f).toContain('[0:0]split=3[p1in0][p1in1][p1in2]');
    expect(f).toContain('[p1in0]scale=640:360:force_original_aspect_ratio=decrease');
    expect(f).toContain("enable='between(t,0.000,5.000)'[bg1]");
    expect(f).toContain("enable='between(t,5.000,10.000)+between(t,15.000,20.000)'[bg2]");
    // participant 3 joins at 10 s: bottom row centred, then right half after 2 left at 15 s
    expect(f).toContain("[bg5][p3t0]overlay=x='if(between(t,10.000,15.000),160,0)':y='if(between(t,10.000,15.000),180,0)'");
    expect(f).toContain("[bg6][p3t1]overlay=x='if(between(t,15.000,20.000),320,0)'");
    expect(f).toContain("textfile='/tmp/l-2.txt':expansion=none");
    expect(f).toContain("fontfile='/f/DejaVuSans.ttf'");
    expect(f).toContain('[0:1]asetpts=PTS-STARTPTS,aresample=48000,adelay=0:all=1[a1]');
    expect(f).toContain('[0:3]asetpts=PTS-STARTPTS,aresample=48000,adelay=5000:all=1[a2]');
    expect(f).toContain('[a1][a2][a3]amix=inputs=3:duration=longest:dropout_transition=0:normalize=0[aout]');
    expect(graph.videoOut).toMatch(/^bg\d+$/);
  });

  it('no labels, no video or no audio when switched off', () => {
    expect(mixGraph([p(1, 0, 1000)], true, true, { ...opts, config: { ...opts.config, mixerDisplayStreamName: false } }).filter).not.toContain('drawtext');
    expect(mixGraph([p(1, 0, 1000)], false, true, opts)).toMatchObject({ videoOut: null, audioOut: 'aout' });
    expect(mixGraph([p(1, 0, 1000, false)], true, true, opts).audioOut).toBeNull();
  });

  it('one thread unless multithreading; progress from -progress pipe:1', () => {
    const single = mixArgs('/r/in.mp4', '/r/in_mixed.mp4', graph, 20_000, false, new Date(0));
    expect(single.filter((a) => a === '-threads')).toHaveLength(2);
    expect(single).toContain('-filter_complex_threads');
    expect(single.slice(-1)[0]).toBe('/r/in_mixed.mp4');
    expect(mixArgs('/r/in.mp4', '/o.mp4', graph, 20_000, true, new Date(0))).not.toContain('-threads');
    expect(progressPercent('out_time_us=5000000', 20_000)).toBe(25);
    expect(progressPercent('out_time_us=25000000', 20_000)).toBe(100);
    expect(progressPercent('frame=12', 20_000)).toBeNull();
  });

  it('names and callback body', () => {
    expect(mixedName('/r/multi-recorder__room.mp4')).toBe('/r/multi-recorder__room_mixed.mp4');
    const movie = { timescale: 1000, durationMs: 44061, creationTime: 1, modificationTime: 3724973476, tracks: [] };
    expect(callbackBody('/r/a.mp4', movie, [], { path: '/r/a_mixed.mp4', movie: { ...movie, durationMs: 44000, modificationTime: 3724973524 } }, 'multi-recorder://room')).toEqual({
      multiRecorderCreationModificationTime: 3724973476,
      multiRecorderDurationInMS: 44061,
      multiRecorderFilePath: '/r/a.mp4',
      recorderUri: 'multi-recorder://room',
      mixerParams: [{ path: '/r/a_mixed.mp4', durationInMs: 44000, creationModificationTime: 3724973524 }],
    });
  });
});
