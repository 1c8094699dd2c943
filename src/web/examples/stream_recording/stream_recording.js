// Stream Recording example: publishes the camera over WHIP (RFC 9725) to
// POST /whip/<stream>?record=true, ends it with DELETE on the Location the
// server gave, then asks the server for the finished record of this publish
// (find_records by the mediaSessionId the WHIP answer carried).
'use strict';

const $ = (id) => document.getElementById(id);
let session = null; // { pc, media, location, mediaSessionId }

function setStatus(status, error) {
  const el = $('status');
  el.textContent = status;
  el.className = status;
  $('error').textContent = error ? String(error) : '';
}

function authHeaders() {
  const token = $('token').value.trim();
  return token ? { Authorization: 'Bearer ' + token } : {};
}

function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(done, timeoutMs);
  });
}

function preferCodec(transceiver, codec) {
  const all = RTCRtpSender.getCapabilities('video').codecs;
  const wanted = all.filter((c) => c.mimeType.toLowerCase() === 'video/' + codec.toLowerCase()
    && (codec !== 'H264' || /packetization-mode=1/.test(c.sdpFmtpLine || '')));
  if (wanted.length === 0) throw new Error(codec + ' is not supported by this browser');
  transceiver.setCodecPreferences(wanted);
}

async function start() {
  const name = $('streamName').value.trim();
  if (!name) { setStatus('FAILED', 'Enter a stream name'); return; }
  $('startButton').disabled = true;
  $('recordRow').hidden = true;
  setStatus('CONNECTING');
  try {
    const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    $('localVideo').srcObject = media;
    $('localVideo').hidden = false;
    const pc = new RTCPeerConnection();
    session = { pc, media, location: null, mediaSessionId: null };
    const video = pc.addTransceiver(media.getVideoTracks()[0], { direction: 'sendonly', streams: [media] });
    pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly', streams: [media] });
    preferCodec(video, $('codec').value);
    // without it Chromium lowers the resolution under a bitrate cap
    const params = video.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await video.sender.setParameters(params).catch(() => undefined);
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, 2000);
    const res = await fetch('/whip/' + encodeURIComponent(name) + '?record=true', {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/sdp' }, authHeaders()),
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) {
      const body = await res.text();
      let message = body;
      try { message = JSON.parse(body).message; } catch (e) { /* plain text */ }
      throw new Error('WHIP ' + res.status + ': ' + message);
    }
    session.location = res.headers.get('Location');
    session.mediaSessionId = res.headers.get('X-Media-Session-Id');
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') {
        setStatus('PUBLISHING');
        $('stopButton').disabled = false;
      } else if (pc.connectionState === 'failed') {
        setStatus('FAILED', 'The WebRTC connection failed');
      }
    });
  } catch (err) {
    setStatus('FAILED', err.message || err);
    cleanup();
    $('startButton').disabled = false;
  }
}

function cleanup() {
  if (!session) return;
  session.pc.close();
  session.media.getTracks().forEach((t) => t.stop());
  $('localVideo').srcObject = null;
  $('localVideo').hidden = true;
}

async function findRecord(mediaSessionId, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch('/rest-api/recorder/find_records', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ mediaSessionId }),
    });
    if (res.status === 200) {
      const records = await res.json();
      if (records.length > 0) return records[0];
    } else if (res.status !== 404) {
      throw new Error('find_records: ' + res.status);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('The record did not appear within ' + timeoutMs / 1000 + ' s');
}

async function stop() {
  if (!session) return;
  $('stopButton').disabled = true;
  const { location, mediaSessionId } = session;
  try {
    // DELETE first, while media still flows: the server's feed writes its last frames
    if (location) await fetch(location, { method: 'DELETE', headers: authHeaders() });
  } finally {
    cleanup();
    session = null;
    setStatus('UNPUBLISHED');
    $('startButton').disabled = false;
  }
  try {
    const record = await findRecord(mediaSessionId, 30000);
    $('downloadLink').href = record.downloadUrl;
    $('downloadLink').download = record.fileName;
    $('recordName').textContent = record.fileName;
    $('recordRow').hidden = false;
  } catch (err) {
    $('error').textContent = err.message || String(err);
  }
}

$('streamName').value = 'stream-' + Math.random().toString(36).slice(2, 8);
$('startButton').addEventListener('click', () => void start());
$('stopButton').addEventListener('click', () => void stop());
