#!/usr/bin/env node
// Benchmark (issue 20, the idle daemon): what Node's event-loop delay
// histogram (perf_hooks.monitorEventLoopDelay, behind /rest-api/server/stats
// and /metrics) costs at each sampling period, and what each period reads.
//
//   node bench/event-loop-resolution.mjs [--seconds 30] [--resolutions 20,50,100]
//
// 1. Idle cost: one child Node process per case doing nothing but sampling
//    (no histogram; one or two histograms at the same period; a JS
//    setInterval sampler for comparison), its CPU (process.cpuUsage) and
//    voluntary context switches (wake-ups) over the window.
// 2. What is read: one process under a synthetic load (short tasks, mean
//    0.6 ms, about 60 % busy, and 0.2 % of tasks stalling 30-80 ms) with one
//    histogram per period plus a 5 ms reference, all over the same run:
//    samples, p50/p90/p99/max of the delay beyond the period.
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const seconds = Number(opt('--seconds', '30'));
const resolutions = opt('--resolutions', '20,50,100').split(',').map(Number);

const IDLE = `
const { monitorEventLoopDelay, createHistogram } = require('node:perf_hooks');
const fs = require('node:fs');
const [kind, res, secs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
setInterval(() => {}, 1 << 30);
if (kind === 'histogram') monitorEventLoopDelay({ resolution: res }).enable();
if (kind === 'two histograms') { monitorEventLoopDelay({ resolution: res }).enable(); monitorEventLoopDelay({ resolution: res }).enable(); }
if (kind === 'JS setInterval') {
  const h = createHistogram(); let last = performance.now();
  setInterval(() => { const now = performance.now(); h.record(Math.max(1, Math.round((now - last) * 1e6))); last = now; }, res);
}
const sw = () => Number(/^voluntary_ctxt_switches:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
setTimeout(() => {
  const s0 = sw(), c0 = process.cpuUsage();
  setTimeout(() => {
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({ cpuPerMin: ((c.user + c.system) / 1e6 / secs) * 60, wakeups: (sw() - s0) / secs }));
    process.exit(0);
  }, secs * 1000);
}, 2000);
`;

const LOAD = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const RES = JSON.parse(process.argv[1]); const secs = Number(process.argv[2]);
const hs = RES.map((r) => { const h = monitorEventLoopDelay({ resolution: r }); h.enable(); return [r, h]; });
const spin = (ms) => { const t = performance.now(); while (performance.now() - t < ms) {} };
let rnd = 12345; const rand = () => ((rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648);
const end = Date.now() + secs * 1000;
function task() {
  if (Date.now() > end) {
    const ms = (ns, r) => Math.max(0, (ns - r * 1e6) / 1e6).toFixed(1);
    console.log(JSON.stringify(hs.map(([r, h]) => ({ r, count: h.count, p50: ms(h.percentile(50), r), p90: ms(h.percentile(90), r), p99: ms(h.percentile(99), r), max: ms(h.max, r) }))));
    process.exit(0);
  }
  const x = rand();
  spin(x < 0.002 ? 30 + rand() * 50 : -Math.log(1 - rand()) * 0.6);
  setTimeout(task, 0.4 + rand());
}
task();
`;

console.log(`event-loop-resolution: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, ${seconds} s per case`);
console.log('\n1. idle cost (CPU-s per minute, wake-ups per second)');
const idle = (kind, res) => {
  const r = spawnSync(process.execPath, ['-e', IDLE, kind, String(res), String(seconds)], { encoding: 'utf8' });
  const j = JSON.parse(r.stdout.trim());
  console.log(`  ${kind.padEnd(15)} ${res ? `${res} ms`.padStart(6) : '      '}: ${j.cpuPerMin.toFixed(3)} CPU-s/min, ${j.wakeups.toFixed(1)} wake-ups/s`);
};
idle('nothing', 0);
for (const r of resolutions) {
  idle('histogram', r);
  idle('two histograms', r);
  idle('JS setInterval', r);
}
console.log('\n2. read under a synthetic load (delay beyond the period, ms)');
const load = spawnSync(process.execPath, ['-e', LOAD, JSON.stringify([5, ...resolutions]), String(seconds)], { encoding: 'utf8' });
for (const h of JSON.parse(load.stdout.trim())) {
  console.log(`  ${String(h.r).padStart(3)} ms${h.r === 5 ? ' (reference)' : '            '}: ${String(h.count).padStart(6)} samples, p50 ${h.p50}, p90 ${h.p90}, p99 ${h.p99}, max ${h.max}`);
}
