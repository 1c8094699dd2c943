#!/usr/bin/env node
// What the pause/resume gate costs a recording after its first pause, when
// every chunk's timestamps are shifted (issue 18 item 7): the FLV tag copy +
// timestamp rewrite (RTMP, RTSP) and the WebM Cluster rebuild (WebRTC), with
// the PauseClock's decision per chunk, on synthetic chunks of a 3 Mbit/s
// stream (30 fps video, AAC at 44.1 kHz; WebM: one cluster per second).
// Needs the build (npx tsc -p tsconfig.json).
//
//   node bench/pause-retime.mjs [--seconds 600]
//
// Prints the machine and ns per chunk, and the share of one core a stream takes.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { retimeChunk } = await import(path.join(REPO, 'dist', 'recording', 'retime-chunk.js'));
const { PauseClock } = await import(path.join(REPO, 'dist', 'recording', 'pause-clock.js'));
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 600;

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  return { nproc, cpu, node: process.version, load: os.loadavg()[0].toFixed(2) };
}

function flvTag(type, ts, bodySize) {
  const t = Buffer.alloc(11 + bodySize + 4);
  t[0] = type;
  t.writeUIntBE(bodySize, 1, 3);
  t.writeUIntBE(ts & 0xffffff, 4, 3);
  t[7] = (ts >>> 24) & 0xff;
  t.writeUInt32BE(11 + bodySize, 11 + bodySize);
  return t;
}

function ebmlSize8(n) {
  const b = Buffer.alloc(8);
  b[0] = 0x01;
  b.writeUIntBE(Math.floor(n / 2 ** 32), 1, 3);
  b.writeUInt32BE(n % 2 ** 32, 4);
  return b;
}

function cluster(tcMs, blocks) {
  const tcBody = Buffer.alloc(4);
  tcBody.writeUInt32BE(tcMs);
  const parts = [Buffer.from([0xe7, 0x84]), tcBody];
  for (const [track, rel, size] of blocks) {
    const body = Buffer.alloc(4 + size);
    body[0] = 0x80 | track;
    body.writeInt16BE(rel, 1);
    body[3] = 0x80;
    parts.push(Buffer.from([0xa3]), ebmlSize8(body.length), body);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x1f, 0x43, 0xb6, 0x75]), ebmlSize8(body.length), body]);
}

function run(label, chunks, feed, perSecond) {
  const clock = new PauseClock();
  // a first pause and resume, so that every chunk after is shifted
  clock.admit(chunks[0]);
  clock.written(chunks[0].track, chunks[0].endTimestampMs);
  clock.pause(0);
  clock.resume(0);
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (const c of chunks) {
    const a = clock.admit({ ...c, timestampMs: c.timestampMs + 5000, endTimestampMs: c.endTimestampMs + 5000 });
    if (!a) continue;
    const out = retimeChunk(c, feed, a.offsetMs || 1);
    clock.written(c.track, a.endTimestampMs);
    bytes += out.data.length;
  }
  const ns = Number(process.hrtime.bigint() - start);
  const perChunk = ns / chunks.length;
  const coreShare = (perChunk * perSecond) / 1e9;
  console.log(
    `${label}: ${chunks.length} chunks, ${(bytes / 1e6).toFixed(0)} MB, ${perChunk.toFixed(0)} ns/chunk, ` +
      `${(coreShare * 100).toFixed(3)} % of a core per stream (${perSecond} chunks/s)`,
  );
}

console.log(JSON.stringify({ machine: machine(), seconds: SECONDS }));
// FLV: 30 video tags/s of ~12.1 KB (keyframe every 60), 43 AAC tags/s of 370 B
const flv = [];
for (let s = 0; s < SECONDS; s++) {
  for (let f = 0; f < 30; f++) {
    const ts = s * 1000 + Math.round((f * 1000) / 30);
    const key = (s * 30 + f) % 60 === 0;
    flv.push({ kind: 'media', data: flvTag(9, ts, key ? 60_000 : 11_000), track: 'video', keyframe: key, timestampMs: ts, endTimestampMs: ts });
  }
  for (let a = 0; a < 43; a++) {
    const ts = s * 1000 + Math.round((a * 1024 * 1000) / 44100);
    flv.push({ kind: 'media', data: flvTag(8, ts, 370), track: 'audio', keyframe: false, timestampMs: ts, endTimestampMs: ts });
  }
}
run('FLV tags (RTMP, RTSP)', flv, 'flv', 73);
// WebM: one cluster per second, 30 video blocks + 50 Opus blocks
const webm = [];
for (let s = 0; s < SECONDS; s++) {
  const blocks = [];
  for (let f = 0; f < 30; f++) blocks.push([1, Math.round((f * 1000) / 30), 12_000]);
  for (let a = 0; a < 50; a++) blocks.push([2, a * 20, 120]);
  webm.push({ kind: 'media', data: cluster(s * 1000, blocks), track: 'av', keyframe: true, timestampMs: s * 1000, endTimestampMs: s * 1000 + 980 });
}
run('WebM clusters (WebRTC)', webm, 'webm', 1);
