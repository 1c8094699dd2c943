#!/usr/bin/env node
// Publishes N VP8 + Opus streams over WHIP from Node (@roamhq/wrtc with
// generated frames), keeps them up for S seconds, DELETEs them and exits.
// Run as its own process: @roamhq/wrtc may crash while tearing down its
// threads, so it leaves with process.exit(0) right after printing.
//   node test/helpers/wrtc-publishers.mjs <whip base URL> <name prefix> <count> <seconds>
// Prints one JSON line: [{ name, status, location, mediaSessionId }]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wrtc = require('@roamhq/wrtc');
const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;
const [base, prefix, countArg, secondsArg] = process.argv.slice(2);
const count = Number(countArg);
const seconds = Number(secondsArg);

async function publish(name) {
  const video = new RTCVideoSource();
  const audio = new RTCAudioSource();
  const pc = new wrtc.RTCPeerConnection();
  const vt = video.createTrack();
  const at = audio.createTrack();
  pc.addTransceiver(vt, { direction: 'sendonly' });
  pc.addTransceiver(at, { direction: 'sendonly' });
  const width = 320;
  const height = 240;
  const data = new Uint8ClampedArray((width * height * 3) / 2);
  let n = 0;
  const timers = [
    setInterval(() => {
      n++;
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x += 2) data[y * width + x] = (x + y + n * 3) & 255;
      video.onFrame({ width, height, data });
    }, 1000 / 30),
    setInterval(() => {
      const samples = new Int16Array(480);
      for (let i = 0; i < 480; i++) samples[i] = Math.sin(((n * 480 + i) * 2 * Math.PI * 440) / 48000) * 5000;
      audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
    }, 10),
  ];
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 2000);
  });
  const res = await fetch(`${base}/whip/${name}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
  const text = await res.text();
  if (res.status !== 201) return { name, status: res.status, error: text, stop: async () => timers.forEach(clearInterval) };
  await pc.setRemoteDescription({ type: 'answer', sdp: text });
  const location = res.headers.get('location');
  return {
    name,
    status: res.status,
    location,
    mediaSessionId: res.headers.get('x-media-session-id'),
    framesSent: 0,
    async stop() {
      await fetch(`${base}${location}`, { method: 'DELETE' });
      // what was sent by the time the DELETE was answered (the test counts the record's frames against it)
      let frames = 0;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video') frames += r.framesSent ?? 0;
      });
      this.framesSent = frames;
      timers.forEach(clearInterval);
      pc.close();
    },
  };
}

const pubs = await Promise.all(Array.from({ length: count }, (_, i) => publish(`${prefix}${i + 1}`)));
await new Promise((r) => setTimeout(r, seconds * 1000));
await Promise.all(pubs.map((p) => p.stop()));
console.log(JSON.stringify(pubs.map(({ stop, ...rest }) => rest)));
process.exit(0);
