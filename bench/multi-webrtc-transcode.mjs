#!/usr/bin/env node
// Benchmark (issue 18 item 1): what one WebRTC VP8 participant of a multiple
// recording costs, encoded to H.264 + AAC by the participant muxer's own
// arguments (participantMuxerArgs: libx264 -tune zerolatency, Opus -> AAC,
// fragmented MP4 flushed per packet).
//
//   node bench/multi-webrtc-transcode.mjs [--seconds 20] [--presets ultrafast,veryfast] [--sizes 320x240,640x480,1280x720]
//
// For each picture size a VP8 + Opus WebM clip of SECONDS at 30 fps is made
// (testsrc2 + sine, libvpx realtime at 0.5/1/2.5 Mbit/s, a keyframe every 2 s,
// like a browser's camera); then for each preset it is fed to the muxer once
// as fast as it goes, and the muxer's CPU (user + system, from /usr/bin/time)
// is divided by the clip's length: the share of one core a live participant
// takes. The real-time factor is media seconds / wall seconds of that run;
// memory is the muxer's peak resident set (its own, shared libraries counted).
// Needs a built tree (npx tsc -p tsconfig.json), ffmpeg with libvpx, libopus,
// libx264, and /usr/bin/time.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { participantMuxerArgs, DEFAULT_VIDEO_ENCODING } = await import(path.join(REPO, 'dist', 'recording', 'multi', 'participant-plan.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg('seconds', '20'));
const PRESETS = arg('presets', 'ultrafast,veryfast').split(',');
const SIZES = arg('sizes', '320x240,640x480,1280x720').split(',');
const BITRATE = { '320x240': '500k', '640x480': '1M', '1280x720': '2500k' };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-multi-webrtc-'));
const audio = { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 };
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
console.log(`clip: ${SECONDS} s VP8 + Opus at 30 fps; muxer: ${participantMuxerArgs({ video: 'h264', audio: 'aac' }, 'webm', audio, DEFAULT_VIDEO_ENCODING, 'out.mp4').join(' ')}`);
console.log('| picture | x264 preset | CPU per live participant (% of one core) | real-time factor | peak memory | H.264 bitrate | participants per 2 cores at 80 % |');
console.log('|---|---|---|---|---|---|---|');
try {
  for (const size of SIZES) {
    const clip = path.join(dir, `vp8-${size}.webm`);
    execFileSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(SECONDS), '-c:v', 'libvpx', '-b:v', BITRATE[size] ?? '1M', '-deadline', 'realtime', '-cpu-used', '8', '-g', '60',
      '-c:a', 'libopus', '-ac', '2', '-y', clip,
    ]);
    for (const preset of PRESETS) {
      const out = path.join(dir, `out-${size}-${preset}.mp4`);
      const args = participantMuxerArgs({ video: 'h264', audio: 'aac' }, 'webm', audio, { ...DEFAULT_VIDEO_ENCODING, preset }, out);
      const input = fs.openSync(clip, 'r');
      const run = spawnSync('/usr/bin/time', ['-f', 'TIME %U %S %e %M', 'ffmpeg', ...args], { stdio: [input, 'ignore', 'pipe'], encoding: 'utf8' });
      fs.closeSync(input);
      const line = run.stderr.split('\n').find((l) => l.startsWith('TIME '));
      if (run.status !== 0 || !line) throw new Error(`ffmpeg failed: ${run.stderr.slice(-500)}`);
      const [user, sys, wall, maxKb] = line.slice(5).split(' ').map(Number);
      const cpu = (user + sys) / SECONDS;
      const kbps = (fs.statSync(out).size * 8) / SECONDS / 1000;
      const fit = Math.floor((2 * 0.8) / cpu);
      console.log(`| ${size} | ${preset} | ${(cpu * 100).toFixed(1)} % | ${(SECONDS / wall).toFixed(1)}x | ${Math.round(maxKb / 1024)} MiB | ${Math.round(kbps)} kbit/s | ${fit} |`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
