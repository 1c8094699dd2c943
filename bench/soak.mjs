#!/usr/bin/env node
// Soak (issue 14, item 7): one real daemon for --minutes under a mixed,
// bounded, seeded load, watched for crashes, 5xx, leaks and lost media.
//
//   node bench/soak.mjs [--minutes 60] [--seed 1] [--max-publishers 6]
//                       [--rest-rate 5] [--rotation 300|disabled] [--keep]
//
// What runs (everything aimed at 127.0.0.1, every loop bounded in count and time):
//   - a daemon from bin/wcs-recorder on free ports with a temp WCS_HOME
//     (record_rotation from --rotation; default: parts of 300 s);
//   - one healthy RTMP publish ("soak-healthy") for the whole soak: a looped
//     320x240 H.264 + AAC clip sent with -re -c copy; its record must come out
//     whole: the ffprobe durations of its parts summed are within 2 s of the
//     media time the publisher reports it sent (ffmpeg -progress out_time);
//   - transient RTMP publishers (same clip) coming and going at seeded random
//     intervals, 5..45 s each, stopped by SIGINT or SIGKILL (a dropped
//     connection); at most --max-publishers at once, the healthy one included;
//   - REST load at --rest-rate requests/s: stream/find_all, stream/find,
//     recorder/find_all, recorder/find_records, server/stats,
//     recorder/startup and recorder/terminate on live transient streams
//     (never on the healthy one), stream/terminate of a transient stream;
//   - cuts: GET /client/records/<mp4>?start=&end= on finished transient records,
//     and byte-range GETs.
// Every minute a line: streams, recordings, RSS, fds, ffmpeg children, 5xx.
// At the end: duration, publishes, REST requests by status, cuts, crashes,
// 5xx, orphaned ffmpegs after stop, RSS start/end, the healthy record check.
// Exits 1 if the daemon died, any 5xx was answered, an ffmpeg outlived the
// daemon, or the healthy record is not whole.
// Needs Linux, Node 20, ffmpeg/ffprobe, a built daemon (npx tsc -p tsconfig.json).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DAEMON = path.join(REPO, 'bin', 'wcs-recorder');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const HEALTHY = 'soak-healthy';

// ------------------------------------------------------------------ arguments
function parseArgs(argv) {
  const o = { minutes: 60, seed: 1, maxPublishers: 6, restRate: 5, rotation: '300', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--minutes') o.minutes = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--max-publishers') o.maxPublishers = Number(v());
    else if (a === '--rest-rate') o.restRate = Number(v());
    else if (a === '--rotation') o.rotation = v();
    else if (a === '--keep') o.keep = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/soak.mjs [--minutes 60] [--seed 1] [--max-publishers 6] [--rest-rate 5] [--rotation 300|disabled] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.minutes > 0 && o.minutes <= 24 * 60)) throw new Error('--minutes must be in (0, 1440]');
  if (!Number.isInteger(o.seed)) throw new Error('--seed must be an integer');
  if (!Number.isInteger(o.maxPublishers) || o.maxPublishers < 1 || o.maxPublishers > 20) throw new Error('--max-publishers must be 1..20');
  if (!(o.restRate > 0 && o.restRate <= 50)) throw new Error('--rest-rate must be in (0, 50]');
  if (o.rotation !== 'disabled' && !/^\d+$/.test(o.rotation)) throw new Error('--rotation takes seconds or "disabled"');
  return o;
}

/** mulberry32: a small seeded PRNG, so a run can be replayed. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

// ------------------------------------------------------------------ helpers
async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function fdsOf(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function commOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function childrenOf(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every ffmpeg on the machine whose command line names this soak's home or RTMP port. */
function ffmpegsOf(home, rtmpPort) {
  const found = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!/ffmpeg/.test(cmd.split('\0')[0] ?? '')) continue;
    if (cmd.includes(home) || cmd.includes(`:${rtmpPort}/`)) found.push(pid);
  }
  return found;
}

const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
const stamp = () => new Date().toISOString().slice(11, 19);

function probeDuration(file) {
  try {
    return Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim());
  } catch {
    return NaN;
  }
}

/** A 20 s 320x240 15 fps H.264 (keyframe each second) + AAC clip, made once in the temp folder. */
function makeClip() {
  const dir = path.join(os.tmpdir(), 'wcs-test-media');
  const file = path.join(dir, 'soak-320x240-20s.mp4');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '200k', '-pix_fmt', 'yuv420p',
    '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '48k', '-ac', '2', tmp,
  ]);
  fs.renameSync(tmp, file);
  return file;
}

// ------------------------------------------------------------------ main
const opts = parseArgs(process.argv.slice(2));
const rand = rng(opts.seed);
const durationMs = Math.round(opts.minutes * 60_000);
const clip = makeClip();
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-soak-'));
fs.mkdirSync(path.join(home, 'conf'));
const httpPort = await freePort();
const rtmpPort = await freePort();
fs.writeFileSync(
  path.join(home, 'conf', 'server.properties'),
  [
    `http.port=${httpPort}`,
    `rtmp.port=${rtmpPort}`,
    'ip_local=127.0.0.1',
    `record_rotation=${opts.rotation}`,
    'on_record_hook_script=',
    'on_multiple_record_hook_script=',
    'file_recorder_min_space=100m',
    // a dropped publisher (SIGKILL) is noticed by the socket closing; grace 0 ends it at once
    'rtmp_publish_grace_ms=0',
  ].join('\n') + '\n',
);
const base = `http://127.0.0.1:${httpPort}`;
const rtmpUrl = (name) => `rtmp://127.0.0.1:${rtmpPort}/live/${name}`;

console.log(`# soak: ${opts.minutes} min, seed ${opts.seed}, ≤ ${opts.maxPublishers} publishers, ${opts.restRate} REST/s, rotation ${opts.rotation}`);
console.log(`# machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${mb(os.totalmem())}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
console.log(`# home ${home}, http ${httpPort}, rtmp ${rtmpPort}`);

let daemonLog = '';
const daemon = spawn(DAEMON, [], { env: { ...process.env, WCS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
const logFile = fs.createWriteStream(path.join(home, 'daemon.log'));
const onOut = (d) => {
  logFile.write(d);
  daemonLog = (daemonLog + d.toString()).slice(-200_000);
};
daemon.stdout.on('data', onOut);
daemon.stderr.on('data', onOut);
let daemonExit = null;
let stopping = false;
const crashes = [];
const daemonExited = new Promise((resolve) =>
  daemon.on('exit', (code, signal) => {
    daemonExit = { code, signal };
    if (!stopping) crashes.push(`daemon exited (${code ?? signal}) at ${stamp()}`);
    resolve(daemonExit);
  }),
);
{
  const deadline = Date.now() + 30_000;
  while (!/wcs-recorder ready/.test(daemonLog)) {
    if (daemonExit || Date.now() > deadline) {
      console.error(`daemon did not start:\n${daemonLog.slice(-4000)}`);
      process.exit(1);
    }
    await sleep(100);
  }
}
const daemonPid = daemon.pid;
const rssStart = rssOf(daemonPid);

// ------------------------------------------------------------------ REST client with counts
const byStatus = new Map();
const fiveXX = [];
let requests = 0;
function count(status) {
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
}
async function call(method, p, body, headers = {}) {
  requests++;
  const started = Date.now();
  try {
    const res = await fetch(base + p, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const buf = Buffer.from(await res.arrayBuffer());
    count(res.status);
    if (res.status >= 500) fiveXX.push({ at: stamp(), method, path: p, body, status: res.status, answer: buf.toString('utf8', 0, 500) });
    let json = null;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        json = JSON.parse(buf.toString('utf8'));
      } catch {
        json = null;
      }
    }
    return { status: res.status, json, bytes: buf.length, ms: Date.now() - started };
  } catch (err) {
    count('error');
    if (!stopping) fiveXX.push({ at: stamp(), method, path: p, body, status: 'no answer', answer: String(err) });
    return { status: 0, json: null, bytes: 0, ms: Date.now() - started };
  }
}

// ------------------------------------------------------------------ publishers
const publishers = new Map(); // name -> { proc, done, healthy }
let publishes = 0;
let serial = 0;

function startPublisher(name, healthy) {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostats', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy'];
  if (healthy) args.push('-progress', 'pipe:1');
  args.push('-f', 'flv', rtmpUrl(name));
  const proc = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const p = { name, proc, healthy, err: '', outTimeUs: 0, startedAt: Date.now(), endedAt: 0, exit: null };
  proc.stdout.on('data', (d) => {
    for (const m of d.toString().matchAll(/out_time_us=(\d+)/g)) p.outTimeUs = Number(m[1]);
  });
  proc.stderr.on('data', (d) => (p.err = (p.err + d.toString()).slice(-4000)));
  proc.stdin.on('error', () => {});
  p.done = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      p.endedAt = Date.now();
      p.exit = { code, signal };
      publishers.delete(name);
      resolve(p.exit);
    }),
  );
  publishers.set(name, p);
  publishes++;
  return p;
}

/** Ends a publisher cleanly ('q': ffmpeg closes the RTMP session) or drops it (SIGKILL). */
async function stopPublisher(p, how) {
  if (p.exit) return;
  if (how === 'kill') p.proc.kill('SIGKILL');
  else p.proc.stdin.write('q');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 10_000);
  await p.done;
  clearTimeout(timer);
}

const healthy = startPublisher(HEALTHY, true);
const endAt = Date.now() + durationMs;
const transientsEnded = { clean: 0, dropped: 0 };

async function churnLoop() {
  // bounded: at most one new publisher per 2 s, each lives 5..45 s, never past the end
  while (Date.now() < endAt - 10_000 && !daemonExit) {
    await sleep(rand.int(2_000, 8_000));
    if (Date.now() >= endAt - 10_000 || daemonExit) break;
    if (publishers.size >= opts.maxPublishers) continue;
    const name = `soak-t${++serial}`;
    const p = startPublisher(name, false);
    const life = Math.min(rand.int(5_000, 45_000), endAt - 5_000 - Date.now());
    const how = rand.next() < 0.3 ? 'kill' : 'quit';
    setTimeout(() => {
      void stopPublisher(p, how).then(() => (how === 'kill' ? transientsEnded.dropped++ : transientsEnded.clean++));
    }, Math.max(1_000, life));
  }
}

// ------------------------------------------------------------------ REST load
let cuts = 0;
let cutsOk = 0;
let ranges = 0;
const slowest = { ms: 0, what: '' };

async function liveTransients() {
  const r = await call('POST', '/rest-api/stream/find_all', {});
  return Array.isArray(r.json) ? r.json.filter((s) => typeof s.name === 'string' && s.name !== HEALTHY) : [];
}

async function finishedTransientMp4s() {
  const r = await call('POST', '/rest-api/recorder/find_records', {});
  if (!Array.isArray(r.json)) return [];
  return r.json.filter((x) => typeof x.fileName === 'string' && x.fileName.endsWith('.mp4') && x.streamName !== HEALTHY);
}

const restActions = [
  ['find_all', 3, () => call('POST', '/rest-api/stream/find_all', {})],
  ['recorder/find_all', 3, () => call('POST', '/rest-api/recorder/find_all', {})],
  ['find_records', 2, () => call('POST', '/rest-api/recorder/find_records', rand.next() < 0.5 ? {} : { streamName: HEALTHY })],
  ['stream/find', 1, () => call('POST', '/rest-api/stream/find', { name: `soak-t${rand.int(1, Math.max(1, serial))}` })],
  ['stats', 1, () => call('POST', '/rest-api/server/stats', {})],
  [
    'recorder/startup',
    2,
    async () => {
      const live = await liveTransients();
      if (live.length === 0) return null;
      const s = rand.pick(live);
      const config = rand.pick([undefined, { rotation: '10' }, { fileTemplate: `{streamName}-{startTimeMillis}-${rand.int(0, 999)}` }, { rotation: 'disabled' }]);
      return call('POST', '/rest-api/recorder/startup', config ? { mediaSessionId: s.mediaSessionId, config } : { mediaSessionId: s.mediaSessionId });
    },
  ],
  [
    'recorder/terminate',
    1,
    async () => {
      const live = await liveTransients();
      if (live.length === 0) return null;
      return call('POST', '/rest-api/recorder/terminate', { mediaSessionId: rand.pick(live).mediaSessionId });
    },
  ],
  [
    'stream/terminate',
    0.3,
    async () => {
      const live = await liveTransients();
      if (live.length === 0) return null;
      return call('POST', '/rest-api/stream/terminate', { name: rand.pick(live).name });
    },
  ],
  [
    'cut',
    1,
    async () => {
      const recs = await finishedTransientMp4s();
      if (recs.length === 0) return null;
      const rec = rand.pick(recs);
      const d = typeof rec.duration === 'number' && rec.duration > 0 ? rec.duration / 1000 : 5; // ms
      const start = Math.round(rand.next() * Math.max(0, d - 1) * 10) / 10;
      const end = Math.round((start + 0.5 + rand.next() * 5) * 10) / 10;
      cuts++;
      const r = await call('GET', `/client/records/${encodeURIComponent(rec.fileName)}?start=${start}&end=${end}`);
      if (r.status === 200) cutsOk++;
      return r;
    },
  ],
  [
    'range',
    0.5,
    async () => {
      const recs = await finishedTransientMp4s();
      if (recs.length === 0) return null;
      const rec = rand.pick(recs);
      ranges++;
      const from = rand.int(0, Math.max(0, (rec.size ?? 1000) - 1));
      return call('GET', `/client/records/${encodeURIComponent(rec.fileName)}`, undefined, { range: `bytes=${from}-${from + rand.int(0, 65535)}` });
    },
  ],
];
const totalWeight = restActions.reduce((s, [, w]) => s + w, 0);
function pickAction() {
  let x = rand.next() * totalWeight;
  for (const a of restActions) {
    x -= a[1];
    if (x <= 0) return a;
  }
  return restActions[0];
}

async function restLoop() {
  // bounded rate; at most 4 requests in flight, so a slow daemon slows the load instead of piling it up
  const interval = 1000 / opts.restRate;
  let inFlight = 0;
  while (Date.now() < endAt && !daemonExit) {
    await sleep(interval);
    if (inFlight >= 4) continue;
    const [what, , run] = pickAction();
    inFlight++;
    void run()
      .then((r) => {
        if (r && r.ms > slowest.ms) Object.assign(slowest, { ms: r.ms, what });
      })
      .finally(() => inFlight--);
  }
  while (inFlight > 0) await sleep(50);
}

// ------------------------------------------------------------------ minute lines
const seenFfmpegChildren = new Set();
function sampleChildren() {
  const kids = childrenOf(daemonPid).filter((pid) => commOf(pid) === 'ffmpeg');
  for (const pid of kids) seenFfmpegChildren.add(pid);
  return kids;
}
const t0 = Date.now();
let lastRss = rssStart;
async function minuteLine() {
  const streams = await call('POST', '/rest-api/stream/find_all', {});
  const recs = await call('POST', '/rest-api/recorder/find_all', {});
  lastRss = rssOf(daemonPid);
  const n5 = fiveXX.length;
  console.log(
    `${stamp()} +${((Date.now() - t0) / 60_000).toFixed(1)} min  streams ${Array.isArray(streams.json) ? streams.json.length : '?'}` +
      `  recordings ${Array.isArray(recs.json) ? recs.json.length : recs.status === 404 ? 0 : '?'}  rss ${mb(lastRss)}  fds ${fdsOf(daemonPid)}` +
      `  ffmpeg children ${sampleChildren().length}  publishers ${publishers.size}  requests ${requests}  5xx ${n5}`,
  );
}

const sampler = setInterval(sampleChildren, 2_000);
process.on('SIGINT', () => {
  for (const p of publishers.values()) p.proc.kill('SIGKILL');
  daemon.kill('SIGTERM');
  console.log(`# interrupted; home kept: ${home}`);
  setTimeout(() => process.exit(130), 3_000);
});
const minuteTimer = setInterval(() => void minuteLine(), 60_000);
await minuteLine();
await Promise.all([churnLoop(), restLoop()]);
clearInterval(minuteTimer);

// ------------------------------------------------------------------ wind down
// stop every transient publisher, then the healthy one cleanly, wait for the recordings to finish
await Promise.all([...publishers.values()].filter((p) => !p.healthy).map((p) => stopPublisher(p, 'quit')));
const healthyWallS = (Date.now() - healthy.startedAt) / 1000;
await stopPublisher(healthy, 'quit');
// ffmpeg writes a last progress block on exit: the media time it sent in all
const healthySentS = healthy.outTimeUs / 1e6;
const healthyEndedEarly = healthy.exit && healthy.endedAt < endAt - 1_000 ? healthy.err || `exit ${JSON.stringify(healthy.exit)}` : '';
{
  const deadline = Date.now() + 60_000;
  while (!daemonExit && Date.now() < deadline) {
    const r = await call('POST', '/rest-api/recorder/find_all', {});
    if (r.status === 404) break;
    await sleep(500);
  }
}
await minuteLine();

// healthy record: every part named for the healthy stream, from find_records (and on disk)
let healthyParts = [];
if (!daemonExit) {
  const r = await call('POST', '/rest-api/recorder/find_records', { streamName: HEALTHY });
  if (Array.isArray(r.json)) healthyParts = r.json.map((x) => x.fileName);
}
const recordDir = path.join(home, 'records');
const partDurations = healthyParts.map((f) => ({ file: f, seconds: probeDuration(path.join(recordDir, f)) }));
const recordedS = partDurations.reduce((s, p) => s + (Number.isFinite(p.seconds) ? p.seconds : 0), 0);
const healthyOk =
  !healthyEndedEarly && partDurations.length > 0 && partDurations.every((p) => Number.isFinite(p.seconds)) && Math.abs(recordedS - healthySentS) <= 2;

// stop the daemon; anything of ours still running afterwards is an orphan
stopping = true;
clearInterval(sampler);
sampleChildren();
const stopStarted = Date.now();
if (!daemonExit) daemon.kill('SIGTERM');
const killTimer = setTimeout(() => daemon.kill('SIGKILL'), 60_000);
const exit = await daemonExited;
clearTimeout(killTimer);
const stopMs = Date.now() - stopStarted;
await sleep(1_000);
const orphans = [...new Set([...[...seenFfmpegChildren].filter((pid) => commOf(pid) === 'ffmpeg'), ...ffmpegsOf(home, rtmpPort)])];
for (const pid of orphans) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}
const serverErrors = daemonLog.split('\n').filter((l) => l.includes('"msg":"Request failed"')).length;

// ------------------------------------------------------------------ report
const elapsed = (Date.now() - t0) / 1000;
const statusLine = [...byStatus.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([s, n]) => `${s}: ${n}`).join(', ');
console.log('');
console.log('# soak result');
console.log(`duration            ${(elapsed / 60).toFixed(1)} min (${opts.minutes} asked), seed ${opts.seed}`);
console.log(`publishes           ${publishes} (1 healthy + ${publishes - 1} transient: ${transientsEnded.clean} quit, ${transientsEnded.dropped} dropped)`);
console.log(`REST requests       ${requests} (${statusLine}); slowest ${slowest.ms} ms (${slowest.what})`);
console.log(`cuts                ${cuts} asked, ${cutsOk} answered 200; byte ranges ${ranges}`);
console.log(`crashes             ${crashes.length}${crashes.length ? ': ' + crashes.join('; ') : ''}`);
console.log(`5xx / no answer     ${fiveXX.length}; "Request failed" in the daemon log: ${serverErrors}`);
for (const e of fiveXX.slice(0, 20)) console.log(`  ${e.at} ${e.method} ${e.path} ${JSON.stringify(e.body ?? null)} -> ${e.status} ${e.answer}`);
console.log(`daemon stop         exit ${exit.code ?? exit.signal} after ${stopMs} ms`);
console.log(`orphaned ffmpegs    ${orphans.length}${orphans.length ? ' (pids ' + orphans.join(' ') + ', killed)' : ''}; ffmpeg children seen ${seenFfmpegChildren.size}`);
console.log(`RSS                 start ${mb(rssStart)}, end ${mb(lastRss)}`);
console.log(
  `healthy record      ${healthyOk ? 'OK' : 'FAILED'}: ${partDurations.length} part(s), ${recordedS.toFixed(2)} s recorded, ` +
    `${healthySentS.toFixed(2)} s sent by the publisher (wall ${healthyWallS.toFixed(1)} s), diff ${(recordedS - healthySentS).toFixed(2)} s` +
    (healthyEndedEarly ? `; the publisher ended early: ${healthyEndedEarly.trim().slice(0, 300)}` : ''),
);
for (const p of partDurations) if (!Number.isFinite(p.seconds)) console.log(`  unreadable part ${p.file}`);
console.log(`machine load        ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const failed =
  crashes.length > 0 || fiveXX.length > 0 || serverErrors > 0 || orphans.length > 0 || !healthyOk || (exit.code !== 0 && exit.code !== null) || exit.signal === 'SIGKILL';
console.log(failed ? 'SOAK FAILED' : 'SOAK PASSED');
logFile.end();
if (!opts.keep && !failed) fs.rmSync(home, { recursive: true, force: true });
else console.log(`# home kept: ${home} (daemon.log inside)`);
process.exit(failed ? 1 : 0);
