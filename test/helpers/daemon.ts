import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '..', '..');

/** Ports this test process has handed out. */
const handedOut = new Set<number>();

/**
 * Each vitest worker takes its ports from a band of its own, below the
 * kernel's ephemeral range (32768-60999): a port the kernel picks for
 * listen(0) in one worker could be picked again in the other before its
 * daemon binds it (seen: "HTTP port ... is already in use" in a full run).
 */
function portBand(): [number, number] {
  const pool = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0);
  const lo = 10_000 + (Number.isInteger(pool) ? pool % 4 : 0) * 5000;
  return [lo, lo + 4999];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1 from this worker's band, never one this process handed out before. */
export async function freePort(): Promise<number> {
  const [lo, hi] = portBand();
  for (let tries = 0; tries < 1000; tries++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${lo}-${hi}`);
}

export function makeHome(prefix = 'wcs-home-'): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.mkdirSync(path.join(home, 'conf'));
  fs.mkdirSync(path.join(home, 'bin'));
  fs.copyFileSync(path.join(REPO, 'bin', 'on_record_hook.sh'), path.join(home, 'bin', 'on_record_hook.sh'));
  fs.chmodSync(path.join(home, 'bin', 'on_record_hook.sh'), 0o755);
  return home;
}

export function writeProperties(home: string, props: Record<string, string | number | boolean>): void {
  const text = Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  fs.writeFileSync(path.join(home, 'conf', 'server.properties'), text + '\n');
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class DaemonHandle {
  #out = '';
  readonly exited: Promise<DaemonExit>;

  constructor(
    readonly home: string,
    readonly httpPort: number,
    readonly rtmpPort: number,
    readonly proc: ChildProcess,
  ) {
    proc.stdout?.on('data', (d: Buffer) => (this.#out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.#out += d.toString()));
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get output(): string {
    return this.#out;
  }

  get recordDir(): string {
    return path.join(this.home, 'records');
  }

  rtmpUrl(stream: string): string {
    return `rtmp://127.0.0.1:${this.rtmpPort}/live/${stream}`;
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.httpPort}${p}`;
  }

  async post<T = unknown>(p: string, body: unknown = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(this.url(p), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => pattern.test(this.#out), timeoutMs, `daemon output matching ${pattern}`);
  }

  /** PIDs of the daemon's child processes (its ffmpeg muxers, hooks). */
  /** The daemon's ffmpeg children (the long-lived fallocate helper and WebRTC workers are not media pipelines). */
  ffmpegChildren(): number[] {
    return this.children().filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg';
      } catch {
        return false;
      }
    });
  }

  children(): number[] {
    if (this.proc.pid === undefined) return [];
    try {
      return execFileSync('pgrep', ['-P', String(this.proc.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<DaemonExit> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Environment every daemon the tests start gets by default, over the test
 * process's own: `WCS_SLAB_POISON=1` makes the RTMP ingest fill each tag
 * slab with a pattern when it is recycled, so a consumer that let go of a
 * tag too early records wrong bytes (test/integration/media-integrity.test.ts
 * notices). Until the slab pool lands the variable does nothing.
 */
export const DEFAULT_DAEMON_ENV: Readonly<Record<string, string>> = { WCS_SLAB_POISON: '1' };

/**
 * The spawn environment of a daemon: the test process's, then
 * DEFAULT_DAEMON_ENV, then `env` (a key set to undefined removes it, e.g.
 * `{ WCS_SLAB_POISON: undefined }`), then WCS_HOME.
 */
export function daemonEnv(home: string, env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...DEFAULT_DAEMON_ENV, ...env, WCS_HOME: home };
}

export interface StartDaemonOptions {
  /** Merged into the daemon's environment over DEFAULT_DAEMON_ENV (see daemonEnv). */
  env?: Record<string, string | undefined>;
}

/** Starts bin/wcs-recorder with a fresh WCS_HOME and free ports; waits until it is ready. */
export async function startDaemon(
  props: Record<string, string | number | boolean> = {},
  home = makeHome(),
  options: StartDaemonOptions = {},
): Promise<DaemonHandle> {
  const httpPort = Number(props['http.port'] ?? (await freePort()));
  const rtmpPort = Number(props['rtmp.port'] ?? (await freePort()));
  writeProperties(home, { 'http.port': httpPort, 'rtmp.port': rtmpPort, ip_local: '127.0.0.1', ...props });
  const proc = spawn(path.join(REPO, 'bin', 'wcs-recorder'), [], {
    env: daemonEnv(home, options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const daemon = new DaemonHandle(home, httpPort, rtmpPort, proc);
  const ready = daemon.waitForOutput(/wcs-recorder ready/, 20_000);
  const exited = daemon.exited.then((e) => {
    throw new Error(`daemon exited during start-up (${e.code ?? e.signal}): ${daemon.output}`);
  });
  await Promise.race([ready, exited]);
  return daemon;
}
