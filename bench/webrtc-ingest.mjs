#!/usr/bin/env node
// WebRTC ingest cost: N Node-side publishers (@roamhq/wrtc, VP8 + Opus from
// generated frames) publish over WHIP to a real wcs-recorder daemon, which
// records them (VP8 -> WebM by copy), for each engine (werift: ICE, DTLS,
// SRTP and RTP forwarding in the daemon's node process; mediasoup: in its
// worker processes). Prints, per engine and N, the CPU-seconds of the daemon,
// of its mediasoup workers and of its ffmpeg children (one feed RTP -> WebM
// and one recorder muxer per stream) over the measured window, per stream,
// the memory (PSS) of that process tree, the recorded bitrate, and the video
// frames lost: the frames each publisher's getStats says it sent against the
// frames ffprobe counts in its record.
//
//   node bench/webrtc-ingest.mjs [--engines werift,mediasoup] [--streams 1,10,25] [--seconds 20] [--warmup 6]
//                                [--bitrate 1500000] [--size 640x360] [--cc-max-bitrate 2500000]
//
// Needs a build (npx tsc), ffmpeg/ffprobe on PATH, Linux /proc, and the dev
// dependency @roamhq/wrtc. The publishers run in this process: their CPU
// (VP8 encoding) is not counted in the figures, but shares the machine.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wrtc = require('@roamhq/wrtc');
const { RTCPeerConnection } = wrtc;
const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function parseArgs(argv) {
  const o = { engines: ['werift', 'mediasoup'], streams: [1, 10, 25], seconds: 20, warmup: 6, bitrate: 1_500_000, width: 640, height: 360, ccMax: 2_500_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--engines') (o.engines = v.split(',')), i++;
    else if (a === '--streams') (o.streams = v.split(',').map(Number)), i++;
    else if (a === '--seconds') (o.seconds = Number(v)), i++;
    else if (a === '--warmup') (o.warmup = Number(v)), i++;
    else if (a === '--bitrate') (o.bitrate = Number(v)), i++;
    else if (a === '--cc-max-bitrate') (o.ccMax = Number(v)), i++;
    else if (a === '--size') ([o.width, o.height] = v.split('x').map(Number)), i++;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function ticks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

function childrenOf(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? '?';
  const ffmpeg = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  return `${os.availableParallelism()} x ${model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, ${ffmpeg}`;
}

async function startDaemon(mediaFrom, ccMax, engine) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-webrtc-'));
  fs.mkdirSync(path.join(home, 'conf'));
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  fs.writeFileSync(
    path.join(home, 'conf', 'server.properties'),
    [
      `http.port=${httpPort}`,
      `rtmp.port=${rtmpPort}`,
      'ip_local=127.0.0.1',
      'on_record_hook_script=',
      `media_port_from=${mediaFrom}`,
      `media_port_to=${mediaFrom + 299}`,
      `webrtc_engine=${engine}`,
      'stream_record_policy_template={streamName}',
      `webrtc_cc_max_bitrate=${ccMax}`,
    ].join('\n') + '\n',
  );
  const proc = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], { env: { ...process.env, WCS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const deadline = Date.now() + 20000;
  while (!/wcs-recorder ready/.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`daemon did not start: ${out}`);
    await sleep(100);
  }
  return { proc, home, url: (p) => `http://127.0.0.1:${httpPort}${p}`, output: () => out };
}

/** One publisher: generated I420 frames (a moving pattern with noise) and a 440 Hz tone. */
async function publisher(daemon, name, o) {
  const video = new RTCVideoSource();
  const audio = new RTCAudioSource();
  const pc = new RTCPeerConnection();
  const vt = video.createTrack();
  const at = audio.createTrack();
  const vtr = pc.addTransceiver(vt, { direction: 'sendonly' });
  pc.addTransceiver(at, { direction: 'sendonly' });
  const { width, height } = o;
  const frame = { width, height, data: new Uint8ClampedArray((width * height * 3) / 2) };
  let n = 0;
  const vTimer = setInterval(() => {
    const d = frame.data;
    const shift = n++ * 4;
    // luma: a moving diagonal gradient with a noisy band; chroma: slow drift
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 0; x < width; x += 4) d[row + x] = (x + y + shift) & 255;
    }
    for (let i = 0; i < 2000; i++) d[(Math.random() * width * height) | 0] = (Math.random() * 255) | 0;
    d.fill((n * 2) & 255, width * height, width * height + (width * height) / 4);
    video.onFrame(frame);
  }, 1000 / 30);
  const samples = new Int16Array(480);
  let phase = 0;
  const aTimer = setInterval(() => {
    for (let i = 0; i < 480; i++) samples[i] = Math.sin((phase++ * 2 * Math.PI * 440) / 48000) * 8000;
    audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 2000);
  });
  const res = await fetch(daemon.url(`/whip/${name}`), { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error(`WHIP ${res.status}: ${await res.text()}`);
  const location = res.headers.get('location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  const params = vtr.sender.getParameters();
  if (params.encodings?.[0]) {
    params.encodings[0].maxBitrate = o.bitrate;
    await vtr.sender.setParameters(params).catch(() => undefined);
  }
  return {
    location,
    framesSent: 0,
    async stop() {
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video') this.framesSent += r.framesSent ?? 0;
      });
      await fetch(daemon.url(location), { method: 'DELETE' });
      clearInterval(vTimer);
      clearInterval(aTimer);
      vt.stop();
      at.stop();
      pc.close();
    },
  };
}

function probe(file) {
  const j = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,size:stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' }));
  return { duration: Number(j.format.duration), size: Number(j.format.size), codecs: j.streams.map((s) => s.codec_name).join('+'), size2: j.streams.find((s) => s.width) };
}

function comm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Proportional set size (KiB) of a process: its share of pages shared with others. */
function pssKiB(pid) {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function videoFrames(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  return Number(out.trim()) || 0;
}

async function run(o, engine, n, mediaFrom) {
  const daemon = await startDaemon(mediaFrom, o.ccMax, engine);
  if (!new RegExp(`WebRTC engine: ${engine}`).test(daemon.output())) throw new Error(`the daemon did not start ${engine}: ${daemon.output()}`);
  const pid = daemon.proc.pid;
  const pubs = [];
  try {
    for (let i = 0; i < n; i++) pubs.push(await publisher(daemon, `bench${i}`, o));
    await sleep(o.warmup * 1000);
    const kids0 = childrenOf(pid);
    const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const t0 = Date.now();
    const d0 = ticks(pid);
    const k0 = new Map(kids0.map((k) => [k, ticks(k)]));
    await sleep(o.seconds * 1000);
    const dt = (Date.now() - t0) / 1000;
    const d1 = ticks(pid);
    let kidTicks = 0;
    let workerTicks = 0;
    let workers = 0;
    for (const [k, before] of k0) {
      const after = ticks(k);
      if (before === null || after === null) continue;
      if (comm(k).startsWith('mediasoup-work')) {
        workerTicks += after - before;
        workers++;
      } else kidTicks += after - before;
    }
    const pssMiB = [pid, ...childrenOf(pid)].reduce((a, p) => a + pssKiB(p), 0) / 1024;
    const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const pct = (t) => (t / CLK_TCK / dt) * 100;
    const daemonPct = pct(d1 - d0);
    const ffmpegPct = pct(kidTicks);
    const workerPct = pct(workerTicks);
    for (const p of pubs) await p.stop();
    await sleep(3000 + n * 200);
    const files = fs.readdirSync(path.join(daemon.home, 'records')).filter((f) => f.endsWith('.webm'));
    const probes = files.map((f) => probe(path.join(daemon.home, 'records', f)));
    const kbps = probes.map((p) => (p.size * 8) / p.duration / 1000);
    let sent = 0;
    let recorded = 0;
    for (const [i, p] of pubs.entries()) {
      const file = path.join(daemon.home, 'records', `bench${i}.webm`);
      sent += p.framesSent;
      recorded += fs.existsSync(file) ? videoFrames(file) : 0;
    }
    return {
      n,
      engine,
      dt,
      daemonPct,
      ffmpegPct,
      workerPct,
      workers,
      pssMiB,
      load: `${load0} -> ${load1}`,
      sent,
      recorded,
      ffmpegProcs: kids0.length - workers,
      records: probes.length,
      codecs: [...new Set(probes.map((p) => p.codecs))].join(','),
      picture: probes[0]?.size2 ? `${probes[0].size2.width}x${probes[0].size2.height}` : '?',
      kbpsMean: kbps.reduce((a, b) => a + b, 0) / Math.max(1, kbps.length),
      errors: daemon.output().split('\n').filter((l) => /"level":5\d/.test(l)).length,
    };
  } finally {
    daemon.proc.kill('SIGTERM');
    await new Promise((r) => daemon.proc.once('exit', r));
    fs.rmSync(daemon.home, { recursive: true, force: true });
  }
}

const o = parseArgs(process.argv.slice(2));
console.log(`machine: ${machine()}`);
console.log(`command: node bench/webrtc-ingest.mjs --streams ${o.streams.join(',')} --seconds ${o.seconds} --warmup ${o.warmup} --bitrate ${o.bitrate} --size ${o.width}x${o.height} --cc-max-bitrate ${o.ccMax}`);
const rows = [];
let mediaFrom = 33000;
for (const engine of o.engines) {
  for (const n of o.streams) {
    const r = await run(o, engine, n, mediaFrom);
    mediaFrom += 300;
    rows.push(r);
    const cpuS = (pct) => (pct / 100) * r.dt;
    const total = r.daemonPct + r.workerPct + r.ffmpegPct;
    const lost = r.sent > 0 ? ((r.sent - r.recorded) / r.sent) * 100 : 0;
    console.log(
      `${engine} N=${r.n} (${r.dt.toFixed(0)} s, load ${r.load}): CPU-s daemon ${cpuS(r.daemonPct).toFixed(1)}, ` +
        `workers (${r.workers}) ${cpuS(r.workerPct).toFixed(1)}, ffmpeg (${r.ffmpegProcs}) ${cpuS(r.ffmpegPct).toFixed(1)}; ` +
        `all ${total.toFixed(1)} % of a core = ${(total / r.n).toFixed(1)} %/stream; PSS ${r.pssMiB.toFixed(0)} MiB = ${(r.pssMiB / r.n).toFixed(1)} MiB/stream; ` +
        `records ${r.records}/${r.n} (${r.codecs}, ${r.picture}), mean ${r.kbpsMean.toFixed(0)} kbit/s; ` +
        `video frames sent ${r.sent}, recorded ${r.recorded} (${lost.toFixed(2)} % lost); error log lines ${r.errors}`,
    );
  }
}
// @roamhq/wrtc can crash while tearing down its threads: leave at once
process.exit(0);
