#!/usr/bin/env node
// Benchmark (issue 19): uploads of finished records to S3-compatible storage.
//
//   node bench/upload.mjs [--sizes 8,32,128] [--part-size 8] [--concurrency 2] [--runs 3]
//
// An S3 endpoint on loopback (s3rver, the tests' stand-in: it writes each
// object to a temp folder), the daemon's own UploadService, SqliteUploadStore
// (a temp catalog file) and S3Bucket from dist/. For each size (MiB) a file of
// random bytes (incompressible, as H.264 is) is queued RUNS times:
//   - queue latency: what a finished record pays before its hook runs
//     (enqueue(): one SQLite upsert; the upload itself runs in the background);
//   - finish -> verified: from enqueue to the 'uploaded' event (hash pass,
//     multipart upload, HEAD, verification, catalog row), and its throughput;
//   - the hash pass alone (SHA-256 + MD5 + per-part MD5 in one read);
//   - CONCURRENCY files at once: aggregate throughput.
// s3rver is slow compared with MinIO or AWS (it is a test double written in
// JavaScript, sharing this machine's 2 cores with the uploader): the figures
// are a floor for the uploader's own costs, not a store's speed.
// Needs a built tree (npx tsc -p tsconfig.json).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import S3rver from 's3rver';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const REPO = path.resolve(import.meta.dirname, '..');
const dist = (p) => import(path.join(REPO, 'dist', p));
const { SqliteCatalog } = await dist('catalog/sqlite-catalog.js');
const { SqliteUploadStore } = await dist('storage/sqlite-upload-store.js');
const { S3Bucket } = await dist('storage/s3-bucket.js');
const { UploadService } = await dist('storage/upload-service.js');
const { digestFile } = await dist('storage/file-digest.js');

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '8,32,128' },
    'part-size': { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const partSize = Number(values['part-size']) * 1024 * 1024;
const concurrency = Number(values.concurrency);
const runs = Number(values.runs);

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_CONFIG_FILE = '/dev/null';
process.env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-upload-'));
const s3dir = path.join(work, 's3');
fs.mkdirSync(s3dir);
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
const { port } = await server.run();
const endpoint = `http://127.0.0.1:${port}`;
const admin = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED' });
await admin.send(new CreateBucketCommand({ Bucket: 'bench' }));

const catalog = SqliteCatalog.open(path.join(work, 'catalog.sqlite'));
const store = new SqliteUploadStore(catalog.database);
const recDir = path.join(work, 'rec');
fs.mkdirSync(recDir);
const bucket = new S3Bucket({ bucket: 'bench', endpoint, region: 'us-east-1', forcePathStyle: true, partSize, partConcurrency: 2 });
const uploads = new UploadService(
  store,
  bucket,
  catalog,
  { node: 'bench', target: { bucket: 'bench', prefix: 'b/' }, concurrency, partSize, deleteLocal: false, verify: 'etag', retryMinMs: 1000, retryMaxMs: 2000, maxAttempts: 3, pollMs: 200 },
  pino({ level: 'silent' }),
);
await uploads.start();

const done = new Map();
uploads.on('uploaded', (row) => done.get(row.fileName)?.(performance.now()));
uploads.on('failed', (row, err) => {
  console.error('upload failed', row.fileName, err);
  process.exit(1);
});

function makeFile(name, mib) {
  const file = path.join(recDir, name);
  const fd = fs.openSync(file, 'w');
  const chunk = crypto.randomBytes(1024 * 1024);
  for (let i = 0; i < mib; i++) fs.writeSync(fd, chunk.map((b, j) => b ^ (i + j)));
  fs.closeSync(fd);
  return file;
}

async function uploadOne(name, file) {
  const size = fs.statSync(file).size;
  const finished = new Promise((resolve) => done.set(name, resolve));
  const t0 = performance.now();
  await uploads.enqueue({ fileName: name, dir: recDir, size, startMs: Date.now() });
  const queued = performance.now() - t0;
  const t1 = await finished;
  return { queuedMs: queued, totalMs: t1 - t0, size };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbps = (bytes, ms) => (bytes / 1024 / 1024 / (ms / 1000)).toFixed(1);

console.log(`# bench/upload.mjs — ${new Date().toISOString()}, ${os.cpus().length} x ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`# s3rver on loopback, part size ${partSize / 1024 / 1024} MiB, ${runs} runs per size, medians`);
console.log('| file | queue latency (enqueue) | hash pass | finish -> verified in bucket | throughput |');
console.log('|---|---|---|---|---|');
let n = 0;
for (const mib of sizes) {
  const results = [];
  const hashes = [];
  for (let r = 0; r < runs; r++) {
    const name = `rec-${mib}-${r}-${n++}.mp4`;
    const file = makeFile(name, mib);
    const h0 = performance.now();
    await digestFile(file, partSize);
    hashes.push(performance.now() - h0);
    results.push(await uploadOne(name, file));
    fs.rmSync(file);
  }
  const total = median(results.map((x) => x.totalMs));
  console.log(
    `| ${mib} MiB | ${median(results.map((x) => x.queuedMs)).toFixed(2)} ms | ${median(hashes).toFixed(0)} ms (${mbps(mib * 1024 * 1024, median(hashes))} MiB/s) | ${(total / 1000).toFixed(2)} s | ${mbps(mib * 1024 * 1024, total)} MiB/s |`,
  );
}
{
  const mib = sizes[Math.min(1, sizes.length - 1)];
  const files = Array.from({ length: concurrency * 2 }, (_, i) => {
    const name = `par-${mib}-${i}.mp4`;
    return [name, makeFile(name, mib)];
  });
  const t0 = performance.now();
  await Promise.all(files.map(([name, file]) => uploadOne(name, file)));
  const ms = performance.now() - t0;
  console.log(`\n${files.length} files of ${mib} MiB queued together (record_upload_concurrency=${concurrency}): ${(ms / 1000).toFixed(2)} s, ${mbps(files.length * mib * 1024 * 1024, ms)} MiB/s aggregate`);
}
await uploads.close();
admin.destroy();
await catalog.close();
await server.close();
fs.rmSync(work, { recursive: true, force: true });
