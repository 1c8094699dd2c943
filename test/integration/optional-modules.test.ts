import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/daemon.js';

/**
 * Issue 20: the packages of optional features (S3 uploads, the PostgreSQL
 * catalog, the werift WebRTC engine) are loaded when the feature is set
 * up, not with the daemon's modules: a daemon that does not use them does
 * not carry them in its heap. Runs the built modules in a fresh node and
 * reads which CommonJS packages it loaded.
 */
function loadedPackages(script: string): string[] {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  const files = JSON.parse(out.trim().split('\n').pop() as string) as string[];
  const names = new Set<string>();
  for (const f of files) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (m) names.add(m[1] as string);
  }
  return [...names];
}

const dist = (p: string): string => JSON.stringify(path.join(REPO, 'dist', p));
const PRINT_CACHE = "import { createRequire } from 'node:module'; const r = createRequire(import.meta.url); console.log(JSON.stringify(Object.keys(r.cache)));";

describe('optional packages are loaded when their feature is set up', () => {
  it('importing the daemon loads neither the AWS SDK, nor pg, nor werift', () => {
    const loaded = loadedPackages(`await import(${dist('daemon.js')}); ${PRINT_CACHE}`);
    // the daemon's own dependencies are there (the check sees CommonJS packages)
    expect(loaded).toContain('fastify');
    expect(loaded).toContain('better-sqlite3');
    expect(loaded.filter((n) => n.startsWith('@aws-sdk/') || n === 'pg' || n === 'werift')).toEqual([]);
  });

  it('an S3 bucket loads the AWS SDK, a PostgreSQL catalog loads pg', () => {
    const loaded = loadedPackages(
      `const { S3Bucket } = await import(${dist('storage/s3-bucket.js')}); const { PgCatalog } = await import(${dist('catalog/pg-catalog.js')});` +
        "new S3Bucket({ bucket: 'b', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, partSize: 5242880, partConcurrency: 1 });" +
        "const c = new PgCatalog('postgres://u:p@127.0.0.1:9/none', { nodeId: 'n', maxConnections: 1 }); await c.close().catch(() => undefined);" +
        PRINT_CACHE,
    );
    expect(loaded).toContain('@aws-sdk/client-s3');
    expect(loaded).toContain('@aws-sdk/lib-storage');
    expect(loaded).toContain('pg');
  });

  it('the werift engine loads werift when it starts, not when it is chosen', () => {
    const loaded = loadedPackages(
      `const { createEngine } = await import(${dist('ingest/webrtc/create-engine.js')}); const { default: pino } = await import('pino');` +
        "const e = createEngine('werift', { announcedIp: '127.0.0.1', bindIp: '127.0.0.1', portRange: [40000, 40010], maxBitrate: 1000000 }, { workers: 1, cacheDir: '' }, pino({ level: 'silent' }));" +
        "if (e.name !== 'werift') throw new Error(e.name); const mod = await import('node:module'); const before = Object.keys(mod.createRequire(import.meta.url).cache).some((f) => f.includes('/node_modules/werift/'));" +
        "if (before) throw new Error('werift loaded before start'); await e.start(); await e.close();" +
        PRINT_CACHE,
    );
    expect(loaded).toContain('werift');
  });
});
