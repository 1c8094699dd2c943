/**
 * The recorded media bytes are the publisher's bytes, on every consumer path.
 *
 * Why: the RTMP ingest reads audio/video messages into 256 KiB slabs
 * (src/ingest/rtmp/tag-slab.ts) and hands out views of them. Once the slabs
 * are recycled through a pool, a consumer that lets go of a tag too early
 * lets a later message overwrite media still waiting to be written: the
 * record stays playable, ffprobe's packet counts stay right, only the bytes
 * are wrong. Every daemon the tests start runs with WCS_SLAB_POISON=1
 * (test/helpers/daemon.ts), in which mode the pool fills a recycled slab
 * with a pattern, so a too-early release turns into wrong bytes here.
 *
 * How: a known clip (testsrc2 + sine, H.264 + AAC, keyframe every second,
 * one clip without B-frames and one with) is published as FLV in real time
 * (-re -c copy, the FLV file itself, so the source packets are exactly what
 * the publisher sends). Every packet of every record is hashed (ffprobe
 * -show_packets -show_data_hash MD5) and must be a packet of the source, in
 * order, with no gap inside a record (a pause makes exactly one gap).
 *
 * Checked by hand first (ffmpeg 5.1.9, Debian 12), so that equal bytes give
 * equal hashes across containers: a 6 s clip with B-frames, as FLV, remuxed
 * with `-c copy` to plain MP4 and to fragmented MP4
 * (+frag_keyframe+empty_moov+default_base_moof): 440 packets each, and per
 * track the sequences (size, MD5 of the packet data) are identical: H.264 is
 * the same AVCC (length-prefixed) NAL units in FLV and MP4, AAC the same raw
 * frames (the ADTS-free access units; the AudioSpecificConfig is extradata
 * in both). Only the timestamps differ (the MP4 edit list shifts pts by the
 * B-frame delay; FLV's audio starts at its dts), so timestamps are never
 * compared, only bytes and order. No hash repeats inside a clip (testsrc2
 * draws a moving picture and a frame counter; the AAC frames of a sine differ
 * by the encoder's state), but the matcher does not rely on that: a repeated
 * hash is resolved by taking the next source packet in order.
 *
 * Checked that it notices (by editing dist/ only, not committed): a TagSlab
 * that reuses its one slab, filled with 0xA5, as soon as it is full (a pool
 * releasing too early) fails paths 1, 2, 3 and 7 at the first overwritten
 * packet (the in-process muxer holds tags until its fragment is written);
 * with 64 KiB slabs path 5 fails too (the player's start is replayed from
 * the GOP cache). Paths 4 and 6 write each tag into an ffmpeg's stdin at
 * once, so they show a too-early release only while a pipe write is pending:
 * the test stops (SIGSTOP) the ffmpeg of the B-frames record_muxer=ffmpeg
 * recording and the multi-recorder participant's for 4 s of media each, so
 * tags queue for their stdin; with that, the one-slab mutation fails them too
 * (ffmpeg loses the FLV sync on the overwritten bytes; the record ends early).
 *
 * Paths (one publish per stream, all at once, about 40 s in all):
 *   1. `?record=true` from the first frame, in-process MP4 muxer (both clips)
 *   2. `/rest-api/recorder/startup` mid-stream: starts from the GOP cache
 *   3. rotation (`config.rotation` of 5 s): every part, chained without gaps
 *   4. `record_muxer=ffmpeg` (second daemon): the ffmpeg stdin path (both clips)
 *   5. an RTMP player (`rtmp_play_enabled=true`) pulling while recording
 *   6. a multi-recorder participant (H.264 and AAC are copied:
 *      src/recording/multi/participant-plan.ts, then assembled with -c copy)
 *   7. pause/resume: one gap, the rest byte-identical
 *   8. frames above 64 KiB (a near-lossless 720p clip, about 16 Mbit/s):
 *      each is read into a region of its own from the size-class pools,
 *      recorded by both muxers
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { publish, type Publisher } from '../helpers/media.js';
import { logLines, postJson, streamNamed, type RecordJson } from '../helpers/rest.js';

type TrackType = 'video' | 'audio';

interface Packet {
  /** Position in its track, from 0. */
  readonly n: number;
  readonly pts: number;
  readonly dts: number;
  readonly size: number;
  readonly key: boolean;
  readonly hash: string;
}

type Tracks = Record<TrackType, Packet[]>;

const CLIP_SECONDS = 24;
const MEDIA_DIR = path.join(os.tmpdir(), 'wcs-test-media');

/**
 * An FLV clip of testsrc2 + sine, H.264 (a keyframe every second) + AAC, made once and reused:
 * `video` says the picture size and the encoder's settings.
 */
function makeClip(name: string, seconds: number, size: string, video: readonly string[]): string {
  const file = path.join(MEDIA_DIR, `integrity-${name}.flv`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(MEDIA_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.flv`;
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds),
    '-c:v', 'libx264', ...video, '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-f', 'flv', tmp,
  ]);
  fs.renameSync(tmp, file);
  return file;
}

/** 640x360 at 1 Mbit/s, B-frames or not. */
const makeFlvClip = (bframes: boolean): string =>
  makeClip(`${CLIP_SECONDS}s-g1-${bframes ? 'bf3' : 'bf0'}`, CLIP_SECONDS, '640x360', ['-preset', 'veryfast', '-b:v', '1M', '-bf', bframes ? '3' : '0']);

/** 720p at quantiser 4 (about 16 Mbit/s): nearly every video frame is above 64 KiB. */
const makeLargeFrameClip = (): string => makeClip('8s-720p-qp4', 8, '1280x720', ['-preset', 'ultrafast', '-qp', '4', '-bf', '0']);

/** Every packet of a file, per track, in file (decode) order, with the MD5 of its data. */
function packetsOf(file: string): Tracks {
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=codec_type,stream_index,pts_time,dts_time,size,flags,data_hash', '-show_data_hash', 'MD5', '-of', 'json', file],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const parsed = JSON.parse(out) as {
    packets?: { codec_type: string; stream_index: number; pts_time?: string; dts_time?: string; size: string; flags: string; data_hash: string }[];
  };
  const tracks: Tracks = { video: [], audio: [] };
  const streamOf: Partial<Record<TrackType, number>> = {};
  for (const p of parsed.packets ?? []) {
    if (p.codec_type !== 'video' && p.codec_type !== 'audio') continue;
    const type = p.codec_type;
    streamOf[type] ??= p.stream_index;
    if (streamOf[type] !== p.stream_index) throw new Error(`${file}: more than one ${type} stream (${streamOf[type]}, ${p.stream_index})`);
    const list = tracks[type];
    list.push({ n: list.length, pts: Number(p.pts_time), dts: Number(p.dts_time), size: Number(p.size), key: p.flags.startsWith('K'), hash: p.data_hash });
  }
  return tracks;
}

/** MD5 of each track's codec configuration (H.264 avcC, AAC AudioSpecificConfig): the sequence headers the ingest keeps. */
function extradataOf(file: string): Partial<Record<TrackType, string>> {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,extradata_hash', '-show_data_hash', 'MD5', '-of', 'json', file], { encoding: 'utf8' });
  const parsed = JSON.parse(out) as { streams?: { codec_type: string; extradata_hash?: string }[] };
  const hashes: Partial<Record<TrackType, string>> = {};
  for (const st of parsed.streams ?? []) if (st.codec_type === 'video' || st.codec_type === 'audio') hashes[st.codec_type] = st.extradata_hash;
  return hashes;
}

/** Where a record's packets are in the source: one source index per record packet, and the gaps. */
interface Alignment {
  readonly type: TrackType;
  readonly count: number;
  readonly sourceIndex: readonly number[];
  /** Record packet `at` follows a skip of source packets `from`..`to` (inclusive). */
  readonly gaps: readonly { at: number; from: number; to: number }[];
  readonly first: number;
  readonly last: number;
}

const describePacket = (p: Packet | undefined, where: string): string =>
  p === undefined ? `(no ${where} packet)` : `${where} packet #${p.n} (pts ${p.pts.toFixed(3)} s, dts ${p.dts.toFixed(3)} s, ${p.size} bytes, ${p.hash})`;

/**
 * Aligns a record's track with the source's: each record packet must be
 * the next source packet, or (a gap) a later one with the same bytes.
 * Throws, naming the record, the packet and both hashes, when one is no
 * packet of the source after the previous one.
 */
function align(label: string, type: TrackType, source: readonly Packet[], record: readonly Packet[]): Alignment {
  if (record.length === 0) throw new Error(`${label}: no ${type} packets in the record`);
  const positions = new Map<string, number[]>();
  for (const p of source) positions.set(p.hash, [...(positions.get(p.hash) ?? []), p.n]);
  const sourceIndex: number[] = [];
  const gaps: { at: number; from: number; to: number }[] = [];
  let prev = -1;
  for (const p of record) {
    const expected = prev + 1;
    let found: number | undefined;
    if (prev >= 0 && source[expected]?.hash === p.hash) found = expected;
    else found = (positions.get(p.hash) ?? []).find((i) => i > prev);
    if (found === undefined) {
      const elsewhere = positions.get(p.hash);
      const hint = elsewhere
        ? `; its bytes are source packet #${elsewhere.join(', #')}, earlier than the record's position (out of order or repeated)`
        : '; its bytes are no packet of the source (corrupt)';
      const expectation = prev < 0 ? 'expected the bytes of a source packet' : `expected ${describePacket(source[expected], 'source')}`;
      throw new Error(`${label}: ${type} ${describePacket(p, 'record')} of ${record.length}: ${expectation}${hint}`);
    }
    if (prev >= 0 && found !== expected) gaps.push({ at: p.n, from: expected, to: found - 1 });
    sourceIndex.push(found);
    prev = found;
  }
  return { type, count: record.length, sourceIndex, gaps, first: sourceIndex[0]!, last: sourceIndex[sourceIndex.length - 1]! };
}

function gapText(label: string, a: Alignment, source: readonly Packet[]): string {
  return a.gaps
    .map((g) => `${label}: ${a.type} gap before record packet #${g.at}: source packets #${g.from}..#${g.to} (pts ${source[g.from]!.pts.toFixed(3)}..${source[g.to]!.pts.toFixed(3)} s) missing`)
    .join('\n');
}

interface Source {
  readonly file: string;
  readonly tracks: Tracks;
  readonly extradata: Partial<Record<TrackType, string>>;
}

interface Checked {
  readonly video: Alignment;
  readonly audio: Alignment;
  readonly packets: Tracks;
}

/**
 * Aligns both tracks of a file with the source; throws on a packet that is
 * not the source's, or on codec configuration that is not the source's.
 */
function check(label: string, file: string, source: Source): Checked {
  const extradata = extradataOf(file);
  for (const type of ['video', 'audio'] as const) {
    if (extradata[type] !== source.extradata[type]) {
      throw new Error(`${label}: ${type} codec configuration (extradata) ${extradata[type]} is not the source's ${source.extradata[type]}`);
    }
  }
  const packets = packetsOf(file);
  return { video: align(label, 'video', source.tracks.video, packets.video), audio: align(label, 'audio', source.tracks.audio, packets.audio), packets };
}

/** The record's tracks are one run of source packets each, from a keyframe. */
function expectContiguous(label: string, c: Checked, { tracks: source }: Source): void {
  expect(c.video.gaps, gapText(label, c.video, source.video)).toEqual([]);
  expect(c.audio.gaps, gapText(label, c.audio, source.audio)).toEqual([]);
  expect(c.packets.video[0]!.key, `${label}: the first video packet is a keyframe (${describePacket(source.video[c.video.first], 'source')})`).toBe(true);
}

/** Everything from the record's first packet to the end of the source is there. */
function expectToTheEnd(label: string, c: Checked, { tracks: source }: Source): void {
  for (const type of ['video', 'audio'] as const) {
    const a = c[type];
    const n = source[type].length;
    const what = `${label}: the record's last ${type} packet, ${describePacket(source[type][a.last], 'source')}, should be the source's last of ${n} (the record ends ${a.last < n - 1 ? `${n - 1 - a.last} packets early: media lost` : 'there'})`;
    expect(a.last, what).toBe(n - 1);
  }
}

/** The first source audio packet stamped at or after a video packet's FLV timestamp (its dts). */
function firstAudioFrom({ tracks: source }: Source, videoIndex: number): number {
  const t = source.video[videoIndex]!.dts;
  return source.audio.findIndex((a) => a.dts >= t - 1e-9);
}

interface InProgressJson {
  mediaSessionId: string;
  state: string;
}

/** A record of a whole publish: one run of source packets from the first keyframe (and the first audio at or after it) to the end. */
function expectWholeRecord(label: string, file: string, source: Source): void {
  const c = check(label, file, source);
  expectContiguous(label, c, source);
  expect(c.video.first, `${label}: starts at the source's first video packet`).toBe(0);
  expect(c.audio.first, `${label}: starts at the first source audio packet at or after the first keyframe`).toBe(firstAudioFrom(source, 0));
  expectToTheEnd(label, c, source);
}

async function recordingActive(daemon: DaemonHandle, id: string): Promise<boolean> {
  const res = await postJson<InProgressJson[]>(daemon, '/rest-api/recorder/find_all');
  return res.status === 200 && Array.isArray(res.body) && res.body.some((r) => r.mediaSessionId === id);
}

/** The finished records of a recording, oldest first, once it has ended and every part is in record_dir. */
async function finishedRecords(daemon: DaemonHandle, id: string): Promise<string[]> {
  await waitFor(async () => !(await recordingActive(daemon, id)), 60_000, `the recording of ${id} to end`);
  await waitFor(() => !fs.readdirSync(daemon.recordDir).some((f) => f.startsWith('.rec-')), 60_000, 'no record being written');
  const res = await postJson<RecordJson[]>(daemon, '/rest-api/recorder/find_records', { mediaSessionId: id });
  expect(res.status).toBe(200);
  return [...res.body].sort((a, b) => a.startTimeMillis - b.startTimeMillis || a.fileName.localeCompare(b.fileName)).map((r) => path.join(daemon.recordDir, r.fileName));
}

/** An ffmpeg RTMP player copying the stream into an FLV file. */
function play(url: string, out: string): { proc: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const proc = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-rw_timeout', '3000000', '-i', url, '-map', '0', '-c', 'copy', '-f', 'flv', '-y', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, stderr: () => err };
}

/** The pid of a stream's ffmpeg muxer, from the daemon's log line that started it (`msg`). */
async function muxerPid(daemon: DaemonHandle, msg: string, stream: string): Promise<number> {
  let pid = 0;
  await waitFor(
    () => {
      const line = logLines(daemon, msg, `"stream":"${stream}"`)[0];
      pid = line === undefined ? 0 : Number((JSON.parse(line) as { pid?: number }).pid ?? 0);
      return pid > 0;
    },
    30_000,
    `"${msg}" of ${stream} with its pid`,
  );
  return pid;
}

/** Process state letter from /proc (T: stopped). */
function procState(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? '?';
}

const until = (what: string, check: () => boolean) => waitFor(check, 120_000, what);

describe('media integrity: every recorded packet is a publisher packet, byte for byte, in order', () => {
  let inProcess: DaemonHandle;
  let ffmpegMuxer: DaemonHandle;
  const publishers: Publisher[] = [];
  const players: ChildProcess[] = [];
  const sources: Partial<Record<'plain' | 'bframes' | 'large', Source>> = {};
  const src = (clip: 'plain' | 'bframes' | 'large'): Source => {
    const found = sources[clip];
    if (found === undefined) throw new Error(`no source clip ${clip}: the publish did not run`);
    return found;
  };
  /** Record files per path, filled by the one publish in beforeAll. */
  const files = {
    firstPlain: [] as string[],
    firstBframes: [] as string[],
    mid: [] as string[],
    rotation: [] as string[],
    ffmpegPlain: [] as string[],
    ffmpegBframes: [] as string[],
    pause: [] as string[],
    largeInProcess: [] as string[],
    largeFfmpeg: [] as string[],
    player: '',
    playerExitedByItself: false,
    playerExit: '',
    multi: '',
    multiProblem: '',
  };
  let pauseHeldSeconds = 0;
  /** ffmpeg muxers stopped with SIGSTOP (continued in afterAll whatever happens) and how long each was held. */
  const stalled = new Map<string, { pid: number; heldSeconds: number; stateWhileStopped: string }>();

  beforeAll(async () => {
    const clips = { plain: makeFlvClip(false), bframes: makeFlvClip(true), large: makeLargeFrameClip() };
    for (const clip of ['plain', 'bframes', 'large'] as const) sources[clip] = { file: clips[clip], tracks: packetsOf(clips[clip]), extradata: extradataOf(clips[clip]) };
    // recorded only when asked (?record=true or REST); no mixing hook; RTMP play on; multiple records apart
    const common = { record_flash_published_streams: false, on_multiple_record_hook_script: '', rtmp_play_enabled: true, multi_record_dir: 'multi' };
    [inProcess, ffmpegMuxer] = await Promise.all([startDaemon({ ...common, record_muxer: 'in-process' }), startDaemon({ ...common, record_muxer: 'ffmpeg' })]);
    const start = (d: DaemonHandle, name: string, clip: string, record: boolean): Publisher => {
      const p = publish(clip, `${d.rtmpUrl(name)}${record ? '?record=true' : ''}`);
      publishers.push(p);
      return p;
    };

    const pubs = {
      firstPlain: start(inProcess, 'first_plain', clips.plain, true),
      firstBframes: start(inProcess, 'first_bframes', clips.bframes, true),
      mid: start(inProcess, 'mid_bframes', clips.bframes, false),
      rotation: start(inProcess, 'rotate_bframes', clips.bframes, false),
      pause: start(inProcess, 'pause_bframes', clips.bframes, true),
      ffmpegPlain: start(ffmpegMuxer, 'ff_plain', clips.plain, true),
      ffmpegBframes: start(ffmpegMuxer, 'ff_bframes', clips.bframes, true),
      largeInProcess: start(inProcess, 'large_frames', clips.large, true),
      largeFfmpeg: start(ffmpegMuxer, 'ff_large_frames', clips.large, true),
    };
    const [firstPlain, firstBframes, mid, rotation, pause, ffPlain, ffBframes, largeIn, largeFf] = await Promise.all([
      streamNamed(inProcess, 'first_plain', 30_000),
      streamNamed(inProcess, 'first_bframes', 30_000),
      streamNamed(inProcess, 'mid_bframes', 30_000),
      streamNamed(inProcess, 'rotate_bframes', 30_000),
      streamNamed(inProcess, 'pause_bframes', 30_000),
      streamNamed(ffmpegMuxer, 'ff_plain', 30_000),
      streamNamed(ffmpegMuxer, 'ff_bframes', 30_000),
      streamNamed(inProcess, 'large_frames', 30_000),
      streamNamed(ffmpegMuxer, 'ff_large_frames', 30_000),
    ]);

    // 3. rotation: parts of 5 s, started by REST as soon as the stream is there
    const rotated = await postJson(inProcess, '/rest-api/recorder/startup', { mediaSessionId: rotation.mediaSessionId, config: { rotation: '5' } });
    expect(rotated.status).toBe(200);

    // 5. an RTMP player pulling first_plain while it is recorded; it joins late, so it starts from the GOP cache
    await until('first_plain past 3.5 s', () => pubs.firstPlain.sentSeconds() >= 3.5);
    const playDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-integrity-play-'));
    files.player = path.join(playDir, 'first_plain.flv');
    const player = play(inProcess.rtmpUrl('first_plain'), files.player);
    players.push(player.proc);

    // 6. a multi-recorder with first_bframes as its participant, added late (from the GOP cache too)
    await until('first_bframes past 4.5 s', () => pubs.firstBframes.sentSeconds() >= 4.5);
    const uri = 'multi-recorder://integrity';
    expect((await postJson(inProcess, '/rest-api/multipleRecorder/startup', { uri })).status).toBe(200);
    expect((await postJson(inProcess, '/rest-api/multipleRecorder/add', { uri, mediaSessionId: firstBframes.mediaSessionId })).status).toBe(200);

    // 4 and 6 with a muxer that falls behind: its ffmpeg is stopped (SIGSTOP) for 4 s of media, so the
    // pipe fills and the tags queue in the daemon (views, not copies) until ffmpeg reads them again
    const stall = async (key: string, daemon: DaemonHandle, msg: string, stream: string, pub: Publisher, from: number): Promise<void> => {
      const pid = await muxerPid(daemon, msg, stream);
      await until(`${stream} past ${from} s`, () => pub.sentSeconds() >= from);
      process.kill(pid, 'SIGSTOP');
      const entry = { pid, heldSeconds: 0, stateWhileStopped: '' };
      stalled.set(key, entry);
      await waitFor(() => procState(pid) === 'T', 5000, `${stream}'s muxer ${pid} stopped`);
      entry.stateWhileStopped = procState(pid);
      await until(`${stream} 4 s after its muxer stopped`, () => pub.sentSeconds() >= from + 4);
      entry.heldSeconds = pub.sentSeconds() - from;
      process.kill(pid, 'SIGCONT');
    };
    // settled here (awaited below), so a failure is not reported as an unhandled rejection meanwhile
    const stalls = Promise.all([
      stall('ffmpeg', ffmpegMuxer, 'Recording started', 'ff_bframes', pubs.ffmpegBframes, 5),
      stall('multi', inProcess, 'Participant recording started', 'first_bframes', pubs.firstBframes, 7),
    ]).then(
      () => null,
      (err: unknown) => err,
    );

    // 7. pause at 6 s of sent media, resume once 4 s more have been sent
    await until('pause_bframes past 6 s', () => pubs.pause.sentSeconds() >= 6);
    expect((await postJson(inProcess, '/rest-api/recorder/pause', { mediaSessionId: pause.mediaSessionId })).status).toBe(200);
    const pausedAt = pubs.pause.sentSeconds();
    // 2. mid-stream startup: the recording starts from the broadcast's GOP cache
    await until('mid_bframes past 8.5 s', () => pubs.mid.sentSeconds() >= 8.5);
    expect((await postJson(inProcess, '/rest-api/recorder/startup', { mediaSessionId: mid.mediaSessionId })).status).toBe(200);
    await until('pause_bframes 4 s after the pause', () => pubs.pause.sentSeconds() >= pausedAt + 4);
    expect((await postJson(inProcess, '/rest-api/recorder/resume', { mediaSessionId: pause.mediaSessionId })).status).toBe(200);
    pauseHeldSeconds = pubs.pause.sentSeconds() - pausedAt;

    const stallError = await stalls;
    if (stallError !== null) throw stallError;
    const codes = await Promise.all(Object.values(pubs).map((p) => p.exited));
    codes.forEach((code, i) => expect(code, `publisher ${Object.keys(pubs)[i]}: ${publishers[i]?.stderr()}`).toBe(0));

    [files.firstPlain, files.firstBframes, files.mid, files.rotation, files.pause, files.ffmpegPlain, files.ffmpegBframes, files.largeInProcess, files.largeFfmpeg] = await Promise.all([
      finishedRecords(inProcess, firstPlain.mediaSessionId),
      finishedRecords(inProcess, firstBframes.mediaSessionId),
      finishedRecords(inProcess, mid.mediaSessionId),
      finishedRecords(inProcess, rotation.mediaSessionId),
      finishedRecords(inProcess, pause.mediaSessionId),
      finishedRecords(ffmpegMuxer, ffPlain.mediaSessionId),
      finishedRecords(ffmpegMuxer, ffBframes.mediaSessionId),
      finishedRecords(inProcess, largeIn.mediaSessionId),
      finishedRecords(ffmpegMuxer, largeFf.mediaSessionId),
    ]);

    // the participant left with its publisher; the multi-recorder is finished by terminate
    const terminated = await postJson(inProcess, '/rest-api/multipleRecorder/terminate', { uri });
    const multiDir = path.join(inProcess.home, 'multi');
    const multi = fs.existsSync(multiDir) ? fs.readdirSync(multiDir).filter((f) => f.endsWith('.mp4')) : [];
    files.multi = terminated.status === 200 && multi.length === 1 ? path.join(multiDir, multi[0]!) : '';
    files.multiProblem = `terminate answered ${terminated.status} ${JSON.stringify(terminated.body)}; ${multiDir} holds ${JSON.stringify(multi)}`;

    // the daemon tells a player the publish ended (StreamEOF, NetStream.Play.UnpublishNotify) and ffmpeg's
    // RTMP input stops there (its -rw_timeout, 3 s without data, is a second way); if it has not within 20 s
    // it is asked to finish its file and the test fails
    const exitedByItself = await Promise.race([player.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
    if (!exitedByItself) {
      player.proc.kill('SIGINT');
      const timer = setTimeout(() => player.proc.kill('SIGKILL'), 5000);
      await player.exited;
      clearTimeout(timer);
    }
    files.playerExitedByItself = exitedByItself;
    files.playerExit = `exit code ${player.proc.exitCode ?? player.proc.signalCode}${player.stderr() ? `: ${player.stderr().trim()}` : ''}`;
  }, 300_000);

  afterAll(async () => {
    for (const { pid } of stalled.values()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    for (const p of publishers) p.proc.kill('SIGKILL');
    for (const p of players) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all([inProcess?.stop(), ffmpegMuxer?.stop()]);
  });

  describe('1. ?record=true from the first frame, in-process MP4 muxer', () => {
    for (const [name, clip, key] of [['B-frames off', 'plain', 'firstPlain'], ['B-frames on', 'bframes', 'firstBframes']] as const) {
      it(`${name}: every packet of the source, from its first keyframe to its end`, () => {
        expect(files[key]).toHaveLength(1);
        expect(inProcess.output, 'the daemon wrote the record itself').toMatch(/"muxer":"in-process"[^\n]*"Recording started"/);
        expectWholeRecord(`?record=true ${name} (${path.basename(files[key][0]!)})`, files[key][0]!, src(clip));
      });
    }
  });

  describe('2. /recorder/startup in the middle of the stream (from the GOP cache)', () => {
    it('one run of source packets from a keyframe past the start to the end', () => {
      expect(files.mid).toHaveLength(1);
      const label = `mid-stream startup (${path.basename(files.mid[0]!)})`;
      const c = check(label, files.mid[0]!, src('bframes'));
      expectContiguous(label, c, src('bframes'));
      expect(c.video.first, `${label}: starts after the stream's beginning`).toBeGreaterThan(0);
      expect(src('bframes').tracks.video[c.video.first]!.key).toBe(true);
      expectToTheEnd(label, c, src('bframes'));
    });
  });

  describe('3. rotation every 5 s', () => {
    it('every part is one run of source packets from a keyframe, and each part starts where the previous one ended', () => {
      expect(files.rotation.length, files.rotation.join('\n')).toBeGreaterThanOrEqual(3);
      let prev: Checked | undefined;
      files.rotation.forEach((file, i) => {
        const label = `rotation part ${i + 1} of ${files.rotation.length} (${path.basename(file)})`;
        const c = check(label, file, src('bframes'));
        expectContiguous(label, c, src('bframes'));
        if (prev !== undefined) {
          const p = prev;
          expect(c.video.first, `${label}: first video packet follows the previous part's last, ${describePacket(src('bframes').tracks.video[p.video.last], 'source')}`).toBe(p.video.last + 1);
          expect(c.audio.first, `${label}: first audio packet follows the previous part's last, ${describePacket(src('bframes').tracks.audio[p.audio.last], 'source')}`).toBe(p.audio.last + 1);
        }
        prev = c;
      });
      expectToTheEnd(`rotation, last part`, prev!, src('bframes'));
    });
  });

  describe('4. record_muxer=ffmpeg (the ffmpeg stdin path)', () => {
    it('B-frames on is the one whose ffmpeg was stopped for 4 s of media (tags queued for its stdin)', () => {
      const s = stalled.get('ffmpeg');
      expect(s?.stateWhileStopped, 'its muxer was stopped').toBe('T');
      expect(s!.heldSeconds).toBeGreaterThanOrEqual(4);
    });

    for (const [name, clip, key] of [['B-frames off', 'plain', 'ffmpegPlain'], ['B-frames on', 'bframes', 'ffmpegBframes']] as const) {
      it(`${name}: every packet of the source, from its first keyframe to its end`, () => {
        expect(files[key]).toHaveLength(1);
        expect(ffmpegMuxer.output, 'an ffmpeg process wrote the record').toMatch(/"muxer":"ffmpeg"[^\n]*"Recording started"/);
        expectWholeRecord(`record_muxer=ffmpeg ${name} (${path.basename(files[key][0]!)})`, files[key][0]!, src(clip));
      });
    }
  });

  describe('5. an RTMP player pulling while the stream is recorded', () => {
    it('what it got is one run of source packets from a keyframe past the start to the end', () => {
      const label = `RTMP player (${path.basename(files.player)})`;
      const c = check(label, files.player, src('plain'));
      expectContiguous(label, c, src('plain'));
      expect(c.video.first, `${label}: joined after the stream's beginning`).toBeGreaterThan(0);
      // told the publish ended, ffmpeg's RTMP input stops by itself
      expect(files.playerExitedByItself, `the player ended (${files.playerExit})`).toBe(true);
      expectToTheEnd(label, c, src('plain'));
      // the recording it played beside is checked by path 1 (B-frames off)
    });
  });

  describe('6. a multi-recorder participant (H.264 and AAC copied)', () => {
    it('its tracks are one run of source packets from a keyframe past the start to the end', () => {
      expect(stalled.get('multi')?.stateWhileStopped, 'its ffmpeg was stopped for 4 s of media (tags queued for its stdin)').toBe('T');
      expect(files.multi, `one multiple record: ${files.multiProblem}`).not.toBe('');
      const label = `multi-recorder (${path.basename(files.multi)})`;
      const c = check(label, files.multi, src('bframes'));
      expectContiguous(label, c, src('bframes'));
      expect(c.video.first, `${label}: added after the stream's beginning`).toBeGreaterThan(0);
      expectToTheEnd(label, c, src('bframes'));
    });
  });

  describe('7. pause and resume', () => {
    it('every packet is a source packet in order; the pause is the one gap in each track, resumed at a keyframe', () => {
      expect(files.pause).toHaveLength(1);
      const label = `pause/resume (${path.basename(files.pause[0]!)}, paused for ${pauseHeldSeconds.toFixed(1)} s of sent media)`;
      const c = check(label, files.pause[0]!, src('bframes'));
      expect(c.video.gaps, gapText(label, c.video, src('bframes').tracks.video)).toHaveLength(1);
      expect(c.audio.gaps, gapText(label, c.audio, src('bframes').tracks.audio)).toHaveLength(1);
      const resumedAt = c.video.gaps[0]!.at;
      expect(c.packets.video[resumedAt]!.key, `${label}: video resumes at a keyframe, ${describePacket(c.packets.video[resumedAt], 'record')}`).toBe(true);
      expect(c.packets.video[0]!.key).toBe(true);
      expect(c.video.first).toBe(0);
      expectToTheEnd(label, c, src('bframes'));
    });
  });

  describe('8. frames above 64 KiB: regions of their own (size-class pools)', () => {
    for (const [name, key, daemonOf] of [['in-process MP4 muxer', 'largeInProcess', () => inProcess], ['record_muxer=ffmpeg', 'largeFfmpeg', () => ffmpegMuxer]] as const) {
      it(`${name}: every packet of the source, from its first keyframe to its end`, async () => {
        const large = src('large').tracks.video.filter((p) => p.size > 64 * 1024).length;
        expect(large, 'the clip has frames above 64 KiB').toBeGreaterThan(100);
        expect(files[key]).toHaveLength(1);
        expectWholeRecord(`large frames, ${name} (${path.basename(files[key][0]!)})`, files[key][0]!, src('large'));
        const stats = await postJson<{ rtmpSlabs: { reused: number; overReleased: number } }>(daemonOf(), '/rest-api/server/stats');
        expect(stats.body.rtmpSlabs.overReleased).toBe(0);
        expect(stats.body.rtmpSlabs.reused).toBeGreaterThan(0);
      });
    }
  });
});
