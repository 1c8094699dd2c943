#!/usr/bin/env node
// Long RTMP fuzz run (issue 14): seeded, bounded mutations of valid publish
// sessions (handshake, chunk headers, chunk size, AMF commands and values,
// media payloads, timestamps) against a real daemon, with a healthy ffmpeg
// publish recorded beside them.
//
//   node bench/fuzz-rtmp.mjs [--sessions 5000] [--seed 1] [--concurrency 4] [--wait-ms 400] [--healthy-seconds 60] [--play]
//
// --play runs the daemon with rtmp_play_enabled=true, so that the cases that
// turn publish into play reach node-media-server's player path.
//
// Prints cases tried, crashes, the distinct refusal reasons and unexpected
// throws the daemon logged (each with its count), the healthy record's
// duration against its clip, orphaned processes, and the time taken.
// Needs a built daemon (npx tsc -p tsconfig.json) and ffmpeg/ffprobe.
// The generator and runner are test/fuzz/*.ts, bundled here with esbuild.
import { buildSync } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
function opt(name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
}
const sessions = opt('sessions', 5000);
const seed = opt('seed', 1);
const concurrency = opt('concurrency', 4);
const waitMs = opt('wait-ms', 400);
const healthySeconds = opt('healthy-seconds', 60);
const playEnabled = args.includes('--play');

const repo = path.resolve(import.meta.dirname, '..');
const out = path.join(os.tmpdir(), `wcs-fuzz-campaign-${process.pid}.mjs`);
buildSync({
  entryPoints: [path.join(repo, 'test', 'fuzz', 'fuzz-campaign.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: out,
  // test/helpers/daemon.ts finds the repository from its own folder
  define: { 'import.meta.dirname': JSON.stringify(path.join(repo, 'test', 'helpers')) },
  logLevel: 'error',
});
const { runCampaign } = await import(pathToFileURL(out).href);
fs.rmSync(out, { force: true });

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`);
console.log(`fuzz-rtmp: ${sessions} sessions, seed ${seed}, concurrency ${concurrency}, wait ${waitMs} ms, healthy publish ${healthySeconds} s, RTMP play ${playEnabled ? 'on' : 'off'}`);
let lastPrint = 0;
const result = await runCampaign({
  sessions,
  seed,
  concurrency,
  waitMs,
  healthySeconds,
  props: playEnabled ? { rtmp_play_enabled: true } : {},
  progress: (done, total) => {
    if (Date.now() - lastPrint > 10_000) {
      lastPrint = Date.now();
      console.log(`  ${done}/${total}`);
    }
  },
});
const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
console.log(`cases tried:            ${result.cases}`);
console.log(`crashes:                ${result.crashes}${result.crashCase ? ` (case ${result.crashCase.index}: ${result.crashCase.mutations.join(', ')})` : ''}`);
console.log(`closed by the server:   ${result.closedByServer}`);
console.log(`hung up by the client:  ${result.closedByClient}`);
console.log(`distinct refusals:      ${result.reasons.size}`);
for (const [reason, n] of sorted(result.reasons)) console.log(`  ${String(n).padStart(6)}  ${reason}`);
console.log(`distinct unexpected throws (caught by the guard): ${result.unexpected.size}`);
for (const [reason, n] of sorted(result.unexpected)) console.log(`  ${String(n).padStart(6)}  ${reason}`);
console.log(`healthy record:         ${result.healthyRecordSeconds ?? 'missing'} s (clip ${result.healthyClipSeconds} s)`);
console.log(`daemon exit code:       ${result.daemonExitCode}`);
console.log(`orphaned processes:     ${result.orphans.length}`);
console.log(`time:                   ${result.seconds.toFixed(1)} s`);
if (result.crashes > 0) console.log(result.logTail);
process.exit(result.crashes > 0 || result.healthyRecordSeconds === null ? 1 : 0);
