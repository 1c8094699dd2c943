import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeHome, startDaemon, waitFor } from '../helpers/daemon.js';
import { makeClip, publish } from '../helpers/media.js';

/**
 * Issue 18: an operator moving from WCS brings conf/flashphoner.properties;
 * record_streams=false there had no effect.
 */
describe('conf/flashphoner.properties from WCS', () => {
  it('record_streams=false set only there: a publish is not recorded; the start log says where it came from and lists the WCS keys not used', async () => {
    const home = makeHome();
    fs.mkdirSync(path.join(home, 'conf'), { recursive: true });
    fs.writeFileSync(
      path.join(home, 'conf', 'flashphoner.properties'),
      ['# from a WCS server', 'record_streams=false', 'ice_tcp_transport=true', 'wcs_agent_port_from=44001', ''].join('\n'),
    );
    const daemon = await startDaemon({}, home);
    try {
      const clip = makeClip({ video: true, audio: true, seconds: 4, gop: 1 });
      const publisher = publish(clip, daemon.rtmpUrl('not_recorded'));
      let stream: { name: string; record: boolean; status: string } | undefined;
      await waitFor(
        async () => {
          stream = (await daemon.post<{ name: string; record: boolean; status: string }[]>('/rest-api/stream/find_all')).body.find((s) => s.name === 'not_recorded');
          return stream !== undefined;
        },
        10_000,
        'the stream in find_all',
      );
      expect(stream).toMatchObject({ status: 'PUBLISHING', record: false });
      // while it publishes: no recorder (WCS answers 404 to find_all then)
      expect((await daemon.post<unknown>('/rest-api/recorder/find_all')).status).toBe(404);
      expect(await publisher.exited).toBe(0);
      expect(daemon.output).not.toMatch(/"Recording started"/);
      const files = fs.existsSync(daemon.recordDir) ? fs.readdirSync(daemon.recordDir).filter((f) => /\.(mp4|mkv|webm|ts)$/.test(f)) : [];
      expect(files).toEqual([]);

      const originLine = daemon.output.split('\n').find((l) => l.includes('Recording settings and where each comes from'));
      expect(originLine).toBeDefined();
      expect(originLine).toContain('"record_streams":"conf/flashphoner.properties"');
      // the test helper's server.properties sets the ports; a recording key nobody set is at its default
      expect(originLine).toContain('"record_rotation":"default"');
      const unknown = daemon.output.split('\n').filter((l) => l.includes('WCS keys this server does not use'));
      expect(unknown).toHaveLength(1);
      expect(unknown[0]).toContain('ice_tcp_transport, wcs_agent_port_from');
      expect(daemon.output).not.toMatch(/Unknown properties kept and ignored/);
    } finally {
      await daemon.stop();
    }
  });
});
