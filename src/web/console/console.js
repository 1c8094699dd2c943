'use strict';
/*
 * The operator's console (docs/console.md): plain JS over the REST API.
 * The token, when the server asks for one, is kept in sessionStorage (this
 * tab only) and sent as Authorization: Bearer; media URLs (video src,
 * download links) are short-lived signed URLs from /rest-api/records/sign.
 */
(() => {
  const TOKEN_KEY = 'wcs-console-token';
  const POLL_MS = 2000;
  const PAGE_SIZE = 20;
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let view = 'live';
  let pollTimer = null;
  let recordsOffset = 0;
  const lastSize = new Map(); // fileName -> {size, at, kbps}: the bitrate being written

  // ---------- helpers ----------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'onclick') e.addEventListener('click', v);
      else if (k === 'className') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const fmtBytes = (n) => {
    if (typeof n !== 'number' || !isFinite(n)) return '–';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
  };
  const fmtDuration = (ms) => {
    if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return '–';
    const s = Math.round(ms / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m ${String(r).padStart(2, '0')}s` : `${r}s`;
  };
  const fmtTime = (ms) => (typeof ms === 'number' ? new Date(ms).toLocaleString() : '–');
  const pad = (n) => String(n).padStart(2, '0');
  const clockOf = (ms) => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; };
  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = text || '';
    s.className = isError ? 'status error' : 'status';
  }

  // ---------- REST and tokens ----------
  class Unauthorized extends Error {}
  async function api(path, body, opts = {}) {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
    if (res.status === 401) {
      askToken(token ? 'Wrong token.' : '');
      throw new Unauthorized('A token is required');
    }
    if (res.status === 404 && opts.emptyOn404) return [];
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) throw new Error((json && json.message) || `${path}: HTTP ${res.status}`);
    return json;
  }
  function askToken(message) {
    $('token-form').hidden = false;
    $('token-error').textContent = message || '';
    document.querySelector('main').hidden = true;
    stopPolling();
  }
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token-input').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-input').value = '';
    $('token-form').hidden = true;
    document.querySelector('main').hidden = false;
    $('forget-token').hidden = false;
    show(view);
  });
  $('forget-token').hidden = !token;
  $('forget-token').addEventListener('click', () => {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('forget-token').hidden = true;
    askToken('');
  });
  /** A short-lived URL for a /client/records/… or /client/streams/… path (never the token). */
  async function signed(path) {
    const answer = await api('/rest-api/records/sign', { path });
    return answer.url;
  }
  const localPath = (url) => { const u = new URL(url, location.href); return u.pathname + u.search; };
  function report(err) {
    if (err instanceof Unauthorized) return;
    setStatus(err.message || String(err), true);
  }

  // ---------- views ----------
  let pollGen = 0;
  function stopPolling() { pollGen++; if (pollTimer) clearTimeout(pollTimer); pollTimer = null; }
  function schedule(fn) {
    stopPolling();
    const gen = pollGen;
    const run = async () => {
      try { await fn(); } catch (err) { report(err); if (err instanceof Unauthorized) return; }
      if (gen === pollGen) pollTimer = setTimeout(run, POLL_MS);
    };
    pollTimer = setTimeout(run, 0);
  }
  function show(name) {
    view = name;
    for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.view === name);
    for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${name}`;
    setStatus('');
    stopPolling();
    if (name === 'live') schedule(refreshLive);
    else if (name === 'server') schedule(refreshServer);
    else if (name === 'records') searchRecords().catch(report);
    history.replaceState(null, '', `#${name}`);
  }
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => show(b.dataset.view));

  // ---------- Live ----------
  async function refreshLive() {
    const [streams, recordings, cameras] = await Promise.all([
      api('/rest-api/stream/find_all'),
      api('/rest-api/recorder/progress', {}),
      api('/rest-api/rtsp/find_all', {}, { emptyOn404: true }).catch(() => []),
    ]);
    const bySession = new Map(recordings.map((r) => [r.mediaSessionId, r]));
    const box = $('streams');
    box.replaceChildren();
    if (streams.length === 0) box.append(el('p', { className: 'empty' }, 'No stream is published.'));
    const now = Date.now();
    for (const s of streams.sort((a, b) => a.name.localeCompare(b.name))) {
      const rec = bySession.get(s.mediaSessionId);
      let bitrate = '';
      if (rec && typeof rec.size === 'number') {
        // the bitrate being written, from the size of the file between two polls
        const before = lastSize.get(rec.fileName);
        if (!before || rec.size !== before.size) {
          const kbps = before && now > before.at && rec.size > before.size ? ((rec.size - before.size) * 8) / (now - before.at) : before?.kbps;
          lastSize.set(rec.fileName, { size: rec.size, at: now, kbps });
        }
        const kbps = lastSize.get(rec.fileName).kbps;
        if (kbps > 0) bitrate = `${Math.round(kbps)} kbit/s`;
      }
      const recording = Boolean(rec) || s.record;
      box.append(
        el('div', { className: 'card stream', 'data-stream': s.name, 'data-recording': recording ? 'yes' : 'no' },
          el('div', { className: 'title' }, s.name,
            el('span', { className: 'badge', title: `mediaProvider ${s.mediaProvider}` }, s.mediaProvider === 'Flash' ? 'RTMP' : s.mediaProvider),
            rec && rec.state === 'PAUSED' ? el('span', { className: 'badge' }, '❚❚ PAUSED')
              : recording ? el('span', { className: 'badge rec' }, '● REC') : el('span', { className: 'badge' }, s.status)),
          el('div', { className: 'meta' },
            [s.videoCodec, s.audioCodec].filter(Boolean).join(' + ') || 'codecs unknown',
            s.width && s.height ? ` · ${s.width}×${s.height}` : '',
            bitrate ? ` · ${bitrate} recorded` : ''),
          el('div', { className: 'meta' }, `since ${fmtTime(s.createdDate)} (${fmtDuration(now - s.createdDate)})`),
          recording ? el('div', { className: 'meta rec-file' },
            `writing ${rec ? rec.fileName : '…'}`,
            rec && typeof rec.size === 'number' ? ` · ${fmtBytes(rec.size)}` : '',
            rec && rec.startTimeMillis ? ` · ${fmtDuration(now - rec.startTimeMillis)}` : '') : null,
          el('div', { className: 'actions' },
            recording
              ? el('button', { className: 'danger', 'data-action': 'stop', onclick: () => control('/rest-api/recorder/terminate', s, 'Stopping') }, 'Stop recording')
              : el('button', { className: 'primary', 'data-action': 'start', onclick: () => control('/rest-api/recorder/startup', s, 'Starting') }, 'Start recording'),
            rec && rec.state === 'RECORDING' ? el('button', { 'data-action': 'pause', onclick: () => control('/rest-api/recorder/pause', s, 'Pausing') }, 'Pause') : null,
            rec && rec.state === 'PAUSED' ? el('button', { 'data-action': 'resume', onclick: () => control('/rest-api/recorder/resume', s, 'Resuming') }, 'Resume') : null,
            el('button', { onclick: () => { $('tl-stream').value = s.name; $('rf-stream').value = s.name; show('records'); } }, 'Records'))));
    }
    const cams = $('cameras');
    cams.replaceChildren();
    if (cameras.length === 0) cams.append(el('p', { className: 'empty' }, 'No camera is pulled.'));
    for (const c of cameras) {
      const ok = c.status === 'PLAYING';
      cams.append(el('div', { className: 'card camera', 'data-uri': c.uri },
        el('div', { className: 'title' }, c.toStream, el('span', { className: `badge ${ok ? 'ok' : c.lastError ? 'bad' : ''}` }, c.status)),
        el('div', { className: 'meta' }, c.uri, ` · ${c.transport}`),
        c.lastError ? el('div', { className: 'meta error' }, `last error: ${c.lastError} (retries ${c.retries})`) : null,
        el('div', { className: 'actions' },
          el('button', { className: 'danger', onclick: () => removeCamera(c.uri) }, 'Remove'))));
    }
    $('live-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  }
  async function control(path, stream, what) {
    setStatus(`${what} recording of ${stream.name}…`);
    try {
      await api(path, { mediaSessionId: stream.mediaSessionId });
      const done = { Starting: 'Started', Pausing: 'Paused', Resuming: 'Resumed' }[what] ?? 'Stopped';
      setStatus(`${done} recording of ${stream.name}`);
    } catch (err) { report(err); }
    await refreshLive().catch(report);
  }
  async function removeCamera(uri) {
    if (!confirm(`Stop pulling ${uri}?`)) return;
    try { await api('/rest-api/rtsp/terminate', { uri }); setStatus(`Removed ${uri}`); } catch (err) { report(err); }
    await refreshLive().catch(report);
  }
  $('rtsp-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { uri: $('rtsp-uri').value.trim(), record: $('rtsp-record').checked };
    const name = $('rtsp-stream').value.trim();
    if (name) body.toStream = name;
    try {
      await api('/rest-api/rtsp/startup', body);
      setStatus('Camera added');
      $('rtsp-uri').value = '';
      $('rtsp-stream').value = '';
    } catch (err) { report(err); }
    await refreshLive().catch(report);
  });

  // ---------- Records ----------
  const player = $('player');
  let playing = null; // { path, title } of what the player shows, to sign again when the URL expires
  async function play(path, title) {
    playing = { path, title };
    player.src = await signed(path);
    $('player-title').textContent = title;
    player.play().catch(() => undefined);
    player.scrollIntoView({ block: 'nearest' });
  }
  player.addEventListener('error', async () => {
    // a signed URL expired while seeking: sign again and go on where it was
    if (!playing || player.dataset.retried === playing.path) return;
    player.dataset.retried = playing.path;
    const at = player.currentTime;
    try {
      player.src = await signed(playing.path);
      player.currentTime = at;
      player.play().catch(() => undefined);
    } catch (err) { report(err); }
  });
  player.addEventListener('playing', () => { delete player.dataset.retried; });
  async function download(path) {
    const a = $('tl-link');
    a.href = await signed(path);
    a.download = path.split('/').pop().split('?')[0];
    a.click();
  }
  function isoOf(localValue) { return localValue ? new Date(localValue).getTime() : undefined; }
  async function searchRecords() {
    const body = { sort: '-start', limit: PAGE_SIZE, offset: recordsOffset };
    const stream = $('rf-stream').value.trim();
    if (stream) body.streamName = stream;
    if ($('rf-provider').value) body.provider = $('rf-provider').value;
    const from = isoOf($('rf-from').value), to = isoOf($('rf-to').value);
    if (from !== undefined) body.from = from;
    if (to !== undefined) body.to = to;
    const found = await api('/rest-api/records/find', body);
    const box = $('records');
    box.replaceChildren();
    if (found.records.length === 0) box.append(el('p', { className: 'empty' }, 'No record matches.'));
    for (const r of found.records) {
      const path = r.downloadUrl ? localPath(r.downloadUrl) : null;
      box.append(el('div', { className: 'card record', 'data-file': r.fileName },
        el('div', { className: 'title' }, r.fileName,
          r.pinned ? el('span', { className: 'badge ok' }, 'pinned') : null,
          r.state !== 'finished' ? el('span', { className: `badge ${r.state === 'recording' ? 'rec' : ''}` }, r.state) : null),
        el('div', { className: 'meta' }, `${r.streamName ?? '–'} · ${r.provider} · ${r.container} · ${[r.videoCodec, r.audioCodec].filter(Boolean).join('+')}${r.width ? ` · ${r.width}×${r.height}` : ''}`),
        el('div', { className: 'meta' }, `${fmtTime(r.startTimeMillis)} · ${fmtDuration(r.duration ?? undefined)} · ${fmtBytes(r.size)}`),
        el('div', { className: 'actions' },
          path ? el('button', { className: 'primary', 'data-action': 'play', onclick: () => play(path, r.fileName).catch(report) }, 'Play') : null,
          path ? el('button', { 'data-action': 'download', onclick: () => download(path).catch(report) }, 'Download') : null,
          el('button', { 'data-action': 'pin', onclick: () => pin(r) }, r.pinned ? 'Unpin' : 'Pin'),
          r.streamName ? el('button', { onclick: () => { $('tl-stream').value = r.streamName; $('tl-day').value = dayOf(r.startTimeMillis); showTimeline().catch(report); } }, 'Timeline') : null,
          el('button', { className: 'danger', 'data-action': 'delete', disabled: r.pinned || r.state === 'recording', onclick: () => removeRecord(r) }, 'Delete'))));
    }
    $('rf-page').textContent = found.total === 0 ? '' : `${recordsOffset + 1}–${recordsOffset + found.records.length} of ${found.total}`;
    $('rf-prev').disabled = recordsOffset === 0;
    $('rf-next').disabled = recordsOffset + found.records.length >= found.total;
  }
  async function pin(r) {
    try { await api('/rest-api/records/pin', { fileName: r.fileName, pinned: !r.pinned }); } catch (err) { report(err); }
    await searchRecords().catch(report);
  }
  async function removeRecord(r) {
    if (!confirm(`Delete ${r.fileName}?`)) return;
    try { await api('/rest-api/records/delete', { fileName: r.fileName }); setStatus(`Deleted ${r.fileName}`); } catch (err) { report(err); }
    await searchRecords().catch(report);
  }
  $('records-form').addEventListener('submit', (ev) => { ev.preventDefault(); recordsOffset = 0; searchRecords().catch(report); });
  $('rf-prev').addEventListener('click', () => { recordsOffset = Math.max(0, recordsOffset - PAGE_SIZE); searchRecords().catch(report); });
  $('rf-next').addEventListener('click', () => { recordsOffset += PAGE_SIZE; searchRecords().catch(report); });

  // ---------- Timeline ----------
  const DAY_MS = 24 * 3600 * 1000;
  let day = null; // { stream, startMs, spans }
  let pick = null; // { fromMs, toMs }
  const dayOf = (ms) => { const d = new Date(ms); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; };
  $('tl-day').value = dayOf(Date.now());
  async function showTimeline() {
    const stream = $('tl-stream').value.trim();
    const [y, m, d] = $('tl-day').value.split('-').map(Number);
    const startMs = new Date(y, m - 1, d).getTime();
    const t = await api('/rest-api/records/timeline', { streamName: stream, from: startMs, to: startMs + DAY_MS });
    day = { stream, startMs, spans: t.spans, winStart: startMs, winLen: DAY_MS };
    if ($('tl-zoom').checked && t.spans.length > 0) {
      // zoom to what was recorded that day (a few seconds vanish on a 24-h bar)
      const first = Math.max(startMs, t.spans[0].start), last = Math.min(startMs + DAY_MS, t.spans[t.spans.length - 1].end);
      const padMs = Math.max((last - first) * 0.1, 5000);
      day.winStart = Math.max(startMs, first - padMs);
      day.winLen = Math.min(startMs + DAY_MS, last + padMs) - day.winStart;
    }
    const scale = $('tl-scale');
    scale.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => el('span', {}, f === 1 && day.winLen === DAY_MS ? '24:00' : clockOf(day.winStart + f * day.winLen))));
    const bar = $('tl-bar');
    for (const s of bar.querySelectorAll('.tl-span')) s.remove();
    for (const s of t.spans) {
      const left = Math.max(0, (s.start - day.winStart) / day.winLen) * 100;
      const right = Math.min(1, (s.end - day.winStart) / day.winLen) * 100;
      const span = el('div', { className: 'tl-span', title: `${clockOf(s.start)}–${clockOf(s.end)}`, 'data-start': s.start, 'data-end': s.end });
      span.style.left = `${left}%`;
      span.style.width = `${Math.max(0, right - left)}%`;
      bar.insertBefore(span, $('tl-sel'));
    }
    const recorded = t.spans.reduce((sum, s) => sum + (s.end - s.start), 0);
    $('tl-summary').textContent = `${stream}: ${t.spans.length} span(s), ${fmtDuration(recorded)} recorded, ${t.gaps.length} gap(s)`;
    $('timeline').hidden = false;
    if (t.spans.length > 0) setPick(t.spans[t.spans.length - 1].start, t.spans[t.spans.length - 1].end);
    else { pick = null; $('tl-sel').hidden = true; }
  }
  function setPick(fromMs, toMs) {
    if (!day) return;
    fromMs = Math.max(day.startMs, Math.min(fromMs, day.startMs + DAY_MS));
    toMs = Math.max(day.startMs, Math.min(toMs, day.startMs + DAY_MS));
    if (toMs < fromMs) [fromMs, toMs] = [toMs, fromMs];
    pick = { fromMs, toMs };
    const sel = $('tl-sel');
    sel.hidden = false;
    const a = Math.max(0, Math.min(1, (fromMs - day.winStart) / day.winLen)), b = Math.max(0, Math.min(1, (toMs - day.winStart) / day.winLen));
    sel.style.left = `${a * 100}%`;
    sel.style.width = `${(b - a) * 100}%`;
    $('tl-from').value = clockOf(fromMs);
    $('tl-to').value = clockOf(toMs);
  }
  function timeInput(id) {
    const [h, m, s] = $(id).value.split(':').map(Number);
    return day.startMs + ((h || 0) * 3600 + (m || 0) * 60 + (s || 0)) * 1000;
  }
  $('tl-from').addEventListener('change', () => day && setPick(timeInput('tl-from'), pick ? pick.toMs : timeInput('tl-to')));
  $('tl-to').addEventListener('change', () => day && setPick(pick ? pick.fromMs : timeInput('tl-from'), timeInput('tl-to')));
  {
    const bar = $('tl-bar');
    let downAt = null;
    const msAt = (ev) => { const r = bar.getBoundingClientRect(); return day.winStart + Math.round(((ev.clientX - r.left) / r.width) * day.winLen); };
    bar.addEventListener('pointerdown', (ev) => { if (!day) return; downAt = msAt(ev); bar.setPointerCapture(ev.pointerId); });
    bar.addEventListener('pointermove', (ev) => { if (downAt !== null && Math.abs(msAt(ev) - downAt) > 1000) setPick(downAt, msAt(ev)); });
    bar.addEventListener('pointerup', (ev) => {
      if (downAt === null) return;
      const upAt = msAt(ev);
      const r = bar.getBoundingClientRect();
      if (Math.abs(ev.clientX - r.left - ((downAt - day.winStart) / day.winLen) * r.width) < 4) {
        // a click: pick the span under it
        const slack = day.winLen / 200;
        const span = day.spans.find((s) => s.start - slack <= upAt && upAt <= s.end + slack);
        if (span) setPick(span.start, span.end);
      } else setPick(downAt, upAt);
      downAt = null;
    });
  }
  const rangePath = () => `/client/streams/${encodeURIComponent(day.stream)}.mp4?from=${pick.fromMs}&to=${pick.toMs}`;
  $('tl-play').addEventListener('click', () => { if (day && pick) play(rangePath(), `${day.stream} ${clockOf(pick.fromMs)}–${clockOf(pick.toMs)}`).catch(report); });
  $('tl-download').addEventListener('click', () => { if (day && pick) download(rangePath()).catch(report); });
  $('timeline-form').addEventListener('submit', (ev) => { ev.preventDefault(); showTimeline().catch(report); });

  // ---------- Server ----------
  function facts(dl, rows) {
    dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }
  async function refreshServer() {
    const [s, deleted] = await Promise.all([
      api('/rest-api/server/stats', {}),
      api('/rest-api/records/find', { state: 'deleted', sort: '-end', limit: 5 }).then((r) => r.records).catch(() => []),
    ]);
    const d = s.eventLoopDelay || {};
    const rows = [
      ['Version', s.version],
      ['Uptime', fmtDuration(s.uptimeSeconds * 1000)],
      ['Streams', s.streams],
      ['Recordings', s.recordings],
      ['Event-loop delay', `p50 ${(d.p50Ms ?? 0).toFixed(1)} ms · p99 ${(d.p99Ms ?? 0).toFixed(1)} ms · max ${(d.maxMs ?? 0).toFixed(1)} ms`],
      ['Memory', `RSS ${fmtBytes(s.memory.rssBytes)} · heap ${fmtBytes(s.memory.heapUsedBytes)}`],
      ['Failed hooks', s.failedHooks],
    ];
    if (s.engines) for (const [k, v] of Object.entries(s.engines)) rows.push([`Engine: ${k}`, v]);
    facts($('server-stats'), rows);
    const disk = $('server-disk');
    disk.replaceChildren();
    for (const f of s.disks || []) {
      disk.append(el('div', { className: 'card' }, el('div', { className: 'title' }, f.name),
        el('div', { className: 'meta' }, f.path),
        el('div', { className: 'meta' }, f.freeBytes === null ? 'free space unknown' : `${fmtBytes(f.freeBytes)} free of ${fmtBytes(f.totalBytes)}`)));
    }
    if (!s.disks) disk.append(el('p', { className: 'empty' }, 'Not reported by this server.'));
    const ret = s.retention;
    facts($('server-retention'), ret ? [
      ['Max age', ret.maxAgeSeconds ? fmtDuration(ret.maxAgeSeconds * 1000) : 'off'],
      ['Max size', ret.maxSizeBytes ? fmtBytes(ret.maxSizeBytes) : 'off'],
      ['Min free space', ret.minFreeBytes ? fmtBytes(ret.minFreeBytes) : 'off'],
      ['Checked every', fmtDuration(ret.checkIntervalSeconds * 1000)],
    ] : [['Retention', 'not reported']]);
    const del = $('server-deleted');
    del.replaceChildren();
    if (deleted.length === 0) del.append(el('p', { className: 'empty' }, 'Nothing deleted yet.'));
    for (const r of deleted) {
      del.append(el('div', { className: 'card' }, el('div', { className: 'title' }, r.fileName),
        el('div', { className: 'meta' }, `${fmtTime(r.deletedAt)} · ${r.deletedReason ?? ''} · ${fmtBytes(r.size)}`)));
    }
  }

  // ---------- start ----------
  const first = (location.hash || '#live').slice(1);
  show(['live', 'records', 'server'].includes(first) ? first : 'live');
})();
