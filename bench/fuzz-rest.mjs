#!/usr/bin/env node
// REST fuzzer, long run (issue 14, item 7). The generator and runner are the
// TypeScript module test/fuzz/rest-fuzz.ts (the short vitest run uses the
// same one); this script bundles it with esbuild (vite's, already installed)
// into a temp .mjs and runs it against a real daemon.
//
//   node bench/fuzz-rest.mjs [--requests 10000] [--seed 1] [--concurrency 4] [--max-pulls 2] [--exclude REGEX] [--json report.json]
//
// Prints: requests, answers by status (and by case kind), every 5xx / timeout /
// unexpected reset with its case and the daemon's logged stack, the healthy
// record check, orphaned ffmpegs, the most ffmpeg children seen, time.
// Exits 1 on any 5xx, timeout, unexpected reset, dead daemon, orphan or
// a healthy record that is not whole.
// Needs a built daemon (npx tsc -p tsconfig.json), ffmpeg/ffprobe.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { requests: 10000, seed: 1, concurrency: 4, maxPulls: 2, json: null, exclude: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--requests') o.requests = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--concurrency') o.concurrency = Number(v());
    else if (a === '--max-pulls') o.maxPulls = Number(v());
    else if (a === '--json') o.json = v();
    else if (a === '--exclude') o.exclude = new RegExp(v());
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/fuzz-rest.mjs [--requests 10000] [--seed 1] [--concurrency 4] [--max-pulls 2] [--exclude REGEX] [--json report.json]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.requests) || o.requests < 1 || o.requests > 1_000_000) throw new Error('--requests must be 1..1000000');
  if (!Number.isInteger(o.seed)) throw new Error('--seed must be an integer');
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 32) throw new Error('--concurrency must be 1..32');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const { build } = await import(pathToFileURL(path.join(REPO, 'node_modules', 'esbuild', 'lib', 'main.js')).href).catch(async () => import('esbuild'));
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-fuzz-build-'));
const outfile = path.join(outDir, 'rest-fuzz.mjs');
await build({
  entryPoints: [path.join(REPO, 'test', 'fuzz', 'rest-fuzz.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outfile,
  logLevel: 'error',
  // test/helpers/daemon.ts finds the repository from import.meta.dirname
  define: { 'import.meta.dirname': JSON.stringify(path.join(REPO, 'test', 'helpers')) },
});
const fuzz = await import(pathToFileURL(outfile).href);
fs.rmSync(outDir, { recursive: true, force: true });

console.log(`# fuzz-rest: ${opts.requests} requests, seed ${opts.seed}, concurrency ${opts.concurrency}`);
console.log(`# machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
const report = await fuzz.runFuzz({
  requests: opts.requests,
  seed: opts.seed,
  concurrency: opts.concurrency,
  maxPulls: opts.maxPulls,
  exclude: opts.exclude ?? undefined,
  log: (l) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${l}`),
});
const sorted = (o) => Object.entries(o).sort((a, b) => a[0].localeCompare(b[0]));
console.log('');
console.log('# result');
console.log(`requests            ${report.requests} in ${report.seconds.toFixed(1)} s (${(report.requests / report.seconds).toFixed(0)}/s)`);
console.log(`answers by status   ${sorted(report.byStatus).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
for (const [kind, st] of sorted(report.byKind)) console.log(`  ${kind.padEnd(18)} ${sorted(st).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
console.log(`failures            ${report.failures.length} (5xx, timeouts, resets other than for oversized bodies)`);
for (const f of report.failures.slice(0, 30)) {
  const body = f.case.body ? f.case.body.toString('utf8', 0, 300) : '';
  console.log(`  #${f.case.n} ${f.case.kind} ${f.case.method} ${f.case.path.slice(0, 200)} ${JSON.stringify(f.case.headers)} body ${JSON.stringify(body)}`);
  console.log(`    -> ${f.answer.status} ${f.answer.body.slice(0, 300)}`);
  for (const l of f.logged.slice(0, 3)) console.log(`    log ${l.slice(0, 1500)}`);
}
console.log(`"Request failed"    ${report.serverErrorLines.length} lines in the daemon log`);
console.log(`resets              ${report.resets} (oversized bodies cut by the server are allowed)`);
console.log(`daemon              ${report.daemonAlive ? 'alive' : 'DEAD'} at the end; exit ${report.daemonExit} on SIGTERM`);
console.log(`ffmpeg              at most ${report.maxFfmpegChildren} children seen; camera pulls terminated by the fuzzer ${report.pullsTerminated}; orphans after stop ${report.orphans.length}`);
const h = report.healthy;
console.log(`healthy record      ${h.ok ? 'OK' : 'FAILED'}: ${h.parts} part(s), ${h.recordedSeconds.toFixed(2)} s recorded, ${h.sentSeconds.toFixed(2)} s sent${h.note ? ' — ' + h.note : ''}`);
if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(report, (k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('utf8', 0, 2000) : v), 2));
const failed = report.failures.length > 0 || report.serverErrorLines.length > 0 || !report.daemonAlive || report.orphans.length > 0 || !h.ok;
console.log(failed ? 'FUZZ FAILED' : 'FUZZ PASSED');
process.exit(failed ? 1 : 0);
