#!/usr/bin/env node
// Benchmark (issue 18, item 9): what each transcoding preset costs per stream.
//
//   node bench/presets.mjs [--seconds 20] [--source 1920x1080] [--presets h264-720p,av1-720p]
//
// For each preset, the recorder's own live-muxer arguments (dist/recording:
// planWithOptions + liveMuxerArgs, the same ffmpeg command a recording with
// that preset runs) encode SECONDS of an FLV feed (H.264 SOURCE at 30 fps,
// 4 Mbit/s, + AAC, made once with testsrc2), read from a file as fast as the
// encoder goes. Printed per preset:
//   - real-time factor: media seconds / wall seconds, one stream alone, free
//     to use both cores (the encoders are multi-threaded);
//   - CPU-seconds per media-second (user + sys of the ffmpeg, from
//     /usr/bin/time): the robust figure on a shared machine;
//   - streams that fit on this machine's cores: cores x 0.8 / (CPU-s per s)
//     (20 % kept for ingest and the daemon).
// A "copy" line (no preset: -c copy into MP4) gives the baseline.
// Needs a built tree (npx tsc -p tsconfig.json), ffmpeg, /usr/bin/time.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { planWithOptions } = await import(path.join(REPO, 'dist', 'recording', 'record-options.js'));
const { liveMuxerArgs } = await import(path.join(REPO, 'dist', 'recording', 'formats.js'));
const { BUILT_IN_PRESETS } = await import(path.join(REPO, 'dist', 'recording', 'presets.js'));

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const SECONDS = Number(opt('seconds', '20'));
const SOURCE = opt('source', '1920x1080');
const ONLY = opt('presets', '');

const dir = path.join(os.tmpdir(), 'wcs-bench-presets');
fs.mkdirSync(dir, { recursive: true });
const feed = path.join(dir, `feed-${SOURCE}-${SECONDS}s.flv`);
if (!fs.existsSync(feed)) {
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${SOURCE}:rate=30`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(SECONDS),
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '4M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', `${feed}.tmp`,
  ]);
  fs.renameSync(`${feed}.tmp`, feed);
}

const audio = { sampleRate: 44100, channels: 2, fdkAacBitrateMode: 5 };
const matroska = { clusterDurationLimitMs: 2000, clusterSizeLimit: 1 << 20 };
const formats = { h264: 'mp4', vp8: 'webm' };

function run(label, options) {
  const plan = planWithOptions('H264', 'AAC', formats, options);
  const out = path.join(dir, `out-${label}.${plan.extension}`);
  const args = liveMuxerArgs(plan, 'flv', audio, matroska, out);
  // the recorder reads pipe:0; the file is the same FLV bytes
  const input = args.indexOf('pipe:0');
  args[input] = feed;
  const env = { ...process.env, ...(options.preset?.codec === 'av1' ? { SVT_LOG: '2' } : {}) };
  const res = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', 'ffmpeg', ...args], { encoding: 'utf8', env });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(res.stderr);
  if (res.status !== 0 || !m) throw new Error(`${label}: ffmpeg failed: ${res.stderr.slice(-800)}`);
  const [wall, user, sys] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const media = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', out], { encoding: 'utf8' }).trim());
  const cpuPerSecond = (user + sys) / media;
  return { label, wall, cpu: user + sys, media, rtf: media / wall, cpuPerSecond, bytes: fs.statSync(out).size };
}

const cores = os.cpus().length;
console.log(`machine: ${cores} x ${os.cpus()[0]?.model ?? '?'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (before), node ${process.version}`);
console.log(`ffmpeg: ${execFileSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' }).split('\n')[0]}`);
console.log(`input: ${SECONDS} s of H.264 ${SOURCE} 30 fps 4 Mbit/s + AAC (FLV feed), read as fast as the encoder goes`);
console.log('');
console.log('preset        media s  wall s  real-time x  CPU s  CPU-s per media-s  streams on this machine (80 %)  Mbit/s out');
const rows = [run('copy', {})];
for (const preset of BUILT_IN_PRESETS) {
  if (ONLY && !ONLY.split(',').includes(preset.name)) continue;
  rows.push(run(preset.name, { preset }));
}
for (const r of rows) {
  const fit = Math.floor((cores * 0.8) / r.cpuPerSecond);
  console.log(
    `${r.label.padEnd(13)} ${r.media.toFixed(2).padStart(7)}  ${r.wall.toFixed(2).padStart(6)}  ${r.rtf.toFixed(2).padStart(11)}  ${r.cpu.toFixed(2).padStart(5)}  ${r.cpuPerSecond.toFixed(3).padStart(17)}  ${String(fit).padStart(30)}  ${((r.bytes * 8) / r.media / 1e6).toFixed(2).padStart(10)}`,
  );
}
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
