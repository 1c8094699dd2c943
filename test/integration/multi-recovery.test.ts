import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeHome, REPO, startDaemon, waitFor } from '../helpers/daemon.js';
import { decodeErrors, durationOf, makeClip, publish } from '../helpers/media.js';
import { postJson, streamNamed } from '../helpers/rest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MIXER = path.join(REPO, 'tools', 'offline_mixer_tool.sh');

describe('a multiple recording interrupted by a crash', () => {
  it('is assembled at the next start from its participants’ crash-safe files, and its hook runs', async () => {
    const home = makeHome();
    fs.writeFileSync(
      path.join(home, 'bin', 'multi_args.sh'),
      '#!/usr/bin/env bash\nprintf "%s|" "$#" "$@" >> "$WCS_HOME/logs/multi-args.log"\necho >> "$WCS_HOME/logs/multi-args.log"\n',
      { mode: 0o755 },
    );
    const props = { record_streams: false, stream_record_policy_template: '{streamName}-{mediaSessionId}', on_multiple_record_hook_script: 'bin/multi_args.sh' };
    const first = await startDaemon(props, home);
    let fileName = '';
    const clip = makeClip({ video: true, audio: true, seconds: 8, gop: 1 });
    const a = publish(clip, first.rtmpUrl('anna'), ['-stream_loop', '-1']);
    const b = publish(clip, first.rtmpUrl('ben'), ['-stream_loop', '-1']);
    try {
      const [sa, sb] = await Promise.all([streamNamed(first, 'anna'), streamNamed(first, 'ben')]);
      expect((await postJson(first, '/rest-api/multipleRecorder/startup', { uri: 'multi-recorder://crashroom' })).status).toBe(200);
      expect((await postJson(first, '/rest-api/multipleRecorder/add', { uri: 'multi-recorder://crashroom', mediaSessionId: sa.mediaSessionId })).status).toBe(200);
      await sleep(2000);
      expect((await postJson(first, '/rest-api/multipleRecorder/add', { uri: 'multi-recorder://crashroom', mediaSessionId: sb.mediaSessionId })).status).toBe(200);
      // the recorder's own id is in its name, and must survive the crash
      const all = await postJson<{ fileName: string }[]>(first, '/rest-api/multipleRecorder/find_all');
      fileName = all.body[0]?.fileName ?? '';
      expect(fileName).toMatch(/^multi-recorder__crashroom-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.mp4$/);
      await sleep(5000);
      first.proc.kill('SIGKILL');
      await first.exited;
    } finally {
      a.proc.kill('SIGKILL');
      b.proc.kill('SIGKILL');
    }
    const second = await startDaemon({ ...props, 'http.port': first.httpPort, 'rtmp.port': first.rtmpPort }, home);
    try {
      await second.waitForOutput(/Recovered an interrupted multiple recording/, 30_000);
      const file = path.join(second.recordDir, fileName);
      await waitFor(() => fs.existsSync(path.join(home, 'logs', 'multi-args.log')), 10_000, 'multiple record hook');
      const args = fs.readFileSync(path.join(home, 'logs', 'multi-args.log'), 'utf8').trim().split('|');
      expect(args[0]).toBe('4');
      expect(args[1]).toBe(file);
      expect(args[4]).toBe('multi-recorder://crashroom');
      expect(decodeErrors(file)).toBe('');
      expect(durationOf(file)).toBeGreaterThan(4);
      const tracks = JSON.parse(execFileSync(MIXER, ['--show-tracks-info', file], { encoding: 'utf8' })) as { streamName: string; trackType: string }[];
      expect(tracks.map((t) => `${t.streamName}:${t.trackType}`).sort()).toEqual(['anna:AUDIO', 'anna:VIDEO', 'ben:AUDIO', 'ben:VIDEO']);
      expect(fs.readdirSync(second.recordDir).filter((f) => f.startsWith('.multi-'))).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});
