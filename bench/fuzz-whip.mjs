#!/usr/bin/env node
// WHIP SDP fuzzer, long run (issue 14): seeded mutations of a Chromium-like
// offer (src/tools/sdp-fuzz.ts) POSTed to a real daemon on free ports with a
// temp WCS_HOME. Every answer must be 201 or 4xx, never 5xx; the daemon must
// stay up; no feed ffmpeg may run for offers that never connect (the daemon's
// children are counted with `ps --ppid` after every batch). Each 201 session
// is DELETEd at once (a never-connected session ending).
//
//   node bench/fuzz-whip.mjs [--offers 1000] [--seed 1] [--concurrency 4]
//
// Prints offers tried, answers by status, 5xx and crashes (with the seed and
// index that reproduce them), feed ffmpegs seen, time. Needs a built daemon
// (npx tsc -p tsconfig.json).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { fuzzOffer } = await import(path.join(REPO, 'dist', 'tools', 'sdp-fuzz.js'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
};
const OFFERS = opt('offers', 1000);
const SEED = opt('seed', 1);
const CONCURRENCY = opt('concurrency', 4);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

function children(pid) {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-whip-'));
fs.mkdirSync(path.join(home, 'conf'));
const httpPort = await freePort();
const rtmpPort = await freePort();
const mediaFrom = 42000 + (process.pid % 50) * 40;
fs.writeFileSync(
  path.join(home, 'conf', 'server.properties'),
  [`http.port=${httpPort}`, `rtmp.port=${rtmpPort}`, 'ip_local=127.0.0.1', 'webrtc_publisher_idle_timeout=3', `media_port_from=${mediaFrom}`, `media_port_to=${mediaFrom + 39}`].join('\n') + '\n',
);
const daemon = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], { env: { ...process.env, WCS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
daemon.stdout.on('data', (d) => (output += d));
daemon.stderr.on('data', (d) => (output += d));
let exited = null;
daemon.on('exit', (code, signal) => (exited = { code, signal }));
const deadline = Date.now() + 30_000;
while (!/wcs-recorder ready/.test(output)) {
  if (exited || Date.now() > deadline) {
    console.error('daemon did not start:', output.slice(-2000));
    process.exit(2);
  }
  await new Promise((r) => setTimeout(r, 100));
}

const base = `http://127.0.0.1:${httpPort}`;
const byStatus = new Map();
const fiveXx = [];
const transportErrors = [];
let feedsSeen = 0;
let maxChildren = 0;
const started = Date.now();
const cpuStart = process.cpuUsage();

async function one(index) {
  const o = fuzzOffer(SEED, index);
  let url;
  try {
    url = `${base}/whip/${encodeURIComponent(o.streamName)}`;
  } catch {
    url = `${base}/whip/bad-name-${index}`;
  }
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: o.body });
    const text = await res.text();
    byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
    if (res.status >= 500) fiveXx.push({ index, status: res.status, mutations: o.mutations, message: text.slice(0, 200) });
    if (res.status === 201) {
      const location = res.headers.get('location');
      if (location) await fetch(base + location, { method: 'DELETE' }).then((r) => r.text()).catch(() => undefined);
    }
  } catch (err) {
    transportErrors.push({ index, mutations: o.mutations, err: String(err) });
  }
}

let next = 0;
let done = 0;
async function worker() {
  while (next < OFFERS && !exited) {
    const index = next++;
    await one(index);
    done++;
    if (done % 50 === 0) {
      const kids = children(daemon.pid);
      maxChildren = Math.max(maxChildren, kids.length);
      feedsSeen = Math.max(feedsSeen, kids.filter((k) => k.includes('-f sdp')).length);
    }
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
const seconds = (Date.now() - started) / 1000;
// sessions ended by DELETE: nothing of them may be left running
await new Promise((r) => setTimeout(r, 1500));
const left = children(daemon.pid);
const alive = exited === null;
const cpu = process.cpuUsage(cpuStart);
daemon.kill('SIGTERM');
await new Promise((r) => (exited ? r() : daemon.once('exit', r)));
const crashes = alive ? 0 : 1;

const statuses = Object.fromEntries([...byStatus.entries()].sort((a, b) => a[0] - b[0]));
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`command: node bench/fuzz-whip.mjs --offers ${OFFERS} --seed ${SEED} --concurrency ${CONCURRENCY}`);
console.log(`offers tried: ${done}`);
console.log(`answers by status: ${JSON.stringify(statuses)}`);
console.log(`5xx answers: ${fiveXx.length}`);
for (const f of fiveXx.slice(0, 10)) console.log(`  5xx seed=${SEED} index=${f.index} status=${f.status} mutations=${JSON.stringify(f.mutations)} ${f.message}`);
console.log(`transport errors (connection refused/reset): ${transportErrors.length}`);
for (const t of transportErrors.slice(0, 5)) console.log(`  seed=${SEED} index=${t.index} mutations=${JSON.stringify(t.mutations)} ${t.err}`);
console.log(`daemon crashes: ${crashes}${alive ? '' : ` (exit ${JSON.stringify(exited)})`}`);
const feedStarts = (output.match(/"msg":"WebRTC ICE connected; feed started"/g) ?? []).length;
console.log(`feed ffmpegs started (daemon log): ${feedStarts}; seen running at samples (ps --ppid, every 50 offers): max ${feedsSeen}; max children at a sample: ${maxChildren}`);
console.log(`children left after the run: ${left.length}${left.length ? ' ' + JSON.stringify(left) : ''}`);
console.log(`time: ${seconds.toFixed(1)} s (${(done / seconds).toFixed(1)} offers/s); fuzzer CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
if (!alive || feedsSeen > 0 || feedStarts > 0 || process.env.FUZZ_LOG) console.log(output.split("\n").filter((l) => !alive || /feed started|ICE|error/i.test(l)).slice(-40).join("\n"));
fs.rmSync(home, { recursive: true, force: true });
process.exit(fiveXx.length === 0 && crashes === 0 && transportErrors.length === 0 && left.length === 0 && feedStarts === 0 ? 0 : 1);
