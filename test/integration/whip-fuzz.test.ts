import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { fuzzOffer } from '../../src/tools/sdp-fuzz.js';

/**
 * The seeded SDP fuzzer, short run (issue 14): a few hundred mutated
 * Chromium-like offers against a real daemon. Every answer is 201 or 4xx,
 * never 5xx; the daemon stays up; no feed ffmpeg runs for offers that never
 * connect. Long run: bench/fuzz-whip.mjs.
 */

let daemon: DaemonHandle;
const portBase = 36001 + (process.pid % 10) * 100;

beforeAll(async () => {
  daemon = await startDaemon({ webrtc_publisher_idle_timeout: 3, media_port_from: portBase, media_port_to: portBase + 39 });
});

afterAll(async () => {
  const children = daemon?.children() ?? [];
  const exit = await daemon?.stop('SIGTERM');
  if (process.env.WEBRTC_TEST_LOG) fs.writeFileSync(process.env.WEBRTC_TEST_LOG, daemon?.output ?? '');
  expect(exit?.code).toBe(0);
  for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
});

function feedChildren(): number {
  return daemon.children().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes('-f sdp');
    } catch {
      return false;
    }
  }).length;
}

interface Outcome {
  readonly seed: number;
  readonly index: number;
  readonly status: number;
  readonly mutations: readonly string[];
  readonly message: string;
}

async function tryOffer(seed: number, index: number): Promise<Outcome> {
  const o = fuzzOffer(seed, index);
  const res = await fetch(daemon.url(`/whip/${encodeURIComponent(o.streamName)}`), {
    method: 'POST',
    headers: { 'content-type': 'application/sdp' },
    body: o.body,
  });
  const text = await res.text();
  if (res.status === 201) {
    // a session that never connects, ended at once
    const del = await fetch(daemon.url(res.headers.get('location')!), { method: 'DELETE' });
    expect(del.status).toBe(200);
  }
  return { seed, index, status: res.status, mutations: o.mutations, message: text.slice(0, 200) };
}

describe('WHIP SDP fuzzer (short run)', () => {
  for (const seed of [1, 7, 1234]) {
    it(`seed ${seed}: 120 offers, every answer 201 or 4xx, the daemon stays up, no feed ffmpeg`, async () => {
      const outcomes: Outcome[] = [];
      let feeds = 0;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 120) {
          const index = next++;
          outcomes.push(await tryOffer(seed, index));
          if (index % 20 === 0) feeds = Math.max(feeds, feedChildren());
        }
      };
      await Promise.all([worker(), worker(), worker()]);
      const bad = outcomes.filter((o) => o.status !== 201 && (o.status < 400 || o.status >= 500));
      expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
      // the mutations reach every kind of answer: sessions, bad SDP, unusable offers
      const statuses = new Set(outcomes.map((o) => o.status));
      expect(statuses.has(201) && statuses.has(400) && statuses.has(422)).toBe(true);
      expect(feeds).toBe(0);
      // none was started at all, not even briefly
      expect(daemon.output).not.toMatch(/"msg":"WebRTC ICE connected; feed started"/);
      expect(daemon.proc.exitCode).toBeNull();
      const health = await fetch(daemon.url('/whip/after-fuzz'), { method: 'OPTIONS' });
      expect(health.status).toBe(204);
    });
  }
});
