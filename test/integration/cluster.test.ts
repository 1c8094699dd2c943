import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { decodeErrors, ffprobe, makeClip, publish } from '../helpers/media.js';
import { PgTestServer, postgresMissing } from '../helpers/postgres.js';

/**
 * Two daemons (nodes) on one PostgreSQL catalog (a real throw-away server):
 * publish to A with real ffmpeg over RTMP; find, timeline, download (whole,
 * byte range, cut) and time-range playback from B; the cluster view; A
 * stopped, back, and killed.
 */

const TOKEN = 'cluster-secret';
const missing = postgresMissing();
if (missing !== null) console.warn(`cluster integration test skipped: ${missing}`);

interface NodeJson {
  nodeId: string;
  publicUrl: string;
  alive: boolean;
  self: boolean;
  stoppedAt: number | null;
  streams: number;
}

interface RecordJson {
  fileName: string;
  nodeId: string;
  streamName: string;
  startTimeMillis: number;
  endTimeMillis: number;
  state: string;
  downloadUrl: string | null;
}

async function nodesOf(d: DaemonHandle): Promise<NodeJson[]> {
  const res = await fetch(d.url('/rest-api/cluster/nodes'));
  expect(res.status).toBe(200);
  return ((await res.json()) as { nodes: NodeJson[] }).nodes;
}

async function post<T>(d: DaemonHandle, p: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(d.url(p), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

async function get(d: DaemonHandle, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(d.url(p), { headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

function withToken(p: string): string {
  return `${p}${p.includes('?') ? '&' : '?'}token=${TOKEN}`;
}

describe.skipIf(missing !== null)('several recorders on one PostgreSQL catalog', () => {
  let pg: PgTestServer;
  let url: string;
  let a: DaemonHandle;
  let b: DaemonHandle;
  let aProps: Record<string, string | number | boolean>;
  let record: RecordJson;

  beforeAll(async () => {
    pg = await PgTestServer.start();
    url = await pg.createDatabase('cluster_it');
    const common = {
      catalog_url: url,
      cluster_heartbeat_interval: 1,
      cluster_node_timeout: 5,
      records_access_token: TOKEN,
      stream_record_policy_template: '{streamName}-{startTimeMillis}',
    };
    aProps = { ...common, node_id: 'node-a' };
    // both start together: one applies the schema, the other waits for it (advisory lock)
    [a, b] = await Promise.all([startDaemon(aProps), startDaemon({ ...common, node_id: 'node-b' })]);
    // A keeps its home (and ports) when restarted below
    aProps = { ...aProps, 'http.port': a.httpPort, 'rtmp.port': a.rtmpPort };
  }, 120_000);

  afterAll(async () => {
    for (const d of [a, b]) {
      if (!d) continue;
      const children = d.children();
      await d.stop();
      for (const pid of children) expect(isAlive(pid), `child ${pid} left behind`).toBe(false);
    }
    await pg?.stop();
  }, 60_000);

  it('both nodes are listed alive, each with its public URL; each says which one it is', async () => {
    await waitFor(async () => (await nodesOf(b)).filter((n) => n.alive).length === 2, 15_000, 'two alive nodes');
    const nodes = await nodesOf(b);
    expect(nodes.map((n) => [n.nodeId, n.alive, n.self, n.publicUrl])).toEqual([
      ['node-a', true, false, `http://127.0.0.1:${a.httpPort}`],
      ['node-b', true, true, `http://127.0.0.1:${b.httpPort}`],
    ]);
  });

  it('publish to A: B lists the live stream with its node (cluster find_all), then finds the record A made', async () => {
    // long enough to be seen live through a heartbeat of 1 s on a busy machine
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const p = publish(clip, a.rtmpUrl('camA'));
    try {
      await waitFor(
        async () => {
          const all = await post<{ name: string; nodeId: string }[]>(b, '/rest-api/stream/find_all', { cluster: true });
          return all.body.some((s) => s.name === 'camA' && s.nodeId === 'node-a');
        },
        20_000,
        "camA in B's cluster find_all",
      );
      // without cluster: true, B answers with its own streams (none), as before
      expect((await post<unknown[]>(b, '/rest-api/stream/find_all', {})).body).toEqual([]);
    } finally {
      expect(await p.exited, p.stderr()).toBe(0);
    }
    await waitFor(
      async () => {
        const found = await post<{ records: RecordJson[] }>(b, '/rest-api/records/find', { streamName: 'camA', state: 'finished' });
        if (found.body.records.length !== 1) return false;
        record = found.body.records[0]!;
        return true;
      },
      30_000,
      "A's record of camA in B's records/find",
    );
    expect(record.nodeId).toBe('node-a');
    expect(record.downloadUrl).toContain(`/client/records/${encodeURIComponent(record.fileName)}`);
    expect(fs.existsSync(path.join(a.recordDir, record.fileName))).toBe(true);
    expect(fs.existsSync(path.join(b.recordDir, record.fileName))).toBe(false);
    // the WCS call lists the records of the node asked, as a WCS server does (none here: 404, as WCS)
    expect((await post<unknown>(b, '/rest-api/recorder/find_records', { streamName: 'camA' })).status).toBe(404);
    expect((await post<{ fileName: string }[]>(a, '/rest-api/recorder/find_records', { streamName: 'camA' })).body.map((r) => r.fileName)).toEqual([record.fileName]);
    const timeline = await post<{ spans: { fileName: string }[] }>(b, '/rest-api/records/timeline', { streamName: 'camA' });
    expect(timeline.status).toBe(200);
    expect(JSON.stringify(timeline.body)).toContain(record.fileName);
  }, 90_000);

  it("B serves A's record: whole, a byte range and a cut, proxied from A", async () => {
    const original = fs.readFileSync(path.join(a.recordDir, record.fileName));
    const whole = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}`));
    expect(whole.status, whole.body.toString().slice(0, 300)).toBe(200);
    expect(whole.headers.get('x-wcs-node')).toBe('node-a');
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(whole.body.equals(original)).toBe(true);
    const part = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}`), { range: 'bytes=100-1099' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${original.length}`);
    expect(part.body.equals(original.subarray(100, 1100))).toBe(true);
    // without the token, A refuses and B passes that on
    expect((await get(b, `/client/records/${encodeURIComponent(record.fileName)}`)).status).toBe(401);
    const cut = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}?start=1&end=3`));
    expect(cut.status, cut.body.toString().slice(0, 300)).toBe(200);
    const cutFile = path.join(b.home, 'cut.mp4');
    fs.writeFileSync(cutFile, cut.body);
    const v = ffprobe(cutFile).streams.find((s) => s.codec_type === 'video');
    expect(Number(v?.duration)).toBeGreaterThan(1);
    expect(Number(v?.duration)).toBeLessThan(3.5);
    expect(decodeErrors(cutFile)).toBe('');
  });

  it('B plays a time range of the stream A recorded', async () => {
    const from = record.startTimeMillis + 1000;
    const to = record.startTimeMillis + 3000;
    const res = await get(b, withToken(`/client/streams/camA.mp4?from=${from}&to=${to}`));
    expect(res.status, res.body.toString().slice(0, 300)).toBe(200);
    expect(res.headers.get('x-wcs-node')).toBe('node-a');
    expect(res.headers.get('x-recording-range')).toBe(`${from}-${to}`);
    const file = path.join(b.home, 'range.mp4');
    fs.writeFileSync(file, res.body);
    const v = ffprobe(file).streams.find((s) => s.codec_type === 'video');
    // two seconds asked; the answer starts on the keyframe at or before `from` (1 s GOP)
    expect(Number(v?.duration)).toBeGreaterThan(1.5);
    expect(Number(v?.duration)).toBeLessThan(3.5);
    expect(decodeErrors(file)).toBe('');
  });

  it('a stream that moved from A to B: either node plays a range over both parts (the other node\'s part copied once)', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });
    const recordOf = async (d: DaemonHandle, node: string): Promise<RecordJson> => {
      let found: RecordJson | undefined;
      await waitFor(
        async () => {
          const r = await post<{ records: RecordJson[] }>(d, '/rest-api/records/find', { streamName: 'camM', state: 'finished' });
          found = r.body.records.find((x) => x.nodeId === node);
          return found !== undefined;
        },
        30_000,
        `camM's record on ${node}`,
      );
      return found!;
    };
    for (const [d, node] of [
      [a, 'node-a'],
      [b, 'node-b'],
    ] as const) {
      const p = publish(clip, d.rtmpUrl('camM'));
      expect(await p.exited, p.stderr()).toBe(0);
      await recordOf(d, node);
    }
    const onA = await recordOf(b, 'node-a');
    const onB = await recordOf(b, 'node-b');
    const from = onA.startTimeMillis;
    const to = onB.endTimeMillis;
    for (const [d, name] of [
      [b, 'from-b'],
      [a, 'from-a'],
    ] as const) {
      const res = await get(d, withToken(`/client/streams/camM.mp4?from=${from}&to=${to}`));
      expect(res.status, res.body.toString().slice(0, 300)).toBe(200);
      expect(res.headers.get('x-recording-range')).toBe(`${from}-${to}`);
      const file = path.join(d.home, `${name}.mp4`);
      fs.writeFileSync(file, res.body);
      const v = Number(ffprobe(file).streams.find((s) => s.codec_type === 'video')?.duration);
      const partA = (onA.endTimeMillis - onA.startTimeMillis) / 1000;
      const partB = (onB.endTimeMillis - onB.startTimeMillis) / 1000;
      // both parts are in the answer: longer than either, about their sum
      expect(v).toBeGreaterThan(Math.max(partA, partB) + 1);
      expect(Math.abs(v - (partA + partB))).toBeLessThan(1.5);
      expect(decodeErrors(file)).toBe('');
    }
    expect(b.output).toMatch(/Copied a part from another node for playback/);
    expect(a.output).toMatch(/Copied a part from another node for playback/);
  }, 120_000);

  it("B refuses to delete A's file (only A deletes its disk), saying where it is", async () => {
    const res = await post<{ message: string }>(b, '/rest-api/records/delete', { fileName: record.fileName });
    expect(res.status).toBe(409);
    expect(res.body.message).toContain("node 'node-a'");
    expect(fs.existsSync(path.join(a.recordDir, record.fileName))).toBe(true);
  });

  it('A stopped: B lists it not alive at once, still finds its records, and says why it cannot serve them (503)', async () => {
    expect((await a.stop()).code).toBe(0);
    const nodes = await nodesOf(b);
    expect(nodes.find((n) => n.nodeId === 'node-a')).toMatchObject({ alive: false, streams: 0 });
    expect(nodes.find((n) => n.nodeId === 'node-a')?.stoppedAt).not.toBeNull();
    const found = await post<{ records: RecordJson[] }>(b, '/rest-api/records/find', { streamName: 'camA' });
    expect(found.body.records.map((r) => [r.fileName, r.nodeId, r.state])).toEqual([[record.fileName, 'node-a', 'finished']]);
    const dl = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}`));
    expect(dl.status).toBe(503);
    expect(JSON.parse(dl.body.toString()).message).toMatch(/held only by node 'node-a', which was stopped/);
    const play = await get(b, withToken(`/client/streams/camA.mp4?from=${record.startTimeMillis}&to=${record.endTimeMillis}`));
    expect(play.status).toBe(503);
    expect(JSON.parse(play.body.toString()).message).toContain("node 'node-a'");
    expect(b.output).toMatch(/Record of another node cannot be served/);
  });

  it('A back: alive again and served again', async () => {
    a = await startDaemon(aProps, a.home);
    await waitFor(async () => (await nodesOf(b)).find((n) => n.nodeId === 'node-a')?.alive === true, 15_000, 'node-a alive again');
    const again = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}`));
    expect(again.status).toBe(200);
    expect(again.body.length).toBe(fs.statSync(path.join(a.recordDir, record.fileName)).size);
    // A's rows are A's after its restart: the same record, not a second one
    expect((await post<{ total: number }>(b, '/rest-api/records/find', { streamName: 'camA' })).body.total).toBe(1);
  }, 60_000);

  it('A killed mid-recording: B sees its row still recording on node-a; A back: recovery finishes it and B serves it', async () => {
    const clip = makeClip({ video: true, audio: true, seconds: 30, gop: 1 });
    const p = publish(clip, a.rtmpUrl('camK'));
    try {
      await waitFor(
        async () => {
          const found = await post<{ records: RecordJson[] }>(b, '/rest-api/records/find', { streamName: 'camK', state: 'recording' });
          return found.body.records.length === 1 && p.sentSeconds() > 4;
        },
        30_000,
        "camK recording on A, seen from B",
      );
      // a node starting meanwhile settles only its own interrupted rows, never A's recording in progress
      const c = await startDaemon({ catalog_url: url, node_id: 'node-c', records_access_token: TOKEN, cluster_heartbeat_interval: 1 });
      try {
        const seen = await post<{ records: RecordJson[] }>(c, '/rest-api/records/find', { streamName: 'camK', state: ['recording', 'broken', 'gone'] });
        expect(seen.body.records.map((r) => [r.nodeId, r.state])).toEqual([['node-a', 'recording']]);
        expect(c.output).not.toMatch(/Interrupted recordings recovery could not finish/);
        expect((await nodesOf(c)).filter((n) => n.alive).map((n) => n.nodeId)).toEqual(['node-a', 'node-b', 'node-c']);
      } finally {
        expect((await c.stop()).code).toBe(0);
      }
      await a.stop('SIGKILL');
    } finally {
      p.proc.kill('SIGKILL');
      await p.exited;
    }
    const during = await post<{ records: RecordJson[] }>(b, '/rest-api/records/find', { streamName: 'camK', state: ['recording', 'finished', 'recovered'] });
    expect(during.body.records.map((r) => [r.nodeId, r.state])).toEqual([['node-a', 'recording']]);
    a = await startDaemon(aProps, a.home);
    let recovered: RecordJson | undefined;
    await waitFor(
      async () => {
        const found = await post<{ records: RecordJson[] }>(b, '/rest-api/records/find', { streamName: 'camK', state: ['recording', 'finished', 'recovered'] });
        recovered = found.body.records.find((r) => r.state === 'recovered' || r.state === 'finished');
        return found.body.records.length === 1 && recovered !== undefined;
      },
      30_000,
      "camK's record finished by A's recovery, seen from B",
    );
    expect(recovered?.nodeId).toBe('node-a');
    await waitFor(async () => (await nodesOf(b)).find((n) => n.nodeId === 'node-a')?.alive === true, 15_000, 'node-a alive again');
    const dl = await get(b, withToken(`/client/records/${encodeURIComponent(recovered!.fileName)}`));
    expect(dl.status).toBe(200);
    const file = path.join(b.home, 'recovered.mp4');
    fs.writeFileSync(file, dl.body);
    expect(Number(ffprobe(file).format.duration)).toBeGreaterThan(2);
  }, 120_000);

  it('A killed: 502 while it is still listed alive, then not alive (no stoppedAt) and 503', async () => {
    await a.stop('SIGKILL');
    // until its heartbeat is old, A is listed alive: B tries it and answers 502 (refused), or already 503
    const soon = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}`));
    expect([502, 503]).toContain(soon.status);
    expect(JSON.parse(soon.body.toString()).message).toContain("node 'node-a'");
    await waitFor(async () => (await nodesOf(b)).find((n) => n.nodeId === 'node-a')?.alive === false, 20_000, 'node-a not alive after SIGKILL');
    const node = (await nodesOf(b)).find((n) => n.nodeId === 'node-a');
    // died without saying so: no stoppedAt
    expect(node?.stoppedAt).toBeNull();
    const late = await get(b, withToken(`/client/records/${encodeURIComponent(record.fileName)}`));
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body.toString()).message).toMatch(/not alive \(last heartbeat \d+ s ago\)/);
    // B itself never stopped serving
    expect((await nodesOf(b)).find((n) => n.self)?.alive).toBe(true);
  }, 90_000);

  it('the database down: B keeps running and answers 503 saying so; back: B serves and beats again', async () => {
    pg.halt();
    const found = await post<{ message: string }>(b, '/rest-api/records/find', { streamName: 'camA' });
    expect(found.status).toBe(503);
    expect(found.body.message).toMatch(/catalog_url.*cannot be reached/);
    // never where the database is
    expect(found.body.message).not.toContain('127.0.0.1');
    expect((await fetch(b.url('/rest-api/cluster/nodes'))).status).toBe(503);
    // B's own files are still served from its disk
    const own = fs.readdirSync(b.recordDir).find((f) => f.startsWith('camM') && f.endsWith('.mp4'));
    expect(own).toBeDefined();
    const dl = await get(b, withToken(`/client/records/${encodeURIComponent(own!)}`));
    expect(dl.status).toBe(200);
    expect(dl.body.length).toBe(fs.statSync(path.join(b.recordDir, own!)).size);
    // its own REST calls that need no catalog still answer
    expect((await post<unknown[]>(b, '/rest-api/stream/find_all', {})).status).toBe(200);
    await b.waitForOutput(/Cluster heartbeat failed/, 15_000);
    pg.start();
    await waitFor(async () => (await post<unknown>(b, '/rest-api/records/find', { streamName: 'camA' })).status === 200, 30_000, 'records/find again');
    await b.waitForOutput(/Cluster heartbeat written again/, 15_000);
    expect(b.proc.exitCode).toBeNull();
  }, 90_000);
});
