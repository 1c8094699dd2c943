/**
 * Runs RTMP fuzz cases against a real daemon while a healthy ffmpeg publish
 * is recorded beside them; used by test/integration/rtmp-fuzz.test.ts (a few
 * hundred cases) and bench/fuzz-rtmp.mjs (thousands).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { durationOf, ffprobe, makeClip, publish } from '../helpers/media.js';
import { buildFuzzCase, type FuzzCase, type FuzzCorpus } from './rtmp-fuzz.js';
import { readFlvFile } from './rtmp-wire.js';

export interface CampaignOptions {
  readonly sessions: number;
  readonly seed: number;
  /** Cases in flight at once. */
  readonly concurrency: number;
  /** How long a case waits for the server to close it before it hangs up itself. */
  readonly waitMs: number;
  /** Length of the healthy publish (its record is checked). */
  readonly healthySeconds: number;
  /** Extra properties for the daemon (rtmp_publish_timeout is 2 unless given). */
  readonly props?: Readonly<Record<string, string | number | boolean>>;
  readonly progress?: (done: number, total: number) => void;
}

export interface CampaignResult {
  readonly cases: number;
  /** The daemon died during the run (0 or 1: the run stops there). */
  readonly crashes: number;
  readonly crashCase: FuzzCase | null;
  readonly closedByServer: number;
  readonly closedByClient: number;
  /** Refusal reasons from the daemon's log, numbers and peers removed, with their counts. */
  readonly reasons: ReadonlyMap<string, number>;
  /** Throws node-media-server (or a consumer it called) raised, caught by the guard. */
  readonly unexpected: ReadonlyMap<string, number>;
  readonly healthyClipSeconds: number;
  readonly healthyRecordSeconds: number | null;
  readonly daemonExitCode: number | null;
  /** Child processes of the daemon seen during the run that outlived it. */
  readonly orphans: readonly number[];
  readonly seconds: number;
  readonly logTail: string;
}

function corpusFrom(clip: string): FuzzCorpus {
  const flv = path.join(os.tmpdir(), `wcs-fuzz-corpus-${process.pid}.flv`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-t', '2', '-c', 'copy', '-f', 'flv', flv]);
  const tags = readFlvFile(fs.readFileSync(flv));
  fs.rmSync(flv, { force: true });
  return { tags };
}

/** Sends one case; resolves whether the server closed the connection first. */
function runCase(port: number, c: FuzzCase, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let byServer = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(byServer);
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('error', () => finish());
    socket.on('data', () => undefined);
    socket.on('end', () => {
      byServer = true;
      finish();
    });
    socket.on('close', () => {
      if (!done) byServer = true;
      finish();
    });
    socket.once('connect', async () => {
      for (const w of c.writes) {
        if (done || socket.destroyed) return;
        socket.write(w);
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

function hookRecord(daemon: DaemonHandle, stream: string): string | null {
  const log = path.join(daemon.home, 'logs', 'record.log');
  if (!fs.existsSync(log)) return null;
  const line = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${stream}:`));
  return line ? line.slice(stream.length + 1) : null;
}

/** A refusal reason without the parts that differ per case (peer, numbers, names). */
export function reasonKey(message: string): string {
  return message
    .replace(/^RTMP connection \S+ (\(stream '[^']*'\) )?closed: /, '')
    .replace(/'[^']*'/g, "'…'")
    .replace(/0x[0-9a-f]+/gi, '0xH')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const healthyClip = makeClip({ video: true, audio: true, seconds: options.healthySeconds, gop: 1 });
  const corpus = corpusFrom(makeClip({ video: true, audio: true, seconds: 4, gop: 1 }));
  const daemon = await startDaemon({ rtmp_publish_timeout: 2, ...options.props });
  const children = new Set<number>();
  const sampler = setInterval(() => {
    for (const pid of daemon.children()) children.add(pid);
  }, 500);
  const healthy = publish(healthyClip, daemon.rtmpUrl('healthy'));
  // the cases may name the healthy stream too: it must be live (its publisher first) before they start
  await waitFor(
    async () => {
      const res = await daemon.post<{ name: string; status: string }[]>('/rest-api/stream/find_all');
      return res.body.some((s) => s.name === 'healthy' && s.status === 'PUBLISHING');
    },
    20_000,
    'the healthy publish',
  );
  let closedByServer = 0;
  let closedByClient = 0;
  let next = 0;
  let crashCase: FuzzCase | null = null;
  const alive = (): boolean => daemon.proc.exitCode === null && daemon.proc.signalCode === null;
  const worker = async (): Promise<void> => {
    while (next < options.sessions && crashCase === null) {
      const c = buildFuzzCase(options.seed, next++, corpus, daemon.rtmpPort);
      const byServer = await runCase(daemon.rtmpPort, c, options.waitMs);
      if (byServer) closedByServer++;
      else closedByClient++;
      if (!alive()) {
        crashCase = c;
        return;
      }
      options.progress?.(closedByServer + closedByClient, options.sessions);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  let healthyRecordSeconds: number | null = null;
  if (crashCase === null) {
    await healthy.exited;
    await waitFor(() => hookRecord(daemon, 'healthy') !== null || !alive(), 60_000, 'the healthy record').catch(() => undefined);
    const file = hookRecord(daemon, 'healthy');
    if (file !== null) healthyRecordSeconds = Number(ffprobe(file).format.duration);
  } else {
    healthy.proc.kill('SIGKILL');
  }
  clearInterval(sampler);
  const reasons = new Map<string, number>();
  const unexpected = new Map<string, number>();
  for (const line of daemon.output.split('\n')) {
    if (!line.includes('"component":"rtmp"') || !line.includes('closed: ')) continue;
    let entry: { msg?: string; unexpected?: boolean };
    try {
      entry = JSON.parse(line) as { msg?: string; unexpected?: boolean };
    } catch {
      continue;
    }
    const key = reasonKey(entry.msg ?? '');
    const into = entry.unexpected ? unexpected : reasons;
    into.set(key, (into.get(key) ?? 0) + 1);
  }
  const exit = alive() ? await daemon.stop('SIGTERM', 60_000) : await daemon.exited;
  await new Promise((r) => setTimeout(r, 500));
  const orphans = [...children].filter(isAlive);
  return {
    cases: closedByServer + closedByClient,
    crashes: crashCase === null ? 0 : 1,
    crashCase,
    closedByServer,
    closedByClient,
    reasons,
    unexpected,
    healthyClipSeconds: durationOf(healthyClip),
    healthyRecordSeconds,
    daemonExitCode: exit.code,
    orphans,
    seconds: (Date.now() - started) / 1000,
    logTail: daemon.output.split('\n').slice(-40).join('\n'),
  };
}
