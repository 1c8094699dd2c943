#!/usr/bin/env node
// Benchmark (issue 20, the idle daemon): what wcs-recorder costs with no
// stream at all. Starts the daemon (bin/wcs-recorder, a temp WCS_HOME, free
// ports, the default configuration otherwise), waits until
// /rest-api/server/stats answers plus a settle time, then measures over a
// window:
//   - CPU seconds of the daemon's whole process tree (own + reaped children,
//     the /proc method of bench/concurrent-rtmp.mjs), and per minute;
//   - per process of the tree and per thread (comm + CPU ticks);
//   - wake-ups: voluntary + involuntary context switches of every thread
//     (/proc/PID/task/TID/status), the main thread's apart; with --perf also
//     `perf stat -e task-clock,context-switches,cpu-migrations` over the
//     daemon process (all its threads) for the same window;
//   - PSS of each process (smaps_rollup) at the end of the window.
//
//   node bench/idle-cpu.mjs [--seconds 60] [--settle 30] [--runs 1] [--perf]
//                           [--props key=value,key=value] [--repo DIR] [--json]
//
// --settle: seconds after ready before the window opens (default 30: V8 runs
//   one full garbage collection, its memory reducer, about 15 s after start-up,
//   30-110 ms of CPU once; the window measures the steady idle cost).
// --props: extra lines for conf/server.properties (e.g. webrtc_engine=werift).
// --repo DIR: measure the daemon of another checkout (DIR/bin/wcs-recorder),
//   e.g. a build of the commit before a change; default: this checkout.
// --runs N: N daemons one after another (the machine is noisy: compare the
//   spread, not one figure). Alternate two checkouts with --repo A,B: the runs
//   go A, B, A, B, ...
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const o = { seconds: 60, settle: 30, runs: 1, perf: false, props: [], repos: [HERE], json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--seconds') o.seconds = Number(v());
    else if (a === '--settle') o.settle = Number(v());
    else if (a === '--runs') o.runs = Number(v());
    else if (a === '--perf') o.perf = true;
    else if (a === '--json') o.json = true;
    else if (a === '--props') o.props = v().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--repo') o.repos = v().split(',').map((s) => path.resolve(s.trim()));
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/idle-cpu.mjs [--seconds 60] [--settle 30] [--runs 1] [--perf] [--props k=v,k=v] [--repo DIR[,DIR]] [--json]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.seconds >= 5)) throw new Error('--seconds must be >= 5');
  if (!(o.settle >= 0)) throw new Error('--settle must be >= 0');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs takes a positive integer');
  for (const r of o.repos) if (!fs.existsSync(path.join(r, 'bin', 'wcs-recorder'))) throw new Error(`no bin/wcs-recorder in ${r}`);
  return o;
}

// ------------------------------------------------------------------ /proc
function statFields(file) {
  const s = fs.readFileSync(file, 'utf8');
  return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), f: s.slice(s.lastIndexOf(')') + 2).split(' ') };
}
function procTable() {
  const t = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const { comm, f } = statFields(`/proc/${d}/stat`);
      // utime + stime + cutime + cstime: own time and the time of the children it reaped
      t.set(Number(d), { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {}
  }
  return t;
}
/** The root and all its descendants. */
function tree(root, table) {
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, p] of table) if (p.ppid === out[i]) out.push(pid);
  return out.filter((p) => table.has(p));
}
function switches(file) {
  const s = fs.readFileSync(file, 'utf8');
  return { vol: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0), nonvol: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0) };
}
function threads(pid) {
  const out = new Map();
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const { comm, f } = statFields(`/proc/${pid}/task/${tid}/stat`);
      out.set(Number(tid), { comm, ticks: Number(f[11]) + Number(f[12]), ...switches(`/proc/${pid}/task/${tid}/status`) });
    } catch {}
  }
  return out;
}
function pssMiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
/** Everything measured at one instant: each process of the tree with its threads. */
function snapshot(root) {
  const table = procTable();
  const procs = new Map();
  for (const pid of tree(root, table)) procs.set(pid, { comm: table.get(pid).comm, ticks: table.get(pid).ticks, threads: threads(pid) });
  return { atMs: performance.now(), procs };
}
function machineBusy() {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total };
}

// ------------------------------------------------------------------ daemon
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function stats(port) {
  const r = await fetch(`http://127.0.0.1:${port}/rest-api/server/stats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return r.status === 200 ? r.json() : null;
}

async function startDaemon(repo, dir, props) {
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  for (const d of ['conf', 'bin']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'conf', 'server.properties'),
    `http.port=${httpPort}\nrtmp.port=${rtmpPort}\nip_local=127.0.0.1\n` + props.map((l) => `${l}\n`).join(''),
  );
  const hook = path.join(dir, 'bin', 'on_record_hook.sh');
  fs.copyFileSync(path.join(repo, 'bin', 'on_record_hook.sh'), hook);
  fs.chmodSync(hook, 0o755);
  const cp = spawn(path.join(repo, 'bin', 'wcs-recorder'), [], { env: { ...process.env, WCS_HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  cp.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise((resolve) => cp.on('exit', (code, signal) => resolve({ code, signal })));
  const t0 = performance.now();
  for (;;) {
    try {
      if ((await stats(httpPort)) !== null) break;
    } catch {}
    if (cp.exitCode !== null || performance.now() - t0 > 60_000) {
      cp.kill('SIGKILL');
      throw new Error(`daemon did not start: ${err}`);
    }
    await sleep(100);
  }
  return { cp, httpPort, exited, readyMs: performance.now() - t0 };
}

async function stopDaemon(d) {
  d.cp.kill('SIGTERM');
  const t = setTimeout(() => d.cp.kill('SIGKILL'), 15_000);
  await d.exited;
  clearTimeout(t);
}

function perfStat(pid, seconds) {
  const cp = spawn('perf', ['stat', '-x', ',', '-e', 'task-clock,context-switches,cpu-migrations', '-p', String(pid), '--', 'sleep', String(seconds)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  cp.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) =>
    cp.on('close', () => {
      const out = {};
      for (const line of err.split('\n')) {
        const f = line.split(',');
        if (f.length >= 3 && f[2]) out[f[2]] = Number(f[0]);
      }
      resolve(Object.keys(out).length ? out : { error: err.trim().slice(-300) });
    }),
  );
}

// ------------------------------------------------------------------ one run
async function oneRun(repo, opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-idle-'));
  const d = await startDaemon(repo, dir, opts.props);
  try {
    await sleep(opts.settle * 1000);
    const m0 = machineBusy();
    const s0 = snapshot(d.cp.pid);
    const perf = opts.perf ? perfStat(d.cp.pid, opts.seconds) : null;
    await sleep(opts.seconds * 1000);
    const s1 = snapshot(d.cp.pid);
    const m1 = machineBusy();
    const perfOut = perf ? await perf : null;
    const seconds = (s1.atMs - s0.atMs) / 1000;
    const procs = [];
    let treeTicks = 0;
    let wakeups = 0;
    for (const [pid, p1] of s1.procs) {
      const p0 = s0.procs.get(pid);
      const ticks = p1.ticks - (p0?.ticks ?? 0);
      treeTicks += ticks;
      const ths = [];
      for (const [tid, t1] of p1.threads) {
        const t0 = p0?.threads.get(tid);
        const th = {
          tid,
          comm: t1.comm,
          ticks: t1.ticks - (t0?.ticks ?? 0),
          vol: t1.vol - (t0?.vol ?? 0),
          nonvol: t1.nonvol - (t0?.nonvol ?? 0),
        };
        wakeups += th.vol + th.nonvol;
        ths.push(th);
      }
      procs.push({ pid, comm: p1.comm, ticks, pssMiB: pssMiB(pid), threads: ths });
    }
    const main = procs.find((p) => p.pid === d.cp.pid)?.threads.find((t) => t.tid === d.cp.pid);
    const stat = await stats(d.httpPort).catch(() => null);
    return {
      repo,
      seconds,
      readyMs: Math.round(d.readyMs),
      cpuSeconds: treeTicks / CLK_TCK,
      cpuSecondsPerMinute: (treeTicks / CLK_TCK / seconds) * 60,
      wakeupsPerSecond: wakeups / seconds,
      mainThreadWakeupsPerSecond: main ? (main.vol + main.nonvol) / seconds : null,
      machinePct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * os.cpus().length * 100,
      pssMiB: procs.reduce((s, p) => s + p.pssMiB, 0),
      procs,
      perf: perfOut,
      eventLoopDelay: stat?.eventLoopDelay ?? null,
    };
  } finally {
    await stopDaemon(d);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function print(r, i) {
  const rel = path.relative(process.cwd(), r.repo) || '.';
  console.log(
    `\nrun ${i + 1} (${rel}): ${r.seconds.toFixed(1)} s window, ready in ${r.readyMs} ms; tree CPU ${r.cpuSeconds.toFixed(2)} s = ` +
      `${r.cpuSecondsPerMinute.toFixed(3)} CPU-s/min (${((r.cpuSecondsPerMinute / 60) * 100).toFixed(2)} % of a core); ` +
      `wake-ups ${r.wakeupsPerSecond.toFixed(1)}/s (main thread ${r.mainThreadWakeupsPerSecond?.toFixed(1)}/s); PSS ${r.pssMiB.toFixed(1)} MiB; machine busy ${r.machinePct.toFixed(0)} %`,
  );
  if (r.perf) {
    const p = r.perf;
    if (p.error) console.log(`  perf stat: ${p.error}`);
    else
      console.log(
        `  perf stat (daemon process, all threads): task-clock ${(p['task-clock'] / 1000).toFixed(2)} s, ` +
          `context-switches ${p['context-switches']} (${(p['context-switches'] / r.seconds).toFixed(1)}/s), cpu-migrations ${p['cpu-migrations']}`,
      );
  }
  for (const p of r.procs) {
    console.log(`  pid ${p.pid} ${p.comm}: ${(p.ticks / CLK_TCK).toFixed(2)} CPU-s, PSS ${p.pssMiB.toFixed(1)} MiB`);
    const busy = p.threads.filter((t) => t.ticks > 0 || t.vol + t.nonvol > 0).sort((a, b) => b.ticks - a.ticks || b.vol - a.vol);
    for (const t of busy) {
      console.log(
        `    ${String(t.tid).padStart(7)} ${t.comm.padEnd(16)} ${String(t.ticks).padStart(4)} ticks  ${(t.vol / r.seconds).toFixed(1).padStart(6)} vol/s  ${(t.nonvol / r.seconds).toFixed(2).padStart(5)} invol/s`,
      );
    }
  }
}

const opts = parseArgs(process.argv.slice(2));
console.log(
  `idle-cpu: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, CLK_TCK ${CLK_TCK}; ` +
    `settle ${opts.settle} s, window ${opts.seconds} s, props [${opts.props.join(', ')}]`,
);
const results = [];
for (let i = 0; i < opts.runs * opts.repos.length; i++) {
  const repo = opts.repos[i % opts.repos.length];
  const r = await oneRun(repo, opts);
  results.push(r);
  print(r, i);
}
console.log('\nsummary (CPU-s per minute of the whole tree, wake-ups per second of all its threads):');
for (const repo of opts.repos) {
  const rs = results.filter((r) => r.repo === repo);
  const cpu = rs.map((r) => r.cpuSecondsPerMinute.toFixed(3)).join(', ');
  const wk = rs.map((r) => r.wakeupsPerSecond.toFixed(0)).join(', ');
  const perf = rs.every((r) => r.perf && !r.perf.error)
    ? `; perf task-clock CPU-s/min [${rs.map((r) => ((r.perf['task-clock'] / 1000 / r.seconds) * 60).toFixed(3)).join(', ')}]`
    : '';
  console.log(`  ${path.relative(process.cwd(), repo) || '.'}: CPU-s/min [${cpu}]; wake-ups/s [${wk}]${perf}; PSS ${rs.map((r) => r.pssMiB.toFixed(0)).join(', ')} MiB`);
}
if (opts.json) console.log(JSON.stringify(results.map(({ procs, ...r }) => r)));
