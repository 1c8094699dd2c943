import { describe, expect, it } from 'vitest';
import { assembleArgs } from '../../src/recording/multi/assemble.js';
import { decodeTrackIdentity, editsOf, encodeTrackIdentity, parseMoov, readBoxes, tracksInfoJson } from '../../src/recording/multi/mp4-tracks.js';
import { multiNameValues } from '../../src/recording/multi/multi-recorder.js';
import { MultiRecorderUriError, multiRecorderStreamName, parseMultiRecorderUri } from '../../src/recording/multi/multi-uri.js';
import { StreamClock } from '../../src/recording/multi/participant.js';
import { DEFAULT_VIDEO_ENCODING, participantMuxerArgs, participantPlan } from '../../src/recording/multi/participant-plan.js';
import { nameRecord } from '../../src/recording/naming.js';

const ID = '32c7edd7-37bf-4bf2-a58d-955679c5287e';

describe('multiple recorder URIs and file names', () => {
  it.each([
    ['multi-recorder://test-record', 'multi-recorder__test-record'],
    ['multi-recorder://room1', 'multi-recorder__room1'],
    ['multi-recorder://a/b:c*d?e"f<g>h|i\\j', 'multi-recorder__a_b_c_d_e_f_g_h_i_j'],
    ['multi-recorder://комната 1', 'multi-recorder__комната 1'],
  ])('%s -> {streamName} %s', (uri, name) => {
    expect(multiRecorderStreamName(uri)).toBe(name);
  });

  it.each(['room1', 'multi-recorder://', 'multi-recorder:/x', 'rtmp://x', 'multi-recorder://a\nb', `multi-recorder://${'x'.repeat(300)}`])(
    'refuses %j',
    (uri) => {
      expect(() => parseMultiRecorderUri(uri)).toThrow(MultiRecorderUriError);
    },
  );

  it("renders the document's example: {startTime}/{endTime} are -1, millis from the server clock", () => {
    const rules = { template: '{streamName}-{startTime}-{startTimeMillis}-{endTime}-{endTimeMillis}', encoding: 'none' as const, exclude: '/' };
    const values = multiNameValues({ uri: 'multi-recorder://test-record', mediaSessionId: ID, startTimeMillis: 1628821032180 }, 1628821151750);
    expect(nameRecord(rules, values, 'empty', 'mp4', null)).toBe('multi-recorder__test-record--1-1628821032180--1-1628821151750.mp4');
    // while recording, what is not known yet stays literal (as /recorder/find_all shows it)
    expect(nameRecord(rules, multiNameValues({ uri: 'multi-recorder://test-record', mediaSessionId: ID, startTimeMillis: 5 }), 'keep', 'mp4', null)).toBe(
      'multi-recorder__test-record--1-5--1-{endTimeMillis}.mp4',
    );
  });

  it('default template: {mediaSessionId} is the recorder\'s own id, {login} "mockLogin", as in the document\'s multiple recording', () => {
    const rules = { template: 'stream-{mediaSessionId}-{login}', encoding: 'none' as const, exclude: '/' };
    const recorder = { uri: 'multi-recorder://room-bacelf', mediaSessionId: ID, startTimeMillis: 1628821032180 };
    const final = nameRecord(rules, multiNameValues(recorder, 1628821151750, 44061), 'empty', 'mp4', null);
    expect(final).toBe('stream-32c7edd7-37bf-4bf2-a58d-955679c5287e-mockLogin.mp4');
    // find_all while recording shows the same name: nothing of this template waits for the end
    expect(nameRecord(rules, multiNameValues(recorder), 'keep', 'mp4', null)).toBe(final);
    // two recorders never share a name (no more stream--.mp4, stream--_2.mp4)
    const other = nameRecord(rules, multiNameValues({ ...recorder, mediaSessionId: '9f1e2530-fbfe-11eb-9ec1-77172ac14d86' }), 'empty', 'mp4', null);
    expect(other).not.toBe(final);
    expect(other).toBe('stream-9f1e2530-fbfe-11eb-9ec1-77172ac14d86-mockLogin.mp4');
    // every element filled: other templates too
    const all = { template: '{streamName}_{mediaSessionId}_{login}_{duration}', encoding: 'none' as const, exclude: '/' };
    expect(nameRecord(all, multiNameValues(recorder, 1628821151750, 44061), 'empty', 'mp4', null)).toBe(
      `multi-recorder__room-bacelf_${ID}_mockLogin_44061.mp4`,
    );
  });
});

describe('participant files', () => {
  it.each([
    ['H264', 'AAC', { video: 'copy', audio: 'copy' }],
    ['H264', 'MP3', { video: 'copy', audio: 'aac' }],
    ['H264', 'SPEEX', { video: 'copy', audio: 'aac' }],
    ['H264', 'OPUS', { video: 'copy', audio: 'aac' }],
    ['H264', '', { video: 'copy', audio: 'none' }],
    ['', 'PCMA', { video: 'none', audio: 'aac' }],
    ['', 'OPUS', { video: 'none', audio: 'aac' }],
    ['VP8', 'OPUS', { video: 'h264', audio: 'aac' }],
    ['VP9', 'OPUS', { video: 'h264', audio: 'aac' }],
    ['AV1', '', { video: 'h264', audio: 'none' }],
  ])('%s + %s', (v, a, plan) => {
    expect(participantPlan(v, a)).toEqual(plan);
  });

  it('refuses video that is neither H.264 nor encodable to it', () => {
    expect(participantPlan('H265', 'AAC')).toBeNull();
    expect(participantPlan('MPEG4', 'AAC')).toBeNull();
  });

  const audio = { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 };
  it('muxer of a copied participant: FLV in, H.264 and AAC copied into a flushed fragmented MP4', () => {
    expect(participantMuxerArgs({ video: 'copy', audio: 'copy' }, 'flv', audio, DEFAULT_VIDEO_ENCODING, '/w/p-1.mp4')).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'level+warning', '-f', 'flv', '-i', 'pipe:0', '-map', '0:v?', '-map', '0:a?',
      '-c:v', 'copy', '-c:a', 'copy',
      '-movflags', '+frag_keyframe+delay_moov+default_base_moof', '-frag_duration', '500000', '-f', 'mp4', '-flush_packets', '1', '-y', '/w/p-1.mp4',
    ]);
  });

  it('muxer of a WebRTC VP8 participant: WebM in, VP8 to H.264 (keyframes every 2 s, own frame times), Opus to AAC', () => {
    const args = participantMuxerArgs({ video: 'h264', audio: 'aac' }, 'webm', audio, { preset: 'superfast', crf: 23, keyframeIntervalSeconds: 2 }, '/w/p-2.mp4');
    expect(args.slice(0, 8)).toEqual(['-hide_banner', '-nostdin', '-loglevel', 'level+warning', '-f', 'matroska', '-i', 'pipe:0']);
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    expect(after('-c:v')).toBe('libx264');
    expect(after('-preset')).toBe('superfast');
    expect(after('-tune')).toBe('zerolatency');
    expect(after('-pix_fmt')).toBe('yuv420p');
    expect(after('-force_key_frames')).toBe('expr:gte(t,n_forced*2)');
    expect(after('-fps_mode')).toBe('vfr');
    expect(after('-c:a')).toBe('aac');
    expect(after('-ar')).toBe('44100');
    expect(after('-b:a')).toBe('112k');
    expect(args.slice(-2)).toEqual(['-y', '/w/p-2.mp4']);
    expect(args).toContain('+frag_keyframe+delay_moov+default_base_moof');
  });

  it('muxer of an H.264 WebRTC participant copies its video out of the WebM/Matroska feed', () => {
    const args = participantMuxerArgs({ video: 'copy', audio: 'aac' }, 'webm', audio, DEFAULT_VIDEO_ENCODING, '/w/p-3.mp4');
    expect(args).toContain('matroska');
    expect(args[args.indexOf('-c:v') + 1]).toBe('copy');
    expect(args).not.toContain('libx264');
  });

  it('maps stream timestamps to the server clock by the earliest arrival (GOP cache replays arrive late)', () => {
    const clock = new StreamClock();
    expect(clock.known).toBe(false);
    // a GOP from the cache: timestamps 1000..1900 all delivered at 10_000
    for (const ts of [1000, 1500, 1900]) clock.note(ts, 10_000);
    // then live: 2000 at 10_100, 2100 at 10_205 (jitter)
    clock.note(2000, 10_100);
    clock.note(2100, 10_205);
    expect(clock.toWall(1000)).toBe(9_100);
    expect(clock.toWall(2100)).toBe(10_200);
  });
});

describe('assembling one MP4', () => {
  const rec = (participant: number, startWallMs: number, streamName = `s${participant}`, mediaSessionId = `m${participant}`) => ({
    participant,
    streamName,
    mediaSessionId,
    file: `/w/participant-${participant}.mp4`,
    startWallMs,
    endWallMs: startWallMs + 1000,
    hasVideo: true,
    hasAudio: true,
  });

  it('offsets each participant by its join time and names every track', () => {
    const args = assembleArgs(
      [
        { record: rec(2, 15_000, 'bob', 'mb'), tracks: ['AUDIO', 'VIDEO'] },
        { record: rec(1, 10_000, 'alice', 'ma'), tracks: ['VIDEO', 'AUDIO'] },
        { record: rec(3, 22_345, 'bob', 'mb'), tracks: ['VIDEO'] },
      ],
      '/out.mp4',
      'multi-recorder://room',
      new Date(0),
    );
    const joined = args.join(' ');
    expect(joined).toContain('-itsoffset 0.000 -i /w/participant-1.mp4 -itsoffset 5.000 -i /w/participant-2.mp4 -itsoffset 12.345 -i /w/participant-3.mp4');
    // video first, then audio, in join order: a re-added stream gets the next ids
    const maps = args.flatMap((a, i) => (a === '-map' ? [args[i + 1]] : []));
    expect(maps).toEqual(['0:0', '0:1', '1:1', '1:0', '2:0']);
    const handler = (n: number) => decodeTrackIdentity(args[args.indexOf(`-metadata:s:${n}`) + 1]!.replace(/^handler_name=/, ''));
    expect(handler(0)).toEqual({ streamName: 'alice', mediaSessionId: 'ma', participant: 1 });
    expect(handler(3)).toEqual({ streamName: 'bob', mediaSessionId: 'mb', participant: 2 });
    expect(handler(4)).toEqual({ streamName: 'bob', mediaSessionId: 'mb', participant: 3 });
    expect(joined).toContain('-c copy');
    expect(joined).toContain('title=multi-recorder://room');
  });
});

/** Builds MP4 boxes for the reader's tests. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}
const u32 = (...n: number[]) => Buffer.concat(n.map((v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; }));
const u16 = (...n: number[]) => Buffer.concat(n.map((v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; }));
const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; };

function trak(id: number, kind: 'vide' | 'soun', timescale: number, name: string, edits: [number, number][], durationMovie: number): Buffer {
  const tkhd = box('tkhd', u32(0, 1, 2, id, 0, durationMovie), Buffer.alloc(60));
  const elst = box('elst', u32(0, edits.length), ...edits.map(([d, t]) => Buffer.concat([u32(d), i32(t), u32(0x10000)])));
  const mdhd = box('mdhd', u32(0, 1, 2, timescale, 123456), Buffer.alloc(4));
  const hdlr = box('hdlr', u32(0, 0), Buffer.from(kind, 'latin1'), Buffer.alloc(12), Buffer.from(name + '\0', 'utf8'));
  const entry =
    kind === 'vide'
      ? box('avc1', Buffer.alloc(6), u16(1), Buffer.alloc(16), u16(320, 240), Buffer.alloc(50))
      : box('mp4a', Buffer.alloc(6), u16(1), Buffer.alloc(8), u16(2, 16), Buffer.alloc(4), u32(44100 * 65536));
  const stsd = box('stsd', u32(0, 1), entry);
  return box('trak', tkhd, box('edts', elst), box('mdia', mdhd, hdlr, box('minf', box('stbl', stsd))));
}

describe('MP4 box reader and --show-tracks-info', () => {
  it('reads edits as pause/media spans on the movie timeline', () => {
    expect(editsOf([{ duration: 14, mediaTime: -1 }, { duration: 37268, mediaTime: 0 }], 1000)).toEqual([
      { type: 'pause', startMs: 0, endMs: 14 },
      { type: 'media', startMs: 14, endMs: 37282 },
    ]);
    expect(editsOf([{ duration: 90000, mediaTime: 1024 }], 90000)).toEqual([{ type: 'media', startMs: 0, endMs: 1000 }]);
  });

  it('prints the JSON of the WCS document, ids 0-based, identity from the handler name', () => {
    const alice = encodeTrackIdentity({ streamName: 'alice', mediaSessionId: 'e6ff', participant: 1 });
    const bob = encodeTrackIdentity({ streamName: 'bob', mediaSessionId: 'f746', participant: 2 });
    const moov = Buffer.concat([
      box('mvhd', u32(0, 3724973476, 3724973477, 1000, 39303), Buffer.alloc(80)),
      trak(1, 'vide', 90000, alice, [[37336, 0]], 37336),
      trak(2, 'soun', 44100, alice, [[14, -1], [37268, 0]], 37282),
      trak(3, 'vide', 90000, bob, [[21434, -1], [17869, 0]], 39303),
    ]);
    const [top] = readBoxes(box('moov', moov));
    const movie = parseMoov(box('moov', moov), top);
    expect(movie).toMatchObject({ timescale: 1000, durationMs: 39303, creationTime: 3724973476, modificationTime: 3724973477 });
    expect(tracksInfoJson(movie)).toEqual([
      {
        durationInMS: '37336',
        trackEdits: [{ endInMs: '37336', type: 'media', startInMs: '0' }],
        trackType: 'VIDEO', trackId: '0', width: '320', height: '240', timescale: '90000',
        streamName: 'alice', trackCodec: 'avc1', mediaSessionId: 'e6ff',
      },
      {
        durationInMS: '37282',
        trackEdits: [{ endInMs: '14', type: 'pause', startInMs: '0' }, { endInMs: '37282', type: 'media', startInMs: '14' }],
        channels: '2', trackType: 'AUDIO', trackId: '1', timescale: '44100', streamName: 'alice',
        trackCodec: 'mp4a', sampleRate: '44100', mediaSessionId: 'e6ff',
      },
      {
        durationInMS: '39303',
        trackEdits: [{ endInMs: '21434', type: 'pause', startInMs: '0' }, { endInMs: '39303', type: 'media', startInMs: '21434' }],
        trackType: 'VIDEO', trackId: '2', width: '320', height: '240', timescale: '90000',
        streamName: 'bob', trackCodec: 'avc1', mediaSessionId: 'f746',
      },
    ]);
  });

  it('leaves tracks it did not write without identity', () => {
    expect(decodeTrackIdentity('VideoHandler')).toBeNull();
    expect(decodeTrackIdentity('{"streamName":1}')).toBeNull();
    expect(decodeTrackIdentity('{broken')).toBeNull();
  });
});
