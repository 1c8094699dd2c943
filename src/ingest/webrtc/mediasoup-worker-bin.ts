import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** Where the worker binary came from (said in the start-up log). */
export type WorkerOrigin = 'MEDIASOUP_WORKER_BIN' | 'prebuilt' | 'cache';

export interface WorkerLookup {
  /** The worker binary, or null. */
  readonly path: string | null;
  readonly origin: WorkerOrigin | null;
  /** The installed mediasoup's version ('' when not installed). */
  readonly version: string;
  /** Why there is none (when path is null). */
  readonly why: string;
}

/** What the lookup reads from the machine (injected in unit tests). */
export interface WorkerLookupFs {
  readonly env: NodeJS.ProcessEnv;
  /** Resolves mediasoup's main entry (require.resolve('mediasoup')), or throws when it is not installed. */
  readonly resolveMain: () => string;
  readonly readFile: (file: string) => string;
  readonly isFile: (file: string) => boolean;
  readonly listDir: (dir: string) => readonly string[];
  readonly mtimeMs: (file: string) => number;
  /** The worker caches tools/build-mediasoup-worker.sh builds into, in order. */
  readonly cacheDirs: readonly string[];
}

/** The default cache folders, as tools/build-mediasoup-worker.sh picks them. */
export function defaultCacheDirs(env: NodeJS.ProcessEnv, configured = ''): string[] {
  if (configured !== '') return [configured];
  if (env.MEDIASOUP_WORKER_CACHE) return [env.MEDIASOUP_WORKER_CACHE];
  const home = env.XDG_CACHE_HOME ?? path.join(env.HOME ?? os.homedir(), '.cache');
  return ['/var/cache/wcs-recorder/mediasoup-worker', path.join(home, 'wcs-recorder', 'mediasoup-worker')];
}

/**
 * mediasoup's package folder and version, from its resolved main entry
 * (mediasoup's `exports` does not list ./package.json, so
 * require.resolve('mediasoup/package.json') throws ERR_PACKAGE_PATH_NOT_EXPORTED
 * on a real install): walk up to the package.json named "mediasoup".
 */
export function findMediasoupPackage(
  mainFile: string,
  readFile: (file: string) => string,
): { readonly dir: string; readonly version: string } | null {
  let dir = path.dirname(mainFile);
  for (;;) {
    try {
      const pkg = JSON.parse(readFile(path.join(dir, 'package.json'))) as { name?: unknown; version?: unknown };
      if (pkg.name === 'mediasoup' && typeof pkg.version === 'string') return { dir, version: pkg.version };
    } catch {
      // no package.json here (or not JSON): go up
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * Finds mediasoup's worker binary, first found wins: MEDIASOUP_WORKER_BIN (as
 * mediasoup itself reads it); the prebuilt worker mediasoup's install step
 * downloads (worker/out/Release/mediasoup-worker, machines with internet);
 * the newest worker of the installed version in the build cache
 * (<cache>/<version>-<hash>/mediasoup-worker, tools/build-mediasoup-worker.sh).
 */
export function findMediasoupWorker(io: WorkerLookupFs): WorkerLookup {
  let main: string;
  try {
    main = io.resolveMain();
  } catch {
    return { path: null, origin: null, version: '', why: 'the mediasoup package is not installed (optional dependency; tools/setup.sh installs it)' };
  }
  const pkg = findMediasoupPackage(main, io.readFile);
  if (!pkg) return { path: null, origin: null, version: '', why: `no package.json of mediasoup above ${main}` };
  const { version } = pkg;
  const fromEnv = io.env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    return io.isFile(fromEnv)
      ? { path: fromEnv, origin: 'MEDIASOUP_WORKER_BIN', version, why: '' }
      : { path: null, origin: null, version, why: `MEDIASOUP_WORKER_BIN=${fromEnv} does not exist` };
  }
  const prebuilt = path.join(pkg.dir, 'worker', 'out', 'Release', 'mediasoup-worker');
  if (io.isFile(prebuilt)) return { path: prebuilt, origin: 'prebuilt', version, why: '' };
  const cached: { file: string; mtime: number }[] = [];
  for (const dir of io.cacheDirs) {
    let names: readonly string[];
    try {
      names = io.listDir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.startsWith(`${version}-`)) continue;
      const file = path.join(dir, name, 'mediasoup-worker');
      if (io.isFile(file)) cached.push({ file, mtime: io.mtimeMs(file) });
    }
  }
  cached.sort((a, b) => b.mtime - a.mtime);
  const newest = cached[0];
  if (newest) return { path: newest.file, origin: 'cache', version, why: '' };
  return {
    path: null,
    origin: null,
    version,
    why:
      `no worker for mediasoup ${version}: no MEDIASOUP_WORKER_BIN, no prebuilt ${prebuilt} (downloaded at install, needs internet), ` +
      `none built in ${io.cacheDirs.join(' or ')} (tools/build-mediasoup-worker.sh builds one)`,
  };
}

/** The lookup on this machine. */
export function lookupMediasoupWorker(cacheDir = ''): WorkerLookup {
  const require = createRequire(import.meta.url);
  return findMediasoupWorker({
    env: process.env,
    resolveMain: () => require.resolve('mediasoup'),
    readFile: (file) => fs.readFileSync(file, 'utf8'),
    isFile: (file) => {
      try {
        return fs.statSync(file).isFile();
      } catch {
        return false;
      }
    },
    listDir: (dir) => fs.readdirSync(dir),
    mtimeMs: (file) => fs.statSync(file).mtimeMs,
    cacheDirs: defaultCacheDirs(process.env, cacheDir),
  });
}
