import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { makeClip, publish, type Publisher } from '../helpers/media.js';
import { postJson, type ErrorJson } from '../helpers/rest.js';

interface StatsJson {
  version: string;
  uptimeSeconds: number;
  streams: number;
  recordings: number;
  eventLoopDelay: { meanMs: number; p50Ms: number; p99Ms: number; maxMs: number; sinceMs: number };
  memory: { rssBytes: number; heapUsedBytes: number };
  rtmpSlabs: { allocated: number; reused: number; free: number; inUse: number; dropped: number; overReleased: number };
}

describe('/rest-api/server/stats with a real publisher', () => {
  let daemon: DaemonHandle;
  let publisher: Publisher | null = null;

  beforeAll(async () => {
    daemon = await startDaemon();
  });

  afterAll(async () => {
    publisher?.proc.kill('SIGKILL');
    expect((await daemon.stop()).code).toBe(0);
  });

  it('counts streams and recordings, and reports (and resets) the event-loop delay', async () => {
    const idle = await postJson<StatsJson>(daemon, '/rest-api/server/stats');
    expect(idle.status).toBe(200);
    expect(idle.body).toMatchObject({ streams: 0, recordings: 0, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(idle.body.memory.rssBytes).toBeGreaterThan(idle.body.memory.heapUsedBytes);
    // delay beyond the 50 ms sampling period: an idle loop is close to 0
    expect(idle.body.eventLoopDelay.p99Ms).toBeGreaterThanOrEqual(0);
    expect(idle.body.eventLoopDelay.sinceMs).toBeGreaterThan(0);
    expect(idle.body.eventLoopDelay.maxMs).toBeGreaterThanOrEqual(idle.body.eventLoopDelay.p99Ms);

    const clip = makeClip({ video: true, audio: true, seconds: 6, gop: 2 });
    publisher = publish(clip, daemon.rtmpUrl('stats1'), ['-stream_loop', '-1']);
    await waitFor(async () => (await postJson<StatsJson>(daemon, '/rest-api/server/stats')).body.recordings === 1, 15_000, 'a recording');
    const busy = await postJson<StatsJson>(daemon, '/rest-api/server/stats', { reset: true });
    expect(busy.body).toMatchObject({ streams: 1, recordings: 1 });
    const after = await postJson<StatsJson>(daemon, '/rest-api/server/stats');
    // the reset restarted the window: it now covers only the time since the previous call
    expect(after.body.eventLoopDelay.sinceMs).toBeLessThan(busy.body.eventLoopDelay.sinceMs);

    publisher.proc.kill('SIGINT');
    await waitFor(async () => (await postJson<StatsJson>(daemon, '/rest-api/server/stats')).body.streams === 0, 15_000, 'the stream to end');
    // the publish was read into pool slabs; none was let go twice
    const slabs = (await postJson<StatsJson>(daemon, '/rest-api/server/stats')).body.rtmpSlabs;
    expect(idle.body.rtmpSlabs).toEqual({ allocated: 0, reused: 0, free: 0, inUse: 0, dropped: 0, overReleased: 0 });
    expect(slabs.allocated).toBeGreaterThan(0);
    expect(slabs.overReleased).toBe(0);
    expect(slabs.free).toBeLessThanOrEqual(slabs.allocated);
    // once nothing is connected and every slab is back, the daemon keeps none: the memory of the publish goes
    // (before, the free slabs went one 10 s trim at a time, the last after 20 s)
    await waitFor(
      async () => {
        const s = (await postJson<StatsJson>(daemon, '/rest-api/server/stats')).body.rtmpSlabs;
        return s.inUse === 0 && s.free === 0;
      },
      8_000,
      'the idle pool to let go of its slabs',
    );
    const idleAgain = (await postJson<StatsJson>(daemon, '/rest-api/server/stats')).body.rtmpSlabs;
    expect(idleAgain).toMatchObject({ free: 0, inUse: 0, overReleased: 0 });
    expect(idleAgain.allocated).toBe(slabs.allocated);
  });

  it('refuses a malformed body with 400 and a message', async () => {
    for (const body of [{ reset: 'yes please' }, { colour: 'red' }]) {
      const bad = await postJson<ErrorJson>(daemon, '/rest-api/server/stats', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.message.length).toBeGreaterThan(0);
    }
  });
});
