/**
 * A seeded SDP offer fuzzer for WHIP (pure): a valid Chromium-like offer,
 * mutated by dropping, duplicating and garbling lines, attributes, payload
 * types and fingerprints, huge values, odd encodings and NULs. The same seed
 * gives the same offers. Used by test/integration/whip-fuzz.test.ts and
 * bench/fuzz-whip.mjs.
 */

/** A Chromium-like sendonly VP8/H.264 + Opus offer (never connects: nobody answers its candidates). */
export function chromiumLikeOffer(): string {
  const fp = 'a=fingerprint:sha-256 5B:0D:7C:2E:47:B0:8B:F8:1E:14:46:46:0A:AC:1D:95:33:33:0A:2B:AE:77:3E:0F:93:2E:E8:CD:A3:F8:77:D4';
  return (
    [
      'v=0',
      'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=group:BUNDLE 0 1',
      'a=extmap-allow-mixed',
      'a=msid-semantic: WMS 2f0e7b1c',
      'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107',
      'c=IN IP4 0.0.0.0',
      'a=rtcp:9 IN IP4 0.0.0.0',
      'a=ice-ufrag:Xk3a',
      'a=ice-pwd:4iPVjYx7mJx1JPnTXO4hJ7yS',
      'a=ice-options:trickle',
      fp,
      'a=setup:actpass',
      'a=mid:0',
      'a=extmap:1 urn:ietf:params:rtp-hdrext:toffset',
      'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=sendonly',
      'a=msid:2f0e7b1c 9a7c5d3e',
      'a=rtcp-mux',
      'a=rtcp-rsize',
      'a=rtpmap:96 VP8/90000',
      'a=rtcp-fb:96 goog-remb',
      'a=rtcp-fb:96 transport-cc',
      'a=rtcp-fb:96 ccm fir',
      'a=rtcp-fb:96 nack',
      'a=rtcp-fb:96 nack pli',
      'a=rtpmap:97 rtx/90000',
      'a=fmtp:97 apt=96',
      'a=rtpmap:102 H264/90000',
      'a=rtcp-fb:102 nack pli',
      'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
      'a=rtpmap:103 rtx/90000',
      'a=fmtp:103 apt=102',
      'a=rtpmap:104 H264/90000',
      'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
      'a=rtpmap:105 rtx/90000',
      'a=fmtp:105 apt=104',
      'a=rtpmap:106 VP9/90000',
      'a=fmtp:106 profile-id=0',
      'a=rtpmap:107 rtx/90000',
      'a=fmtp:107 apt=106',
      'a=ssrc-group:FID 3012345678 3012345679',
      'a=ssrc:3012345678 cname:q1w2e3r4t5y6',
      'a=ssrc:3012345678 msid:2f0e7b1c 9a7c5d3e',
      'a=ssrc:3012345679 cname:q1w2e3r4t5y6',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
      'c=IN IP4 0.0.0.0',
      'a=rtcp:9 IN IP4 0.0.0.0',
      'a=ice-ufrag:Xk3a',
      'a=ice-pwd:4iPVjYx7mJx1JPnTXO4hJ7yS',
      'a=ice-options:trickle',
      fp,
      'a=setup:actpass',
      'a=mid:1',
      'a=extmap:14 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
      'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=sendonly',
      'a=msid:2f0e7b1c 4b6d8f0a',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=rtcp-fb:111 transport-cc',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:63 red/48000/2',
      'a=fmtp:63 111/111',
      'a=rtpmap:9 G722/8000',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:13 CN/8000',
      'a=rtpmap:110 telephone-event/48000',
      'a=rtpmap:126 telephone-event/8000',
      'a=ssrc:1122334455 cname:q1w2e3r4t5y6',
    ].join('\r\n') + '\r\n'
  );
}

/** mulberry32: a small seeded PRNG, [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, list: readonly T[]): T => list[int(rng, list.length)]!;

const JUNK = ['\u0000', '\u0001', '\u001b', '\u007f', '\u0085', '\u2028', '\ufeff', '\ufffd', '\ud800', 'é', '😀', ' ', '\t', ':', '/', '%00', '=', ' ', '-1', '999999999999'];

/** One mutation of an offer's lines; returns its name (for the report). */
type Mutation = (lines: string[], rng: Rng) => string;

const attributeNames = ['ice-ufrag', 'ice-pwd', 'fingerprint', 'setup', 'mid', 'rtpmap', 'fmtp', 'group', 'rtcp-mux', 'sendonly', 'msid', 'ssrc', 'extmap', 'rtcp-fb'];

function indexes(lines: string[], test: (l: string) => boolean): number[] {
  return lines.flatMap((l, i) => (test(l) ? [i] : []));
}

const MUTATIONS: Readonly<Record<string, Mutation>> = {
  dropLine: (lines, rng) => {
    const i = int(rng, lines.length);
    lines.splice(i, 1);
    return `dropLine ${i}`;
  },
  duplicateLine: (lines, rng) => {
    const i = int(rng, lines.length);
    lines.splice(i, 0, lines[i] ?? '');
    return `duplicateLine ${i}`;
  },
  garbleLine: (lines, rng) => {
    const i = int(rng, lines.length);
    const chars = [...(lines[i] ?? '')];
    const n = 1 + int(rng, 4);
    for (let k = 0; k < n; k++) chars.splice(int(rng, chars.length + 1), int(rng, 3), pick(rng, JUNK));
    lines[i] = chars.join('');
    return `garbleLine ${i}`;
  },
  dropAttribute: (lines, rng) => {
    const name = pick(rng, attributeNames);
    const all = indexes(lines, (l) => l.startsWith(`a=${name}`));
    for (const i of all.reverse()) lines.splice(i, 1);
    return `dropAttribute ${name}`;
  },
  dropPayloadTypes: (lines, rng) => {
    const ms = indexes(lines, (l) => l.startsWith('m='));
    const i = pick(rng, ms.length ? ms : [0]);
    lines[i] = (lines[i] ?? '').split(' ').slice(0, 3).join(' ');
    return `dropPayloadTypes ${i}`;
  },
  garblePayloadTypes: (lines, rng) => {
    const ms = indexes(lines, (l) => l.startsWith('m='));
    const i = pick(rng, ms.length ? ms : [0]);
    const parts = (lines[i] ?? '').split(' ');
    const bad = pick(rng, ['999', '-1', '128', 'abc', '96.5', '1e3', '', '00000000096', String(2 ** 53)]);
    parts[3 + int(rng, Math.max(1, parts.length - 3))] = bad;
    lines[i] = parts.join(' ');
    return `garblePayloadTypes ${bad}`;
  },
  garbleFingerprint: (lines, rng) => {
    const value = pick(rng, ['sha-256', 'md5 00:11', 'sha-256 ZZ:11', 'sha-256 0:1:2', '', 'sha-999 00:11:22', 'sha-256 ' + '00:'.repeat(3000) + '00', 'SHA-256 00']);
    for (const i of indexes(lines, (l) => l.startsWith('a=fingerprint'))) lines[i] = `a=fingerprint:${value}`;
    return `garbleFingerprint ${value.slice(0, 20)}`;
  },
  garbleIce: (lines, rng) => {
    const which = pick(rng, ['ice-ufrag', 'ice-pwd']);
    const value = pick(rng, ['', 'a', 'x'.repeat(300), 'ab cd', 'abcd\u0000', 'ümlaut-ümlaut-ümlaut-ümlaut']);
    for (const i of indexes(lines, (l) => l.startsWith(`a=${which}`))) lines[i] = `a=${which}:${value}`;
    return `garbleIce ${which}`;
  },
  garbleRtpmap: (lines, rng) => {
    const rs = indexes(lines, (l) => l.startsWith('a=rtpmap:'));
    const i = pick(rng, rs.length ? rs : [0]);
    const m = /^a=rtpmap:(\d+) /.exec(lines[i] ?? '');
    const pt = m?.[1] ?? '96';
    const value = pick(rng, ['VP8/0', 'VP8/-1', 'VP8/abc', 'opus/48000/0', 'opus/48000/999', 'H264', 'VP8/90000/2/3', '/', 'VP8/1e12', '']);
    lines[i] = `a=rtpmap:${pt} ${value}`;
    return `garbleRtpmap ${value}`;
  },
  hugeValue: (lines, rng) => {
    const i = int(rng, lines.length);
    const size = pick(rng, [1000, 5000, 20000]);
    lines[i] = (lines[i] ?? 'a=x') + 'A'.repeat(size);
    return `hugeValue ${size}`;
  },
  manySections: (lines, rng) => {
    const start = lines.findIndex((l) => l.startsWith('m=video'));
    const end = lines.findIndex((l, i) => i > start && l.startsWith('m='));
    if (start < 0) return 'manySections (none)';
    const section = lines.slice(start, end < 0 ? undefined : end);
    const copies = pick(rng, [2, 17, 40]);
    for (let k = 0; k < copies; k++) lines.push(...section.map((l) => (l.startsWith('a=mid:') ? `a=mid:v${k}` : l)));
    return `manySections +${copies}`;
  },
  duplicateMid: (lines) => {
    for (const i of indexes(lines, (l) => l.startsWith('a=mid:'))) lines[i] = 'a=mid:0';
    return 'duplicateMid';
  },
  direction: (lines, rng) => {
    const d = pick(rng, ['recvonly', 'inactive', 'sendrecv', 'bogus']);
    for (const i of indexes(lines, (l) => l === 'a=sendonly')) lines[i] = `a=${d}`;
    return `direction ${d}`;
  },
  setup: (lines, rng) => {
    const s = pick(rng, ['active', 'passive', 'holdconn', '']);
    for (const i of indexes(lines, (l) => l.startsWith('a=setup:'))) lines[i] = `a=setup:${s}`;
    return `setup ${s}`;
  },
  port: (lines, rng) => {
    const p = pick(rng, ['0', '99999', '65535', '-9', 'x']);
    for (const i of indexes(lines, (l) => l.startsWith('m='))) lines[i] = (lines[i] ?? '').replace(/^(m=\S+) \S+/, `$1 ${p}`);
    return `port ${p}`;
  },
  kind: (lines, rng) => {
    const k = pick(rng, ['application', 'text', 'videox', 'AUDIO']);
    const ms = indexes(lines, (l) => l.startsWith('m='));
    const i = pick(rng, ms.length ? ms : [0]);
    lines[i] = (lines[i] ?? '').replace(/^m=\S+/, `m=${k}`);
    return `kind ${k}`;
  },
  nul: (lines, rng) => {
    const i = int(rng, lines.length);
    const l = lines[i] ?? '';
    const at = int(rng, l.length + 1);
    lines[i] = l.slice(0, at) + '\u0000' + l.slice(at);
    return `nul ${i}`;
  },
  moveSectionFirst: (lines) => {
    const i = lines.findIndex((l) => l.startsWith('m=audio'));
    if (i > 0) lines.unshift(...lines.splice(i, 1));
    return 'moveSectionFirst';
  },
  truncate: (lines, rng) => {
    const keep = 1 + int(rng, lines.length);
    lines.splice(keep);
    return `truncate ${keep}`;
  },
  dropVersion: (lines) => {
    if (lines[0] === 'v=0') lines[0] = 'v=1';
    return 'dropVersion';
  },
  swapLines: (lines, rng) => {
    const a = int(rng, lines.length);
    const b = int(rng, lines.length);
    [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
    return `swapLines ${a} ${b}`;
  },
};

const MUTATION_NAMES = Object.keys(MUTATIONS);

export interface FuzzOffer {
  readonly index: number;
  /** The offer body (may hold anything: NULs, lone surrogates, huge lines). */
  readonly body: string;
  /** The stream name of the WHIP path (mostly plain; sometimes hostile). */
  readonly streamName: string;
  readonly mutations: readonly string[];
}

const HOSTILE_NAMES = ['nul\u0000byte', 'line\nfeed', 'cr\rlf', 'esc\u001b[31m', 'del\u007f', 'c1\u0085', 'sep\u2028', 'x'.repeat(300), '€'.repeat(80)];

/** The offer of `seed` at `index` (same inputs, same offer). About 1 in 20 is left valid; 1 in 15 has a hostile name. */
export function fuzzOffer(seed: number, index: number, base = chromiumLikeOffer()): FuzzOffer {
  const rng = seededRandom((seed * 1_000_003 + index) >>> 0);
  const eolRoll = rng();
  const lines = base.split('\r\n').filter((l) => l !== '');
  const mutations: string[] = [];
  if (rng() >= 0.05) {
    const n = 1 + int(rng, 3);
    for (let k = 0; k < n; k++) mutations.push(MUTATIONS[pick(rng, MUTATION_NAMES)]!(lines, rng));
  }
  let eol = '\r\n';
  if (eolRoll < 0.05) eol = '\n';
  else if (eolRoll < 0.08) eol = '\r';
  if (eol !== '\r\n') mutations.push(`eol ${JSON.stringify(eol)}`);
  let body = lines.join(eol) + eol;
  if (rng() < 0.03) {
    body = '\ufeff' + body;
    mutations.push('bom');
  }
  if (rng() < 0.02) {
    body = pick(rng, ['', ' ', '\r\n', 'v=0', '\u0000'.repeat(64)]);
    mutations.push('emptyish');
  }
  const hostile = rng() < 1 / 15;
  const streamName = hostile ? pick(rng, HOSTILE_NAMES) : `fuzz-${seed}-${index}`;
  if (hostile) mutations.push('hostileName');
  return { index, body, streamName, mutations };
}
