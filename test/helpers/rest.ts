import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { waitFor, type DaemonHandle } from './daemon.js';

export interface StreamJson {
  mediaSessionId: string;
  name: string;
  status: string;
  mediaProvider: string;
  record: boolean;
  audioCodec: string;
  videoCodec: string;
  width: number;
  height: number;
  published: boolean;
}

export interface RecordJson {
  fileName: string;
  mediaSessionId: string | null;
  streamName: string | null;
  size: number;
  startTimeMillis: number;
  endTimeMillis: number;
  duration: number | null;
  downloadUrl: string;
}

export interface ErrorJson {
  error: number;
  message: string;
}

/** POST with a JSON body and extra headers; the answer parsed as JSON. */
export async function postJson<T = unknown>(
  daemon: DaemonHandle,
  p: string,
  body: unknown = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(daemon.url(p), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

/** Waits until a stream of that name is listed with its codecs known. */
export async function streamNamed(daemon: DaemonHandle, name: string, timeoutMs = 10_000): Promise<StreamJson> {
  let found: StreamJson | undefined;
  await waitFor(
    async () => {
      const res = await daemon.post<StreamJson[]>('/rest-api/stream/find_all');
      found = Array.isArray(res.body) ? res.body.find((s) => s.name === name && s.videoCodec + s.audioCodec !== '') : undefined;
      return found !== undefined;
    },
    timeoutMs,
    `stream ${name} in find_all`,
  );
  return found!;
}

/** Lines of the shipped hook's log (`stream:file`). */
export function hookLines(daemon: DaemonHandle): string[] {
  const log = path.join(daemon.home, 'logs', 'record.log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

/** Files the shipped hook was run with for this stream, oldest first. */
export function hookRecordsOf(daemon: DaemonHandle, stream: string): string[] {
  return hookLines(daemon)
    .filter((l) => l.startsWith(`${stream}:`))
    .map((l) => l.slice(stream.length + 1));
}

/** Waits for the hook line of a record of this stream (file not in `except`); returns the file. */
export async function recordOf(daemon: DaemonHandle, stream: string, except: readonly string[] = [], timeoutMs = 20_000): Promise<string> {
  let file = '';
  await waitFor(
    () => {
      file = hookRecordsOf(daemon, stream).find((f) => !except.includes(f)) ?? '';
      return file !== '';
    },
    timeoutMs,
    `record of ${stream}`,
  );
  return file;
}

/** The records of a recording (/recorder/find_records by mediaSessionId), once there is at least one. */
export async function recordsOfSession(daemon: DaemonHandle, mediaSessionId: string, timeoutMs = 20_000): Promise<RecordJson[]> {
  let found: RecordJson[] = [];
  await waitFor(
    async () => {
      const res = await postJson<RecordJson[]>(daemon, '/rest-api/recorder/find_records', { mediaSessionId });
      found = res.status === 200 ? res.body : [];
      return found.length > 0;
    },
    timeoutMs,
    `a record of ${mediaSessionId}`,
  );
  return found;
}

/** A GET/HEAD whose path is sent exactly as written (fetch would normalise ".."). */
export function rawRequest(
  port: number,
  rawPath: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Lines of the daemon's output whose JSON `msg` is `msg` (and that contain `also`, if given). */
export function logLines(daemon: DaemonHandle, msg: string, also = ''): string[] {
  return daemon.output.split('\n').filter((l) => l.includes(`"msg":"${msg}"`) && l.includes(also));
}

/**
 * The daemon's log lines of `msg` (containing `also`), once there are at
 * least `count`: a line the daemon logs as it answers can reach the test
 * (through the daemon's stdout pipe) after the answer did (through its
 * socket), most often on a busy machine. More than `count` is returned as
 * it is, for the caller's assertion to name.
 */
export async function waitForLogLines(daemon: DaemonHandle, msg: string, also: string, count: number, timeoutMs = 10_000): Promise<string[]> {
  await waitFor(() => logLines(daemon, msg, also).length >= count, timeoutMs, `${count} log line(s) '${msg}' with ${also}`);
  return logLines(daemon, msg, also);
}

/** PTS (seconds) and keyframe flag of the first video packets, in file order. */
export function firstVideoPackets(file: string, count = 3): { pts: number; key: boolean }[] {
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-read_intervals', `%+#${count}`, '-of', 'csv=p=0', file],
    { encoding: 'utf8' },
  );
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pts, flags] = l.split(',');
      return { pts: Number(pts), key: (flags ?? '').includes('K') };
    });
}

/** MD5 of the decoded video frame shown at `seconds` (edit lists honoured). */
export function frameMd5(file: string, seconds: number): string {
  return execFileSync('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-map', '0:v:0', '-frames:v', '1', '-f', 'md5', '-'], {
    encoding: 'utf8',
  }).trim();
}

/** Whether the moov atom comes before mdat (+faststart). */
export function moovFirst(file: string): boolean {
  const head = fs.readFileSync(file).subarray(0, 256 * 1024);
  const moov = head.indexOf('moov');
  const mdat = head.indexOf('mdat');
  return moov > 0 && (mdat < 0 || moov < mdat);
}
