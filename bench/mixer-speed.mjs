#!/usr/bin/env node
// Mixing speed of tools/offline_mixer_tool.sh: seconds of media mixed per
// second of wall time, single-threaded and with "multithreading": true.
// A 4-participant room (640x360 H.264 + AAC each, joins at 0/10/20/30 s,
// one leaving at 45 s) of SECONDS (default 60) is assembled like the
// multiple recorder does, then mixed into 1280x720 (the default) and 640x360.
//   node bench/mixer-speed.mjs [SECONDS]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assembleArgs } from '../dist/recording/multi/assemble.js';

const repo = path.resolve(import.meta.dirname, '..');
const seconds = Number(process.argv[2] ?? 60);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mixer-bench-'));
const joins = [0, 10, 20, 30];
const leaves = [seconds, 45, seconds, seconds];
const records = joins.map((join, i) => {
  const file = path.join(work, `p${i + 1}.mp4`);
  const length = Math.min(leaves[i], seconds) - join;
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30`, '-f', 'lavfi', '-i', `sine=frequency=${300 + 100 * i}:sample_rate=44100`,
    '-t', String(length), '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '1M', '-g', '60', '-c:a', 'aac', '-ac', '2', file]);
  return { participant: i + 1, streamName: `user${i + 1}`, mediaSessionId: `session-${i + 1}`, file, startWallMs: join * 1000, endWallMs: (join + length) * 1000, hasVideo: true, hasAudio: true };
});
const room = path.join(work, 'room.mp4');
execFileSync('ffmpeg', assembleArgs(records.map((record) => ({ record, tracks: ['VIDEO', 'AUDIO'] })), room, 'multi-recorder://bench', new Date()));

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`ffmpeg: ${execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0]}`);
console.log(`input: ${seconds} s, 4 participants (640x360 30 fps H.264 1 Mbit/s + AAC), joins at ${joins.join('/')} s, one leaves at 45 s`);
for (const [width, height] of [[1280, 720], [640, 360]]) {
  for (const multithreading of [false, true]) {
    const conf = path.join(work, 'mixer.json');
    fs.writeFileSync(conf, JSON.stringify({ multithreading, width, height, minAvailableSpace: '10M' }));
    const start = process.hrtime.bigint();
    const run = spawnSync(path.join(repo, 'tools', 'offline_mixer_tool.sh'), ['--config', conf, room], { encoding: 'utf8' });
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    if (run.status !== 0) throw new Error(run.stderr);
    console.log(`${width}x${height} ${multithreading ? 'multithreading  ' : 'single-threaded '}: ${wall.toFixed(1)} s wall, ${(seconds / wall).toFixed(2)} s of media per second`);
  }
}
fs.rmSync(work, { recursive: true, force: true });
