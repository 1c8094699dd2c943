import { describe, expect, it } from 'vitest';
import { classifyFfmpegFailure } from '../../src/http/ffmpeg-failure.js';

const record = { path: '/srv/records/cam-1.mp4', fileName: 'cam-1.mp4' };
const output = '/srv/cuts/.cut-1234.part.mp4';

describe('classifyFfmpegFailure (the cutter and the playback join read ffmpeg the same way)', () => {
  it.each([
    ['the time limit', [], 30_000, 255, { kind: 'failed', why: "cutting 'cam-1.mp4' took longer than 30 s" }],
    // the time limit wins over whatever ffmpeg said while it was being stopped
    ['the time limit, ffmpeg naming its input as it stops', ['file:/srv/records/cam-1.mp4: Immediate exit requested'], 30_000, 255, { kind: 'failed', why: "cutting 'cam-1.mp4' took longer than 30 s" }],
    ['ffmpeg missing', ['spawn failed: spawn /x/ffmpeg ENOENT'], null, null, { kind: 'failed', why: 'ffmpeg could not be started (spawn /x/ffmpeg ENOENT)' }],
    [
      'the input unreadable: named by its name, never its path',
      ['[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found', 'file:/srv/records/cam-1.mp4: Invalid data found when processing input'],
      null,
      1,
      { kind: 'damaged', fileName: 'cam-1.mp4', why: 'ffmpeg: file:cam-1.mp4: Invalid data found when processing input' },
    ],
    [
      'the output not written: the reason, never the path',
      ['file:/srv/cuts/.cut-1234.part.mp4: No such file or directory'],
      null,
      1,
      { kind: 'failed', why: "cutting 'cam-1.mp4' failed: its output could not be written (No such file or directory)" },
    ],
    ['anything else', ['Could not write header for output file #0', 'No space left on device'], null, 1, { kind: 'failed', why: "cutting 'cam-1.mp4' failed (ffmpeg exit 1)" }],
  ] as const)('%s', (_what, tail, timedOut, exit, expected) => {
    const failure = classifyFfmpegFailure("cutting 'cam-1.mp4'", [record], tail, timedOut, exit, output);
    expect(failure).toEqual(expected);
    expect(JSON.stringify(failure)).not.toContain('/srv/');
  });

  it('without an output path, a line naming no input is this server trouble', () => {
    expect(classifyFfmpegFailure('joining 2 parts', [record], ['file:/srv/cuts/x.mp4: Permission denied'], null, 1)).toEqual({
      kind: 'failed',
      why: 'joining 2 parts failed (ffmpeg exit 1)',
    });
  });
});
