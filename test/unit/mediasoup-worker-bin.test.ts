import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioRelay } from '../../src/ingest/webrtc/mediasoup-engine.js';
import { defaultCacheDirs, findMediasoupPackage, findMediasoupWorker, lookupMediasoupWorker, type WorkerLookupFs } from '../../src/ingest/webrtc/mediasoup-worker-bin.js';

const MAIN = '/app/node_modules/mediasoup/node/lib/index.js';
const PKG = '/app/node_modules/mediasoup/package.json';

function machine(files: Record<string, string>, over: Partial<WorkerLookupFs> = {}): WorkerLookupFs {
  return {
    env: {},
    resolveMain: () => MAIN,
    readFile: (f) => {
      const text = files[f];
      if (text === undefined) throw new Error(`ENOENT ${f}`);
      return text;
    },
    isFile: (f) => f in files,
    listDir: (dir) => {
      const names = new Set<string>();
      for (const f of Object.keys(files)) if (f.startsWith(`${dir}/`)) names.add(f.slice(dir.length + 1).split('/')[0]!);
      if (names.size === 0) throw new Error(`ENOENT ${dir}`);
      return [...names];
    },
    mtimeMs: (f) => Number(files[f]),
    cacheDirs: ['/var/cache/ms', '/home/u/.cache/ms'],
    ...over,
  };
}
const installed = { [PKG]: JSON.stringify({ name: 'mediasoup', version: '3.19.3' }), '/app/package.json': JSON.stringify({ name: 'app' }) };

describe('mediasoup worker lookup', () => {
  it('finds mediasoup from its main entry, walking up past folders without its package.json', () => {
    expect(findMediasoupPackage(MAIN, machine(installed).readFile)).toEqual({ dir: '/app/node_modules/mediasoup', version: '3.19.3' });
    expect(findMediasoupPackage('/x/y/z.js', machine({}).readFile)).toBeNull();
  });

  it('not installed: says so', () => {
    const io = machine(installed, {
      resolveMain: () => {
        throw new Error('Cannot find module');
      },
    });
    expect(findMediasoupWorker(io)).toMatchObject({ path: null, why: expect.stringMatching(/not installed/) });
  });

  it('MEDIASOUP_WORKER_BIN first, then the prebuilt worker, then the newest cached worker of this version', () => {
    const prebuilt = '/app/node_modules/mediasoup/worker/out/Release/mediasoup-worker';
    const cached = {
      '/var/cache/ms/3.19.3-aaa/mediasoup-worker': '100',
      '/var/cache/ms/3.19.3-bbb/mediasoup-worker': '300',
      '/var/cache/ms/3.18.0-ccc/mediasoup-worker': '900',
      '/home/u/.cache/ms/3.19.3-ddd/mediasoup-worker': '200',
    };
    const all = { ...installed, [prebuilt]: '1', '/opt/w': '1', ...cached };
    expect(findMediasoupWorker(machine(all, { env: { MEDIASOUP_WORKER_BIN: '/opt/w' } }))).toEqual({
      path: '/opt/w',
      origin: 'MEDIASOUP_WORKER_BIN',
      version: '3.19.3',
      why: '',
    });
    expect(findMediasoupWorker(machine(all, { env: { MEDIASOUP_WORKER_BIN: '/nope' } })).why).toMatch(/MEDIASOUP_WORKER_BIN=\/nope does not exist/);
    expect(findMediasoupWorker(machine(all))).toMatchObject({ path: prebuilt, origin: 'prebuilt' });
    expect(findMediasoupWorker(machine({ ...installed, ...cached }))).toMatchObject({ path: '/var/cache/ms/3.19.3-bbb/mediasoup-worker', origin: 'cache' });
    const none = findMediasoupWorker(machine(installed));
    expect(none.path).toBeNull();
    expect(none.why).toMatch(/no worker for mediasoup 3\.19\.3.*tools\/build-mediasoup-worker\.sh/);
  });

  it('cache folders: the configured one, else MEDIASOUP_WORKER_CACHE, else /var/cache then the home cache', () => {
    expect(defaultCacheDirs({}, '/c')).toEqual(['/c']);
    expect(defaultCacheDirs({ MEDIASOUP_WORKER_CACHE: '/e' })).toEqual(['/e']);
    expect(defaultCacheDirs({ HOME: '/home/u' })).toEqual(['/var/cache/wcs-recorder/mediasoup-worker', '/home/u/.cache/wcs-recorder/mediasoup-worker']);
  });

  // the installed package, for real: mediasoup's `exports` has no ./package.json, so resolving it that way throws
  const require = createRequire(import.meta.url);
  let installedHere = true;
  try {
    require.resolve('mediasoup');
  } catch {
    installedHere = false;
  }
  it.skipIf(!installedHere)('the real installed mediasoup is found (require.resolve of its package.json throws ERR_PACKAGE_PATH_NOT_EXPORTED)', () => {
    expect(() => require.resolve('mediasoup/package.json')).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/);
    const found = lookupMediasoupWorker();
    const version = (JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('mediasoup')), '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
    expect(found.version).toBe(version);
    expect(found.why).not.toMatch(/not installed/);
  });
});

describe('AudioRelay (mediasoup audio RTP on its way to the feed)', () => {
  it('forwards each packet to the feed port, and a nudge sends the last one again, renumbered (+1 seq, +960 ts)', async () => {
    const dgram = await import('node:dgram');
    const feed = dgram.createSocket('udp4');
    await new Promise<void>((r) => feed.bind(0, '127.0.0.1', () => r()));
    const got: Buffer[] = [];
    feed.on('message', (m) => got.push(m));
    const nudger = dgram.createSocket('udp4');
    const relay = new AudioRelay(feed.address().port, (packet, port) => nudger.send(packet, port, '127.0.0.1'));
    const port = await relay.bind();
    const sender = dgram.createSocket('udp4');
    const rtp = Buffer.alloc(20);
    rtp[0] = 0x80;
    rtp[1] = 111;
    rtp.writeUInt16BE(0xffff, 2);
    rtp.writeUInt32BE(0xfffffe00, 4);
    rtp.writeUInt32BE(1234, 8);
    sender.send(rtp, port, '127.0.0.1');
    const until = async (n: number) => {
      for (let i = 0; i < 200 && got.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(1);
    expect(got[0]).toEqual(rtp);
    relay.close();
    // after the session closed, the feed can still be nudged to its end
    relay.nudge();
    relay.nudge();
    await until(3);
    expect(got.map((p) => [p.readUInt16BE(2), p.readUInt32BE(4), p.readUInt32BE(8)])).toEqual([
      [0xffff, 0xfffffe00, 1234],
      [0, (0xfffffe00 + 960) >>> 0, 1234],
      [1, (0xfffffe00 + 1920) >>> 0, 1234],
    ]);
    for (const s of [feed, nudger, sender]) s.close();
  });
});
