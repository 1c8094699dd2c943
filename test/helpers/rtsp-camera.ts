import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO, waitFor, type DaemonHandle } from './daemon.js';
import { hookLines } from './rest.js';

/** Debian's python, where python3-gi lives (a pyenv python has no gi). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(REPO, 'test', 'fixtures', 'rtsp-camera.py');

export interface CameraOptions {
  port?: number;
  path?: string;
  video?: 'h264' | 'h265';
  audio?: 'aac' | 'pcma' | 'pcmu' | 'g726' | 'none';
  user?: string;
  password?: string;
}

/**
 * Throws a clear message when GStreamer's RTSP server through Python GI is
 * missing (tools/setup.sh --test installs it): the RTSP tests fail loudly
 * rather than skip.
 */
export function requireGstRtspServer(): void {
  try {
    execFileSync(PYTHON, ['-c', 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `The RTSP tests need GStreamer's RTSP server through Python GI (${PYTHON}: python3-gi gir1.2-gst-rtsp-server-1.0 ` +
        `gstreamer1.0-plugins-{base,good,bad,ugly} gstreamer1.0-libav); run tools/setup.sh --test. ` +
        `(${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`,
    );
  }
}

/** A stand-in IP camera (test/fixtures/rtsp-camera.py) on 127.0.0.1. */
export class FakeCamera {
  #out = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    readonly options: CameraOptions,
  ) {
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.exitCode);
      else proc.on('exit', (code) => resolve(code));
    });
  }

  static async start(options: CameraOptions = {}): Promise<FakeCamera> {
    const args = [SCRIPT, '--port', String(options.port ?? 0), '--path', options.path ?? '/cam'];
    if (options.video) args.push('--video', options.video);
    if (options.audio) args.push('--audio', options.audio);
    if (options.user) args.push('--user', options.user, '--password', options.password ?? '');
    const proc = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rtsp-camera did not start: ${out}`)), 10_000);
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`rtsp-camera exited (${code}): ${out}`));
      });
    });
    const cam = new FakeCamera(proc, port, options);
    cam.#out = out;
    return cam;
  }

  get output(): string {
    return this.#out;
  }

  /** rtsp://[user:password@]127.0.0.1:port/path; credentials percent-encoded unless given. */
  url(credentials?: { user: string; password: string }): string {
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
    return `rtsp://${auth}127.0.0.1:${this.port}${this.options.path ?? '/cam'}`;
  }

  /** Stops the camera at once (SIGKILL, as a camera losing power). */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** A TCP port that accepts connections and never says anything (a hung camera). */
export async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface AgentJson {
  id: string;
  uri: string;
  toStream: string;
  status: string;
  transport: string;
  record: boolean | null;
  mediaSessionId: string | null;
  lastError: string | null;
  retries: number;
  sessions: number;
}

/** Waits until the pull of `stream` has that status; returns it. */
export async function agentInStatus(daemon: DaemonHandle, stream: string, status: string, timeoutMs = 15_000): Promise<AgentJson> {
  let found: AgentJson | undefined;
  await waitFor(
    async () => {
      const res = await daemon.post<AgentJson[]>('/rest-api/rtsp/find', { status });
      found = res.status === 200 ? res.body.find((a) => a.toStream === stream) : undefined;
      return found !== undefined;
    },
    timeoutMs,
    `RTSP pull ${stream} in status ${status}`,
  );
  return found!;
}

/** The hook-logged record of a stream (test/helpers/rest.ts). */
export { recordOf } from './rest.js';

