#!/usr/bin/env node
// Benchmark: record one (or N) RTMP streams with wcs-recorder and measure
//   - CPU (% of one core) and memory (RSS, PSS, USS) of the daemon (node) and
//     of each recorder ffmpeg (muxer), sampled from /proc every 500 ms;
//     the publishing ffmpeg is measured separately (it is NOT part of the server);
//   - the idle daemon (nothing published) for 5 s;
//   - the delay from the publisher's exit to the finished record in records/
//     (and to the on_record_hook line in logs/record.log);
//   - the record's duration error versus the published clip (ffprobe).
//
// Usage: node bench/record-one-stream.mjs [--seconds 30] [--streams 1] [--g711]
//   --g711: the publisher sends G.711 A-law audio (8 kHz mono), so every recorder
//           encodes audio to AAC (the cost of an audio transcode vs a copy)
// Plain Node 20 ESM, no dependencies; needs ffmpeg + ffprobe on PATH, Linux /proc.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const daemonBin = path.join(repo, 'bin', 'wcs-recorder');
const hookSrc = path.join(repo, 'bin', 'on_record_hook.sh');

const SAMPLE_MS = 500;
const SKIP_MS = 2000;
const IDLE_MS = 5000;
const POLL_MS = 10;

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const opts = { seconds: 30, streams: 1, g711: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--g711') {
      opts.g711 = true;
      continue;
    }
    const m = /^--(seconds|streams)(?:=(.*))?$/.exec(a);
    if (!m) {
      if (a === '-h' || a === '--help') {
        console.log('usage: node bench/record-one-stream.mjs [--seconds N (30)] [--streams N (1)] [--g711]');
        process.exit(0);
      }
      throw new Error(`unknown argument ${a}`);
    }
    const v = m[2] ?? argv[++i];
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${m[1]} needs a positive integer, got ${v}`);
    opts[m[1]] = n;
  }
  if (opts.seconds < 5) throw new Error('--seconds must be at least 5');
  return opts;
}

// ---------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function clkTck() {
  try {
    const n = Number(sh('getconf', ['CLK_TCK']).trim());
    if (n > 0) return n;
  } catch {}
  return 100;
}
const CLK_TCK = clkTck();

function alive(pid) {
  try {
    process.kill(pid, 0);
    return fs.existsSync(`/proc/${pid}/stat`) && !/\)\s+Z\s/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- /proc sampling
/** One sample of a process, or null when it is gone. */
function readProc(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "pid (comm) ": state is field 3, utime 14, stime 15 (1-based)
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (re, text) => {
      const m = re.exec(text);
      return m ? Number(m[1]) : null;
    };
    const rssKb = kb(/^VmRSS:\s+(\d+) kB/m, status);
    const hwmKb = kb(/^VmHWM:\s+(\d+) kB/m, status);
    let pssKb = null;
    let ussKb = null;
    try {
      const roll = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pssKb = kb(/^Pss:\s+(\d+) kB/m, roll);
      const pc = kb(/^Private_Clean:\s+(\d+) kB/m, roll);
      const pd = kb(/^Private_Dirty:\s+(\d+) kB/m, roll);
      if (pc !== null && pd !== null) ussKb = pc + pd;
    } catch {}
    return { t: now(), ticks, rssKb, hwmKb, pssKb, ussKb };
  } catch {
    return null;
  }
}

/** Machine-wide CPU from /proc/stat: busy and total jiffies (all cores). */
function readSystem() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const total = v.reduce((a, b) => a + b, 0);
    const idle = v[3] + v[4];
    return { t: now(), busy: total - idle, total, steal: v[7] };
  } catch {
    return null;
  }
}

/** utime+stime (ticks) and comm of every process, to name other load on the machine. */
function snapshotAll() {
  const m = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // own CPU, and CPU of children it has already reaped (short-lived test workers, compilers, ...);
      // not for pid 1, which reaps orphans and would add their whole lifetime
      const own = Number(rest[11]) + Number(rest[12]);
      const reaped = d === '1' ? 0 : Number(rest[13]) + Number(rest[14]);
      m.set(Number(d), { comm, own, reaped, ticks: own + reaped });
    } catch {}
  }
  return { t: now(), m, self: process.cpuUsage() };
}

/** Top processes by CPU (own + reaped children) between two snapshots, excluding `skip` pids. */
function otherLoad(a, b, skip) {
  const dt = (b.t - a.t) / 1000;
  const rows = [];
  for (const [pid, v] of b.m) {
    if (skip.has(pid)) continue;
    const before = a.m.get(pid);
    const same = before && before.comm === v.comm;
    const dOwn = v.own - (same ? before.own : 0);
    const dReaped = v.reaped - (same ? before.reaped : 0);
    const pct = (x) => (x / CLK_TCK / dt) * 100;
    if (dOwn + dReaped > 0) rows.push({ pid, comm: v.comm, pct: pct(dOwn + dReaped), ownPct: pct(dOwn), reapedPct: pct(dReaped), isNew: !same });
  }
  rows.sort((x, y) => y.pct - x.pct);
  const selfPct = ((b.self.user + b.self.system - a.self.user - a.self.system) / 1e6 / dt) * 100;
  return { rows, selfPct };
}

class Sampler {
  constructor() {
    /** key -> { pid, role, samples[] } */
    this.procs = new Map();
    this.system = [];
    this.timer = null;
  }
  add(key, pid, role) {
    if (!this.procs.has(key)) {
      this.procs.set(key, { pid, role, samples: [] });
      this.sampleOne(this.procs.get(key));
    }
  }
  sampleOne(p) {
    const s = readProc(p.pid);
    if (s) p.samples.push(s);
  }
  start() {
    const tick = () => {
      for (const p of this.procs.values()) this.sampleOne(p);
      const sys = readSystem();
      if (sys) this.system.push(sys);
    };
    tick();
    this.timer = setInterval(tick, SAMPLE_MS);
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const p of this.procs.values()) this.sampleOne(p);
  }
}

/** Machine-wide busy CPU inside [from, to], in % of ONE core (so 200 = both of 2 cores busy). */
function systemCpu(samples, from, to) {
  const win = samples.filter((s) => s.t >= from && s.t <= to);
  if (win.length < 2) return null;
  const a = win[0];
  const b = win[win.length - 1];
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  return { busyPct: ((b.busy - a.busy) / (b.total - a.total)) * 100 * cores, stealPct: ((b.steal - a.steal) / (b.total - a.total)) * 100 * cores };
}

/** CPU % of one core between the first and last sample inside [from, to], plus memory over all samples. */
function summarize(samples, from, to) {
  const win = samples.filter((s) => s.t >= from && s.t <= to);
  const out = { n: win.length, cpuPct: null, cpuPeakPct: null, mem: {} };
  if (win.length >= 2) {
    const a = win[0];
    const b = win[win.length - 1];
    out.cpuPct = ((b.ticks - a.ticks) / CLK_TCK / ((b.t - a.t) / 1000)) * 100;
    out.windowS = (b.t - a.t) / 1000;
    let peak = 0;
    for (let i = 1; i < win.length; i++) {
      const dt = (win[i].t - win[i - 1].t) / 1000;
      if (dt > 0) peak = Math.max(peak, ((win[i].ticks - win[i - 1].ticks) / CLK_TCK / dt) * 100);
    }
    out.cpuPeakPct = peak;
  }
  for (const k of ['rssKb', 'pssKb', 'ussKb']) {
    const v = samples.map((s) => s[k]).filter((x) => x !== null && x !== undefined);
    out.mem[k] = v.length ? { mean: v.reduce((x, y) => x + y, 0) / v.length, peak: Math.max(...v) } : null;
  }
  const hwm = samples.map((s) => s.hwmKb).filter((x) => x != null);
  out.hwmKb = hwm.length ? Math.max(...hwm) : null;
  return out;
}

// ---------------------------------------------------------------- media
function ffprobe(file) {
  const j = JSON.parse(
    sh('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,size,bit_rate:stream=codec_type,codec_name,start_time,duration,nb_frames', '-of', 'json', file]),
  );
  const v = j.streams.find((s) => s.codec_type === 'video');
  const a = j.streams.find((s) => s.codec_type === 'audio');
  return {
    duration: Number(j.format.duration),
    size: Number(j.format.size),
    videoStart: v ? Number(v.start_time) : null,
    videoDuration: v ? Number(v.duration) : null,
    videoFrames: v ? Number(v.nb_frames) : null,
    audioStart: a ? Number(a.start_time) : null,
    audioDuration: a ? Number(a.duration) : null,
  };
}

function ensureClip(seconds) {
  const file = path.join(os.tmpdir(), `wcs-bench-clip-720p30-h264-3M-aac128k-${seconds}s.mp4`);
  if (fs.existsSync(file) && fs.statSync(file).size > 0) return { file, generated: false };
  const tmp = `${file}.${process.pid}.part.mp4`;
  process.stderr.write(`generating test clip ${file} (${seconds} s) ...\n`);
  const t0 = now();
  try {
    execFileSync(
      'ffmpeg',
      [
        '-hide_banner', '-nostdin', '-v', 'error', '-y',
        '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', String(seconds),
        '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
        '-b:v', '3M', '-maxrate', '3M', '-bufsize', '6M', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
        '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
        '-movflags', '+faststart',
        tmp,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  process.stderr.write(`  clip generated in ${((now() - t0) / 1000).toFixed(1)} s\n`);
  return { file, generated: true };
}

// ---------------------------------------------------------------- machine
function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?';
  let ffv = '?';
  try {
    ffv = sh('ffmpeg', ['-version']).split('\n')[0].trim();
  } catch {}
  let cgroupCpu = null;
  try {
    cgroupCpu = fs.readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim();
  } catch {}
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    model,
    node: process.version,
    ffmpeg: ffv,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    cgroupCpu,
  };
}

// ---------------------------------------------------------------- children bookkeeping
const children = new Set(); // ChildProcess objects we spawned
const extraPids = new Set(); // recorder ffmpeg pids (children of the daemon)
let daemonProc = null;
const tempDirs = new Set();

function spawnTracked(cmd, args, options) {
  const cp = spawn(cmd, args, options);
  children.add(cp);
  cp.exitedAt = null;
  cp.exitInfo = null;
  cp.exited = new Promise((resolve) => {
    cp.on('exit', (code, signal) => {
      cp.exitedAt = now();
      cp.exitInfo = { code, signal };
      children.delete(cp);
      resolve(cp.exitInfo);
    });
    cp.on('error', (err) => {
      cp.exitInfo = { code: null, signal: null, error: err };
      children.delete(cp);
      resolve(cp.exitInfo);
    });
  });
  return cp;
}

async function cleanup() {
  // publishers first
  for (const cp of [...children]) {
    if (cp !== daemonProc && cp.exitInfo === null) {
      try { cp.kill('SIGKILL'); } catch {}
    }
  }
  if (daemonProc && daemonProc.exitInfo === null) {
    try { daemonProc.kill('SIGTERM'); } catch {}
    const done = await Promise.race([daemonProc.exited, sleep(20000).then(() => null)]);
    if (!done) {
      try { daemonProc.kill('SIGKILL'); } catch {}
      await Promise.race([daemonProc.exited, sleep(2000)]);
    }
  }
  for (const pid of extraPids) {
    if (alive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch {}
    }
  }
  for (const cp of [...children]) {
    try { cp.kill('SIGKILL'); } catch {}
  }
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch {}
  }
  tempDirs.clear();
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${sig}: cleaning up...\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------- daemon
async function startDaemon() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-bench-home-'));
  tempDirs.add(home);
  const httpPort = await freePort();
  let rtmpPort = await freePort();
  while (rtmpPort === httpPort) rtmpPort = await freePort();
  fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
  fs.mkdirSync(path.join(home, 'bin'), { recursive: true });
  fs.writeFileSync(
    path.join(home, 'conf', 'server.properties'),
    `http.port=${httpPort}\nrtmp.port=${rtmpPort}\nip_local=127.0.0.1\n`,
  );
  const hook = path.join(home, 'bin', 'on_record_hook.sh');
  fs.copyFileSync(hookSrc, hook);
  fs.chmodSync(hook, 0o755);

  const env = { ...process.env, WCS_HOME: home };
  const d = spawnTracked(daemonBin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  daemonProc = d;
  const state = {
    home,
    httpPort,
    rtmpPort,
    proc: d,
    nodePid: d.pid,
    ready: false,
    started: new Map(), // stream -> { pid, t }
    done: new Map(), // stream -> { file, t, durationMs, size }
    finishing: new Map(), // stream -> t of 'Recording finishing'
    errors: [],
    notable: [], // warnings, errors and shutdown lines, with time since daemon start
    t0: now(),
    stderr: [],
  };
  let readyResolve;
  const readyP = new Promise((r) => (readyResolve = r));
  readline.createInterface({ input: d.stdout }).on('line', (line) => {
    const t = now();
    let j;
    try {
      j = JSON.parse(line); // duplicate "pid" keys: the last one (the muxer's) wins
    } catch {
      return;
    }
    const msg = String(j.msg ?? '');
    if (msg.startsWith('wcs-recorder ready')) {
      state.ready = true;
      readyResolve(true);
    } else if (msg === 'Recording started') {
      // the in-process muxer (record_muxer=in-process, H.264 + AAC) has no process of its own
      if (j.muxer !== 'in-process') {
        const m = /"part":\d+,"pid":(\d+)/.exec(line);
        const pid = m ? Number(m[1]) : Number(j.pid);
        state.started.set(j.stream, { pid, t });
        extraPids.add(pid);
      } else {
        state.started.set(j.stream, { pid: null, t });
      }
    } else if (msg === 'Recording finishing') {
      if (!state.finishing.has(j.stream)) state.finishing.set(j.stream, t);
    } else if (msg === 'Recording done') {
      state.done.set(j.stream, { file: j.file, t, durationMs: j.durationMs, size: j.size });
    }
    if (j.level >= 50) state.errors.push(msg);
    if (j.level >= 40 || msg.startsWith('Shutting down') || msg === 'Stopped') {
      state.notable.push(`+${((t - state.t0) / 1000).toFixed(2)}s ${j.level >= 50 ? 'ERROR' : j.level >= 40 ? 'WARN' : 'INFO'} ${j.stream ? `[${j.stream}] ` : ''}${msg}${j.signal ? ` (${j.signal})` : ''}`);
    }
  });
  readline.createInterface({ input: d.stderr }).on('line', (l) => state.stderr.push(l));
  const r = await Promise.race([readyP, d.exited.then(() => false), sleep(20000).then(() => false)]);
  if (!r) throw new Error(`daemon did not become ready; stderr: ${state.stderr.slice(-10).join('\n')}`);
  // bin/wcs-recorder execs node; if not, find the node child
  try {
    const comm = fs.readFileSync(`/proc/${d.pid}/comm`, 'utf8').trim();
    if (comm !== 'node') {
      const kids = sh('pgrep', ['-P', String(d.pid)]).trim().split('\n').map(Number);
      const nodeKid = kids.find((p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node');
      if (nodeKid) state.nodePid = nodeKid;
    }
  } catch {}
  return state;
}

function recorderPidFallback(daemonPid) {
  try {
    return sh('pgrep', ['-P', String(daemonPid), 'ffmpeg']).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- formatting
const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
const mib = (kb) => (kb === null || kb === undefined ? '-' : (kb / 1024).toFixed(1));
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? pad(c, widths[i]) : lpad(c, widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function procRow(label, s) {
  return [
    label,
    f1(s.cpuPct),
    f1(s.cpuPeakPct),
    `${mib(s.mem.rssKb?.mean)} / ${mib(s.mem.rssKb?.peak)}`,
    mib(s.hwmKb),
    `${mib(s.mem.pssKb?.mean)} / ${mib(s.mem.pssKb?.peak)}`,
    `${mib(s.mem.ussKb?.mean)} / ${mib(s.mem.ussKb?.peak)}`,
  ];
}
const PROC_HEADER = ['process', 'CPU % avg', 'CPU % max', 'RSS MiB mean/peak', 'VmHWM MiB', 'PSS MiB mean/peak', 'USS MiB mean/peak'];

function mean(xs) {
  const v = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

// ---------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const mach = machine();
  let distBuilt = '?';
  try {
    distBuilt = fs.statSync(path.join(repo, 'dist', 'main.js')).mtime.toISOString();
  } catch {}
  const loadBefore = os.loadavg();
  const clip = ensureClip(opts.seconds);
  const clipInfo = ffprobe(clip.file);

  const daemon = await startDaemon();
  const recordLog = path.join(daemon.home, 'logs', 'record.log');
  const recordsDir = path.join(daemon.home, 'records');

  // ---- idle baseline
  await sleep(1000);
  const idle = new Sampler();
  idle.add('daemon', daemon.nodePid, 'daemon');
  const idleT0 = now();
  idle.start();
  await sleep(IDLE_MS);
  idle.stop();
  const idleSum = summarize(idle.procs.get('daemon').samples, idleT0, now());
  const idleSys = systemCpu(idle.system, idleT0, now());

  // ---- publish
  const names = Array.from({ length: opts.streams }, (_, i) => (opts.streams === 1 ? 's1' : `s${i + 1}`));
  const sampler = new Sampler();
  sampler.add('daemon', daemon.nodePid, 'daemon');
  const pubs = new Map();
  const t0 = now();
  for (const name of names) {
    const p = spawnTracked(
      'ffmpeg',
      ['-hide_banner', '-nostdin', '-v', 'error', '-re', '-i', clip.file, ...(opts.g711 ? ['-c:v', 'copy', '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1'] : ['-c', 'copy']), '-f', 'flv', `rtmp://127.0.0.1:${daemon.rtmpPort}/live/${name}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    p.errText = '';
    p.stderr.on('data', (b) => (p.errText += b));
    pubs.set(name, p);
    sampler.add(`pub:${name}`, p.pid, 'publisher');
  }
  sampler.start();
  let snapA = null;
  const snapTimer = setTimeout(() => (snapA = snapshotAll()), SKIP_MS);
  // pick up recorder pids as they appear
  const watchRecorders = setInterval(() => {
    for (const [name, st] of daemon.started) if (st.pid !== null) sampler.add(`rec:${name}`, st.pid, 'recorder');
  }, 50);

  // wait for every publisher to exit
  await Promise.all([...pubs.values()].map((p) => p.exited));
  clearTimeout(snapTimer);
  const snapB = snapshotAll();
  const firstExit = Math.min(...[...pubs.values()].map((p) => p.exitedAt));
  const lastExit = Math.max(...[...pubs.values()].map((p) => p.exitedAt));
  // the sampler keeps the recorder samples until its exit; CPU window ends at the first publisher exit

  // ---- poll for the finished records (every 10 ms)
  const fin = new Map(); // name -> { hookT, hookFile, doneT, fileT }
  for (const n of names) fin.set(n, { hookT: null, hookFile: null, fileT: null });
  const deadline = now() + 60000;
  while (now() < deadline) {
    const t = now();
    let hookText = '';
    try {
      hookText = fs.readFileSync(recordLog, 'utf8');
    } catch {}
    for (const n of names) {
      const st = fin.get(n);
      if (st.hookT === null) {
        const line = hookText.split('\n').find((l) => l.startsWith(`${n}:`));
        if (line) {
          st.hookT = t;
          st.hookFile = line.slice(n.length + 1);
        }
      }
      if (st.fileT === null) {
        const d = daemon.done.get(n);
        if (d && fs.existsSync(d.file)) st.fileT = t;
      }
    }
    if ([...fin.values()].every((s) => s.hookT !== null && s.fileT !== null)) break;
    await sleep(POLL_MS);
  }
  clearInterval(watchRecorders);
  sampler.stop();
  const loadAfter = os.loadavg();

  // ---- fallback: recorder pids via pgrep (only if the log line was missed)
  if (![...sampler.procs.keys()].some((k) => k.startsWith('rec:'))) {
    for (const pid of recorderPidFallback(daemon.nodePid)) sampler.add(`rec:pid${pid}`, pid, 'recorder');
  }

  // ---- stop the daemon (SIGTERM) and check its exit
  const stopT = now();
  const exitedEarly = daemon.proc.exitInfo !== null ? { ...daemon.proc.exitInfo, atS: (daemon.proc.exitedAt - t0) / 1000 } : null;
  daemon.proc.kill('SIGTERM');
  const dExit = await Promise.race([daemon.proc.exited, sleep(20000).then(() => null)]);
  const stopMs = now() - stopT;
  const leftovers = [...extraPids].filter(alive);

  // ---- summaries
  const from = t0 + SKIP_MS;
  const to = firstExit;
  const sums = new Map();
  for (const [key, p] of sampler.procs) {
    // memory: all samples while the process was publishing/recording; CPU: steady window
    const memSamples = p.samples.filter((s) => s.t <= (p.role === 'publisher' ? lastExit : now()));
    sums.set(key, { role: p.role, pid: p.pid, ...summarize(memSamples, from, to) });
  }

  // ---- records
  const records = [];
  for (const n of names) {
    const d = daemon.done.get(n);
    const st = fin.get(n);
    const pub = pubs.get(n);
    const rec = { name: n, pubExit: pub.exitInfo, pubErr: pub.errText.trim(), done: d ?? null };
    if (d && fs.existsSync(d.file)) {
      rec.probe = ffprobe(d.file);
      rec.durErrMs = (rec.probe.duration - clipInfo.duration) * 1000;
    }
    rec.exitToDoneLogMs = d ? d.t - pub.exitedAt : null;
    const fT = daemon.finishing.get(n);
    rec.finishingToDoneMs = d && fT !== undefined ? d.t - fT : null;
    rec.exitToFinishingMs = fT !== undefined ? fT - pub.exitedAt : null;
    rec.exitToFileMs = st.fileT !== null ? st.fileT - pub.exitedAt : null;
    rec.exitToHookMs = st.hookT !== null ? st.hookT - pub.exitedAt : null;
    rec.hookFile = st.hookFile;
    const s = daemon.started.get(n);
    rec.startLatencyMs = s ? s.t - t0 : null;
    records.push(rec);
  }

  // ---------------------------------------------------------------- report
  const out = [];
  const cmd = `node bench/record-one-stream.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  out.push(`wcs-recorder benchmark: record ${opts.streams} RTMP stream(s) of ${opts.seconds} s`);
  out.push(`command : ${cmd}`);
  out.push(`machine : nproc=${mach.nproc}, CPU "${mach.model}", ${mach.memGiB} GiB RAM, ${mach.kernel}${mach.cgroupCpu ? `, cgroup cpu.max="${mach.cgroupCpu}"` : ''}`);
  out.push(`software: node ${mach.node}; ${mach.ffmpeg}`);
  out.push(`daemon  : ${daemonBin} (dist/main.js built ${distBuilt})`);
  out.push(`load avg: before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')} (1/5/15 min)`);
  out.push(`clip    : ${clip.file}${clip.generated ? ' (generated now)' : ' (cached)'}`);
  out.push(`          1280x720 30 fps H.264 3 Mbit/s (GOP 60) + AAC 128k, ffprobe duration ${clipInfo.duration.toFixed(3)} s, ${(clipInfo.size / 1e6).toFixed(2)} MB`);
  out.push(`sampling: /proc every ${SAMPLE_MS} ms, CLK_TCK=${CLK_TCK}; CPU % = % of ONE core, averaged over the steady window`);
  out.push(`          (publish start + ${SKIP_MS / 1000} s .. first publisher exit = ${((to - from) / 1000).toFixed(1)} s); "CPU % max" = busiest ${SAMPLE_MS} ms interval;`);
  out.push(`          memory over all samples while recording; VmHWM = kernel's peak RSS; USS = Private_Clean+Private_Dirty (smaps_rollup)`);
  out.push('');
  out.push(`IDLE daemon (nothing published, ${IDLE_MS / 1000} s, pid ${daemon.nodePid}):`);
  out.push(table([procRow('daemon (node)', idleSum)], PROC_HEADER));
  if (idleSys) out.push(`whole machine during idle: ${f1(idleSys.busyPct)} % of one core busy (of ${mach.nproc * 100} %), steal ${f1(idleSys.stealPct)} %`);
  out.push('');
  out.push(`WHILE RECORDING (${opts.streams} stream(s)):`);
  const rows = [];
  const dSum = sums.get('daemon');
  rows.push(procRow(`daemon (node) pid ${daemon.nodePid}`, dSum));
  const byStream = (x, y) => x.localeCompare(y, 'en', { numeric: true });
  const recKeys = [...sums.keys()].filter((k) => k.startsWith('rec:')).sort(byStream);
  const pubKeys = [...sums.keys()].filter((k) => k.startsWith('pub:')).sort(byStream);
  if (opts.streams <= 5) {
    for (const k of recKeys) rows.push(procRow(`recorder ffmpeg ${k.slice(4)} pid ${sums.get(k).pid}`, sums.get(k)));
  }
  const recAvg = (sel) => mean(recKeys.map((k) => sel(sums.get(k))));
  const recMax = (sel) => {
    const v = recKeys.map((k) => sel(sums.get(k))).filter((x) => x != null);
    return v.length ? Math.max(...v) : null;
  };
  if (recKeys.length > 1) {
    rows.push([
      `recorder ffmpeg: mean of ${recKeys.length}`,
      f1(recAvg((s) => s.cpuPct)),
      f1(recAvg((s) => s.cpuPeakPct)),
      `${mib(recAvg((s) => s.mem.rssKb?.mean))} / ${mib(recMax((s) => s.mem.rssKb?.peak))}`,
      mib(recMax((s) => s.hwmKb)),
      `${mib(recAvg((s) => s.mem.pssKb?.mean))} / ${mib(recMax((s) => s.mem.pssKb?.peak))}`,
      `${mib(recAvg((s) => s.mem.ussKb?.mean))} / ${mib(recMax((s) => s.mem.ussKb?.peak))}`,
    ]);
  }
  const sumOf = (keys, sel) => keys.map((k) => sel(sums.get(k))).filter((x) => x != null).reduce((a, b) => a + b, 0);
  const serverKeys = ['daemon', ...recKeys];
  rows.push([
    'SERVER TOTAL (daemon + recorders)',
    f1(sumOf(serverKeys, (s) => s.cpuPct)),
    '',
    `${mib(sumOf(serverKeys, (s) => s.mem.rssKb?.mean))} / -`,
    '',
    `${mib(sumOf(serverKeys, (s) => s.mem.pssKb?.mean))} / -`,
    `${mib(sumOf(serverKeys, (s) => s.mem.ussKb?.mean))} / -`,
  ]);
  rows.push([
    `publisher ffmpeg x${pubKeys.length} (NOT counted)`,
    f1(sumOf(pubKeys, (s) => s.cpuPct)),
    '',
    `${mib(sumOf(pubKeys, (s) => s.mem.rssKb?.mean))} / -`,
    '',
    '',
    '',
  ]);
  out.push(table(rows, PROC_HEADER));
  const busySys = systemCpu(sampler.system, from, to);
  if (busySys) {
    const ours = sumOf([...serverKeys, ...pubKeys], (s) => s.cpuPct);
    out.push(
      `whole machine in the steady window: ${f1(busySys.busyPct)} % of one core busy (of ${mach.nproc * 100} %), steal ${f1(busySys.stealPct)} %; ` +
        `not explained by daemon+recorders+publishers: ${f1(busySys.busyPct - ours)} % (other load, kernel, this benchmark)`,
    );
  }
  if (snapA) {
    const skip = new Set([process.pid, daemon.proc.pid, daemon.nodePid, ...[...sampler.procs.values()].map((p) => p.pid)]);
    const ol = otherLoad(snapA, snapB, skip);
    const top = ol.rows
      .slice(0, 4)
      .map((r) => `${r.comm}[${r.pid}]${r.isNew ? '(new)' : ''} ${f1(r.ownPct)} %${r.reapedPct > 0 ? ` + reaped children ${f1(r.reapedPct)} %` : ''}`);
    out.push(
      `  of which: this benchmark's node ${f1(ol.selfPct)} %; busiest other processes: ${top.length ? top.join(', ') : 'none'}` +
        (top.length ? '\n  (reaped children = CPU of children that ended in the window, whole lifetime: a hint, may over-count)' : ''),
    );
  }
  if (opts.streams > 1) {
    const per = (dSum.cpuPct - idleSum.cpuPct) / opts.streams;
    out.push(`daemon CPU above idle per stream: ${f1(per)} % of a core; server CPU per stream (daemon+recorder)/N: ${f1(sumOf(serverKeys, (s) => s.cpuPct) / opts.streams)} %`);
  }
  out.push('');
  out.push('RECORDS:');
  const rrows = records.map((r) => [
    r.name,
    r.startLatencyMs === null ? '-' : r.startLatencyMs.toFixed(0),
    r.exitToFinishingMs === null ? '-' : r.exitToFinishingMs.toFixed(0),
    r.finishingToDoneMs === null ? '-' : r.finishingToDoneMs.toFixed(0),
    r.exitToDoneLogMs === null ? '-' : r.exitToDoneLogMs.toFixed(0),
    r.exitToFileMs === null ? '-' : r.exitToFileMs.toFixed(0),
    r.exitToHookMs === null ? '-' : r.exitToHookMs.toFixed(0),
    r.probe ? r.probe.duration.toFixed(3) : '-',
    r.durErrMs === undefined ? '-' : (r.durErrMs >= 0 ? '+' : '') + r.durErrMs.toFixed(0),
    r.probe ? r.probe.videoStart.toFixed(3) : '-',
    r.probe && r.probe.audioStart !== null ? r.probe.audioStart.toFixed(3) : '-',
    r.probe && r.probe.videoDuration !== null ? r.probe.videoDuration.toFixed(3) : '-',
    r.probe && r.probe.audioDuration !== null ? r.probe.audioDuration.toFixed(3) : '-',
    r.probe ? String(r.probe.videoFrames) : '-',
    r.done ? String(r.done.durationMs) : '-',
    r.probe ? (r.probe.size / 1e6).toFixed(2) : '-',
  ]);
  out.push(
    table(rrows, [
      'stream',
      'pub→rec start ms',
      'exit→"finishing" ms',
      '"finishing"→"done" ms',
      'exit→"done" log ms',
      'exit→file ms',
      'exit→hook ms',
      'record dur s',
      'dur err ms',
      'v start_time s',
      'a start_time s',
      'v dur s',
      'a dur s',
      'v frames',
      'logged durationMs',
      'MB',
    ]),
  );
  out.push(
    `clip: duration ${clipInfo.duration.toFixed(3)} s, video start_time ${clipInfo.videoStart?.toFixed(3)} s, video ${clipInfo.videoDuration?.toFixed(3)} s / ${clipInfo.videoFrames} frames, audio ${clipInfo.audioDuration?.toFixed(3)} s`,
  );
  out.push('("exit" = the publishing ffmpeg process exited (it closes its RTMP connection just before, so log-based figures can be ~0 or negative);');
  out.push(' "finishing"/"done" = arrival of the daemon\'s "Recording finishing" / "Recording done" log lines (the muxer finalizing the MP4, +faststart);');
  out.push(' "file" = "Recording done" logged and the file exists in records/, polled every 10 ms;');
  out.push(' "hook" = the on_record_hook.sh line appeared in logs/record.log, polled every 10 ms; dur err = record - clip, ffprobe format durations)');
  out.push('');
  out.push(
    `daemon stop: SIGTERM → exit in ${stopMs.toFixed(0)} ms, code=${dExit ? dExit.code : 'TIMEOUT'} signal=${dExit ? dExit.signal : '-'}; recorder ffmpeg still alive after exit: ${leftovers.length ? leftovers.join(',') : 'none'}`,
  );
  const pubProblems = records.filter((r) => !r.pubExit || r.pubExit.code !== 0);
  if (pubProblems.length) out.push(`publisher problems: ${pubProblems.map((r) => `${r.name} exit=${JSON.stringify(r.pubExit)} ${r.pubErr}`).join('; ')}`);
  if (exitedEarly) {
    out.push(
      `WARNING: the daemon exited BEFORE the benchmark stopped it, ${exitedEarly.atS.toFixed(1)} s after publishing began ` +
        `(code=${exitedEarly.code} signal=${exitedEarly.signal}); this run's figures are not valid`,
    );
  }
  if (daemon.notable.length) out.push(`daemon warnings/errors/shutdown lines:\n  ${daemon.notable.join('\n  ')}`);
  const missing = records.filter((r) => !r.probe);
  if (missing.length) out.push(`MISSING records: ${missing.map((r) => r.name).join(', ')}`);
  console.log(out.join('\n'));
  // non-zero exit when the run is not valid (missing record, publisher error, daemon died or did not stop cleanly)
  return missing.length === 0 && pubProblems.length === 0 && !exitedEarly && dExit && dExit.code === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`benchmark failed: ${err?.stack ?? err}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
