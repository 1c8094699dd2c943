/**
 * REST fuzzer driven by the OpenAPI document at /rest-api/docs (issue 14,
 * item 7). The generator is pure and seeded: given the document, a seed and
 * what is live on the daemon (a FuzzContext), it yields bounded requests:
 * schema-valid bodies with hostile values, wrong types, missing/extra
 * fields, huge strings and numbers, deep nesting, odd encodings, wrong
 * content types, empty/oversized bodies, duplicated keys, wrong methods and
 * paths, records GETs with odd ?start=&end= and Range headers, WHIP offers.
 * The runner (runFuzz) starts a real daemon, publishes a healthy RTMP stream
 * beside the load, sends the cases, keeps camera pulls and multi-recorders
 * bounded, and reports answers by status, every 5xx with its case and the
 * daemon's stack, orphaned ffmpegs and whether the healthy record is whole.
 * Used by test/integration/rest-fuzz.test.ts (short, fixed seeds) and
 * bench/fuzz-rest.mjs (long runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, startDaemon, type DaemonHandle } from '../helpers/daemon.js';
import { durationOf, makeClip } from '../helpers/media.js';

// ------------------------------------------------------------------ OpenAPI shapes

export interface JsonSchema {
  type?: string | readonly string[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  minProperties?: number;
  minLength?: number;
  maxLength?: number;
  enum?: readonly unknown[];
  items?: JsonSchema;
  description?: string;
}

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema?: JsonSchema;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/** One operation of the document, as the generator needs it. */
export interface FuzzRoute {
  readonly method: string;
  /** OpenAPI path, e.g. /client/records/{file} */
  readonly path: string;
  readonly body: JsonSchema | null;
  readonly bodyRequired: boolean;
  readonly pathParams: readonly string[];
  readonly query: readonly OpenApiParameter[];
}

export function routesOf(doc: OpenApiDocument): FuzzRoute[] {
  const routes: FuzzRoute[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = op.parameters ?? [];
      routes.push({
        method: method.toUpperCase(),
        path: p,
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
        bodyRequired: op.requestBody?.required === true,
        pathParams: params.filter((x) => x.in === 'path').map((x) => x.name),
        query: params.filter((x) => x.in === 'query'),
      });
    }
  }
  return routes.sort((a, b) => (a.path + a.method).localeCompare(b.path + b.method));
}

// ------------------------------------------------------------------ seeded randomness

export class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    if (list.length === 0) throw new Error('pick from an empty list');
    return list[Math.floor(this.next() * list.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ------------------------------------------------------------------ what the daemon has now

export interface FuzzContext {
  /** mediaSessionId of a live stream the fuzzer may record, stop and terminate; null if none now. */
  readonly targetSessionId: string | null;
  readonly targetName: string;
  /** Names of finished records. */
  readonly records: readonly string[];
  /** A TCP port on 127.0.0.1 that nothing listens on. */
  readonly closedPort: number;
  readonly rtmpPort: number;
  readonly httpPort: number;
}

/** A request, sent byte for byte as written. */
export interface FuzzCase {
  readonly n: number;
  /** what the case tries, e.g. "wrong-type", "records-range" */
  readonly kind: string;
  /** "POST /rest-api/stream/find" (the OpenAPI route it was made from) */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | null;
  /** An answer other than a status is fine for this case (the server may cut an oversized upload). */
  readonly resetAllowed: boolean;
}

const BODY_LIMIT = 16 * 1024;

/** Percent-encodes the UTF-8 bytes of a string (lone surrogates become U+FFFD; never throws, unlike encodeURIComponent). */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// hostile values ---------------------------------------------------

const ODD_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '%00',
  'a%00b',
  '\n',
  'line1\nline2\r\n',
  '\t',
  '\u202eevil\u202c.mp4',
  '\u200b',
  '😀🎥📼',
  '\ud83d',
  '\udfff\ud800',
  'é',
  'e\u0301',
  '\uffff',
  '\ufeffbom',
  '../../../../etc/passwd',
  '..\\..\\windows',
  '%2e%2e%2f%2e%2e%2f',
  '/absolute/path',
  '.hidden',
  'CON',
  '{streamName}',
  '{{}}',
  '${HOME}',
  '$(touch /tmp/pwned)',
  '`id`',
  "'; DROP TABLE records; --",
  '<script>alert(1)</script>',
  'null',
  'true',
  '0',
  '-1',
  'NaN',
  '1e309',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(255),
  'x'.repeat(256),
  'é'.repeat(200),
  '😀'.repeat(70),
];

const STREAM_NAMES: readonly string[] = [
  'stream1',
  'a/b',
  'a\\b',
  '..',
  '.',
  '../x',
  'name with spaces',
  'name?x=1',
  'name#frag',
  'name%2Fslash',
  'имя',
  '名前',
  '😀',
  '\u202eTXT.exe',
  'a'.repeat(255),
  'é'.repeat(128),
];

const TEMPLATES = (r: Rng): string[] => [
  '{streamName}-{startTimeMillis}',
  '../{streamName}',
  '{streamName}/../../x',
  '..',
  '.',
  '{foo}',
  '{streamName',
  '}{',
  '{mediaSessionId}-{login}-{audioCodec}-{videoCodec}-{startTime}-{endTime}',
  '{streamName}\u0000x',
  '{streamName}\n',
  'x'.repeat(r.int(250, 300)),
  '{streamName}'.repeat(r.int(20, 40)),
  '%2e%2e%2f{streamName}',
  '😀{streamName}',
];

const ROTATIONS: readonly string[] = ['10', '10M', 'disabled', '0', '-1', '1', '0M', '1e9', '999999999999999', '9999999999M', 'abc', '', ' 10', '10 M', '10m', '10k', 'DISABLED', '1.5'];

function uris(ctx: FuzzContext, r: Rng, route: string): string[] {
  const p = ctx.closedPort;
  if (route.includes('multipleRecorder')) {
    return [
      `multi-recorder://fuzz${r.int(0, 9)}`,
      `multi-recorder://${'n'.repeat(r.int(200, 260))}`,
      'multi-recorder://',
      'multi-recorder:///',
      'multi-recorder://../../x',
      'multi-recorder://a/b',
      'multi-recorder://😀',
      'multi-recorder://a\u0000b',
      'multi-recorder://%00',
      'MULTI-RECORDER://X',
      'rtsp://127.0.0.1/x',
      `multi-recorder://${'é'.repeat(120)}`,
    ];
  }
  return [
    `rtsp://127.0.0.1:${p}/live`,
    `rtsp://user:p%40ss@127.0.0.1:${p}/cam?x=1`,
    `rtsp://user:pa:ss@127.0.0.1:${p}/`,
    `rtsps://127.0.0.1:${p}/s`,
    `rtsp://127.0.0.1:${p}/${'p'.repeat(r.int(1000, 2100))}`,
    'rtsp://',
    'rtsp://:0/',
    'rtsp://127.0.0.1:99999/x',
    'rtsp://[::1]:1/x',
    `rtsp://127.0.0.1:${p}/a b`,
    `rtsp://127.0.0.1:${p}/%00`,
    `rtsp://127.0.0.1:${p}/\n-i /etc/passwd`,
    `rtsp://127.0.0.1:${p}/x -f null`,
    'http://127.0.0.1/x',
    'file:///etc/passwd',
    '-i /etc/passwd',
    'rtmp://127.0.0.1/live/x',
    'rtsp://256.256.256.256/x',
  ];
}

/** A schema-valid (mostly) value for a field, hostile where the field allows it. */
function valueFor(name: string, schema: JsonSchema, ctx: FuzzContext, r: Rng, route: string, depth: number): unknown {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type as string];
  if (schema.enum && schema.enum.length > 0 && r.chance(0.8)) return r.pick(schema.enum);
  if (types.includes('boolean')) return r.chance(0.5);
  if (types.includes('integer') || types.includes('number')) return r.pick([0, 1, -1, 2 ** 31, 2 ** 53 + 1]);
  if (types.includes('object')) {
    if (types.includes('null') && r.chance(0.2)) return null;
    return objectFor(schema, ctx, r, route, depth + 1);
  }
  if (types.includes('array')) return schema.items ? [valueFor(name, schema.items, ctx, r, route, depth + 1)] : [];
  // strings: by field name first, then anything odd
  const pool: string[] = [...ODD_STRINGS];
  switch (name) {
    case 'mediaSessionId':
      if (ctx.targetSessionId && r.chance(0.6)) return ctx.targetSessionId;
      pool.push('00000000-0000-0000-0000-000000000000', 'not-a-session');
      break;
    case 'name':
    case 'streamName':
    case 'toStream':
      if (r.chance(0.3)) return ctx.targetName;
      pool.push(...STREAM_NAMES);
      break;
    case 'fileName':
      if (ctx.records.length > 0 && r.chance(0.4)) return r.pick(ctx.records);
      break;
    case 'uri':
      if (r.chance(0.8)) return r.pick(uris(ctx, r, route));
      break;
    case 'fileTemplate':
      if (r.chance(0.8)) return r.pick(TEMPLATES(r));
      break;
    case 'rotation':
      if (r.chance(0.8)) return r.pick(ROTATIONS);
      break;
  }
  return r.pick(pool);
}

function objectFor(schema: JsonSchema, ctx: FuzzContext, r: Rng, route: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 4) return out;
  const required = new Set(schema.required ?? []);
  const props = Object.entries(schema.properties ?? {});
  for (const [key, s] of props) {
    if (required.has(key) || r.chance(0.5)) out[key] = valueFor(key, s, ctx, r, route, depth);
  }
  if ((schema.minProperties ?? 0) > Object.keys(out).length && props.length > 0) {
    const [key, s] = r.pick(props);
    out[key] = valueFor(key, s, ctx, r, route, depth);
  }
  return out;
}

function wrongTypeValue(r: Rng): unknown {
  return r.pick<unknown>([null, true, false, 0, -1, 1.5, 1e308, 'str', [], [1, 2], {}, { a: 1 }, [null], '']);
}

function hugeNumberText(r: Rng): string {
  return r.pick(['1e400', '-1e400', '1e308', '9007199254740993', '-0', '0.0000000000000000000000001', '1' + '0'.repeat(r.int(300, 5000)), '123456789012345678901234567890']);
}

function deep(r: Rng, levels: number): string {
  const open = r.chance(0.5) ? '[' : '{"a":';
  const close = open === '[' ? ']' : '}';
  return open.repeat(levels) + '1' + close.repeat(levels);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** A JSON text with raw bytes spliced into a string value (invalid UTF-8, raw control characters). */
function oddEncoding(obj: Record<string, unknown>, r: Rng): Buffer {
  const key = Object.keys(obj)[0] ?? 'name';
  const rest = { ...obj };
  delete rest[key];
  const tail = JSON.stringify(rest).slice(1); // "}" or ",..."}"
  const raw: Buffer = r.pick([
    Buffer.from([0xff, 0xfe]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0xe0, 0x80, 0xaf]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0x80]),
    Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from([0x00]),
    Buffer.from('\n', 'utf8'),
    Buffer.from('\\u0000', 'utf8'),
    Buffer.from('\\ud800', 'utf8'),
    Buffer.from('\\udc00\\ud800', 'utf8'),
    Buffer.from('%00', 'utf8'),
    Buffer.from('\u202e', 'utf8'),
    Buffer.from('😀', 'utf8'),
    Buffer.from('\\x41', 'utf8'),
  ]);
  return Buffer.concat([Buffer.from(`{"${key}":"a`, 'utf8'), raw, Buffer.from(`b"${tail === '}' ? '}' : ',' + tail}`, 'utf8')]);
}

// records GETs ----------------------------------------------------

const CUT_VALUES: readonly string[] = ['0', '1', '1.5', '2', '-1', '-0', '1e309', '1e-320', 'NaN', 'Infinity', '-Infinity', '0x10', ' 1', '1 ', '1,5', '', '99999999', '1e3', '00:00:01', '+1', '.5', '5.', '１', '%00', '9'.repeat(32), '9'.repeat(33)];

const RANGES: readonly string[] = [
  'bytes=0-',
  'bytes=0-0',
  'bytes=-1',
  'bytes=-0',
  'bytes=5-1',
  'bytes=999999999999-',
  'bytes=0-999999999999999999999',
  'bytes=0-1,2-3',
  'bytes=0-1,0-1,0-1,0-1,0-1,0-1,0-1,0-1,0-1,0-1',
  'bytes=abc',
  'bytes=',
  'items=0-1',
  'bytes=-',
  'bytes=1-2-3',
  'bytes= 0 - 1 ',
];

function recordName(ctx: FuzzContext, r: Rng): string {
  if (ctx.records.length > 0 && r.chance(0.5)) return pct(r.pick(ctx.records));
  return r.pick([
    '..%2f..%2fetc%2fpasswd',
    '..',
    '%2e%2e',
    '.rec-x.mp4',
    '%00',
    'a%00.mp4',
    '%zz',
    '%c0%af',
    '%ff%fe',
    'x'.repeat(r.int(900, 1100)),
    pct('😀.mp4'),
    pct('\u202emp4.exe'),
    'nothing.mp4',
    'a%2fb.mp4',
    'a%5cb.mp4',
    '..%5c..%5cx',
    '',
  ]);
}

function recordsCase(ctx: FuzzContext, r: Rng): { kind: string; path: string; headers: Record<string, string>; method: string } {
  const name = recordName(ctx, r);
  const headers: Record<string, string> = {};
  let kind = 'records-name';
  const q: string[] = [];
  if (r.chance(0.6)) {
    kind = 'records-cut';
    if (r.chance(0.4)) {
      // a plausible part, so the cutter itself runs (on an existing record, half of the time)
      const start = Math.round(r.next() * 60) / 10;
      q.push(`start=${start}`, `end=${Math.round((start + 0.1 + r.next() * 6) * 10) / 10}`);
    } else {
      if (r.chance(0.9)) q.push(`start=${pct(r.pick(CUT_VALUES))}`);
      if (r.chance(0.9)) q.push(`end=${pct(r.pick(CUT_VALUES))}`);
    }
    if (r.chance(0.1)) q.push('start=1', 'start=2');
    if (r.chance(0.1)) q.push(`token=${'t'.repeat(r.int(1, 1100))}`);
    if (r.chance(0.1)) q.push('unknown=1');
    if (r.chance(0.05)) q.push('start[a]=1');
  }
  if (r.chance(0.4)) {
    kind = kind === 'records-cut' ? 'records-cut-range' : 'records-range';
    headers.range = r.pick(RANGES);
    if (r.chance(0.2)) headers['if-range'] = r.pick(['"x"', 'Thu, 01 Jan 1970 00:00:00 GMT', 'garbage']);
  }
  const deeper = r.chance(0.05) ? '/' + recordName(ctx, r) : '';
  return { kind, method: r.chance(0.2) ? 'HEAD' : 'GET', path: `/client/records/${name}${deeper}${q.length ? '?' + q.join('&') : ''}`, headers };
}

// WHIP ------------------------------------------------------------

function sdpOffer(r: Rng): string {
  const lines = [
    'v=0',
    `o=- ${r.int(1, 1e9)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'c=IN IP4 0.0.0.0',
    'a=mid:0',
    'a=sendonly',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 ' + Array.from({ length: 32 }, () => 'AB').join(':'),
    'a=setup:actpass',
    'a=rtcp-mux',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    `a=ssrc:${r.int(1, 2 ** 32 - 1)} cname:x`,
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 0.0.0.0',
    'a=mid:1',
    'a=sendonly',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
  ];
  const mutate = r.int(0, 5);
  if (mutate === 1) lines.splice(r.int(0, lines.length - 1), 1);
  if (mutate === 2) lines[r.int(0, lines.length - 1)] = r.pick(ODD_STRINGS);
  if (mutate === 3) lines.push(`a=x:${'y'.repeat(r.int(1000, 20000))}`);
  if (mutate === 4) return r.pick(['', 'v=0', 'garbage', '\u0000\u0000', 'm=video', 'v=0\r\nm=video 0 RTP/AVP 0\r\n']);
  if (mutate === 5) for (let i = 0; i < r.int(10, 40); i++) lines.push(`m=video 9 UDP/TLS/RTP/SAVPF ${96 + i}`);
  return lines.join('\r\n') + '\r\n';
}

// the generator ---------------------------------------------------

const BODY_KINDS = [
  'valid',
  'valid',
  'valid',
  'wrong-type',
  'missing',
  'extra',
  'huge-string',
  'huge-number',
  'deep',
  'encoding',
  'content-type',
  'empty',
  'oversized',
  'dup-keys',
  'non-object',
  'garbage',
  'method',
  'path',
  'headers',
] as const;

function fill(p: string, r: Rng, ctx: FuzzContext): string {
  return p.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    if (name === 'file') return recordName(ctx, r);
    if (name === 'stream') return pct(r.chance(0.3) ? `fuzz-whip-${r.int(0, 9)}` : r.pick([...STREAM_NAMES, ...ODD_STRINGS.slice(0, 20)]));
    return pct(r.pick(ODD_STRINGS)) || 'x';
  });
}

/**
 * Routes that change what the daemon holds are steered away from the
 * streams the harness itself relies on: a stream/terminate filter always
 * names a stream (a bare {status:"PUBLISHING"} would stop every publisher,
 * the healthy one too; that filter is tested on its own by the REST tests).
 */
function guard(route: FuzzRoute, body: unknown, protectedNames: readonly string[]): unknown {
  if (route.path !== '/rest-api/stream/terminate' || typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const o = body as Record<string, unknown>;
  if (typeof o.name === 'string' && protectedNames.includes(o.name)) return { ...o, name: 'fuzz-none' };
  if (o.name === undefined && o.mediaSessionId === undefined) return { ...o, name: 'fuzz-none' };
  return body;
}

export interface GenerateOptions {
  readonly seed: number;
  /** Names the fuzzer must not stop (the healthy publish). */
  readonly protectedNames: readonly string[];
}

/** The n-th case of a seeded run (one Rng per case: any case can be replayed from seed and n). */
export function makeCase(routes: readonly FuzzRoute[], n: number, ctx: FuzzContext, options: GenerateOptions): FuzzCase {
  const r = new Rng((options.seed * 1_000_003 + n * 7919) >>> 0);
  r.next();
  const route = r.pick(routes);
  const routeName = `${route.method} ${route.path}`;
  const base = { n, route: routeName, resetAllowed: false };

  if (route.path.startsWith('/client/records')) {
    const c = recordsCase(ctx, r);
    return { ...base, kind: c.kind, method: c.method, path: c.path, headers: c.headers, body: null };
  }
  if (route.path.startsWith('/whip')) {
    const p = fill(route.path, r, ctx);
    if (route.method === 'POST') {
      const offer = Buffer.from(sdpOffer(r), 'utf8');
      const ct = r.chance(0.85) ? 'application/sdp' : r.pick(['application/json', 'text/plain', 'application/SDP; charset=utf-8', '']);
      const q = r.chance(0.3) ? `?record=${pct(r.pick(['true', 'false', '1', 'yes', '', '%00']))}` : '';
      const headers: Record<string, string> = ct ? { 'content-type': ct } : {};
      return { ...base, kind: 'whip-offer', method: 'POST', path: p + q, headers, body: offer, resetAllowed: offer.length > 16 * 1024 };
    }
    return { ...base, kind: `whip-${route.method.toLowerCase()}`, method: route.method, path: p, headers: {}, body: null };
  }
  if (route.method === 'GET') {
    const q = r.chance(0.5) ? `?${pct(r.pick(ODD_STRINGS)) || 'x'}=${pct(r.pick(ODD_STRINGS))}` : '';
    return { ...base, kind: 'get-query', method: 'GET', path: route.path + q, headers: {}, body: null };
  }

  // JSON routes
  const schema = route.body ?? { type: 'object', properties: {}, additionalProperties: false };
  const kind = r.pick(BODY_KINDS);
  const valid = guard(route, objectFor(schema, { ...ctx }, r, route.path, 0), options.protectedNames) as Record<string, unknown>;
  const jsonHeaders = { 'content-type': 'application/json' };
  const out = (body: Buffer | null, headers: Record<string, string> = jsonHeaders, extra: Partial<FuzzCase> = {}): FuzzCase => ({
    ...base,
    kind,
    method: 'POST',
    path: route.path,
    headers,
    body,
    ...extra,
  });
  const keys = Object.keys(schema.properties ?? {});
  switch (kind) {
    case 'valid':
      return out(json(valid));
    case 'wrong-type': {
      const key = keys.length > 0 ? r.pick(keys) : 'x';
      return out(json(guard(route, { ...valid, [key]: wrongTypeValue(r) }, options.protectedNames)));
    }
    case 'missing': {
      const o = { ...valid };
      const req = schema.required ?? [];
      delete o[req.length > 0 ? r.pick(req) : (Object.keys(o)[0] ?? '')];
      return out(json(guard(route, o, options.protectedNames)));
    }
    case 'extra': {
      const key = r.pick(['x', 'unknown', '', ' ', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'MEDIASESSIONID', '😀', 'a'.repeat(300), 'config']);
      return out(json(guard(route, { ...valid, [key]: r.pick<unknown>([1, 'x', null, {}, []]) }, options.protectedNames)));
    }
    case 'huge-string': {
      const key = keys.length > 0 ? r.pick(keys) : 'x';
      const over = r.chance(0.3);
      const len = over ? r.int(BODY_LIMIT, 4 * BODY_LIMIT) : r.int(256, BODY_LIMIT - 200);
      const ch = r.pick(['a', 'é', '😀', '\u0000', '/', '%']);
      const s = ch.repeat(Math.max(1, Math.floor(len / Buffer.byteLength(JSON.stringify(ch)))));
      const body = json(guard(route, { ...valid, [key]: s }, options.protectedNames));
      return out(body, jsonHeaders, { resetAllowed: body.length > BODY_LIMIT });
    }
    case 'huge-number': {
      const key = keys.length > 0 ? r.pick(keys) : 'x';
      const o = guard(route, { ...valid, [key]: 0 }, options.protectedNames);
      const text = JSON.stringify(o).replace(`"${key}":0`, `"${key}":${hugeNumberText(r)}`);
      const body = Buffer.from(text, 'utf8');
      return out(body, jsonHeaders, { resetAllowed: body.length > BODY_LIMIT });
    }
    case 'deep': {
      const levels = r.int(100, 7000);
      if (r.chance(0.3)) {
        const body = Buffer.from(deep(r, levels), 'utf8');
        return out(body, jsonHeaders, { resetAllowed: body.length > BODY_LIMIT });
      }
      const key = keys.length > 0 ? r.pick(keys) : 'x';
      const o = guard(route, { ...valid, [key]: 0 }, options.protectedNames);
      const body = Buffer.from(JSON.stringify(o).replace(`"${key}":0`, `"${key}":${deep(r, levels)}`), 'utf8');
      return out(body, jsonHeaders, { resetAllowed: body.length > BODY_LIMIT });
    }
    case 'encoding':
      return out(oddEncoding(guard(route, valid, options.protectedNames) as Record<string, unknown>, r));
    case 'content-type': {
      const ct = r.pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/JSON',
        'application/json;;;',
        'application/sdp',
        'application/octet-stream',
        '*/*',
        'application/jsonx',
        'json',
        '',
      ]);
      return out(json(valid), ct === '' ? {} : { 'content-type': ct });
    }
    case 'empty':
      return out(
        Buffer.alloc(0),
        r.pick<Record<string, string>>([jsonHeaders, {}, { 'content-type': 'text/plain' }, { 'content-type': 'application/json', 'content-length': '0' }]),
      );
    case 'oversized': {
      const size = r.pick([BODY_LIMIT + 1, BODY_LIMIT * 2, 256 * 1024, 1024 * 1024]);
      // at least `size` bytes: always over the limit
      const pad = Math.max(0, size - Buffer.byteLength(JSON.stringify(valid)));
      return out(json({ ...valid, pad: 'p'.repeat(pad) }), jsonHeaders, { resetAllowed: true });
    }
    case 'dup-keys': {
      const key = keys.length > 0 ? r.pick(keys) : 'x';
      const text = JSON.stringify(valid);
      const dup = `"${key}":${JSON.stringify(valueFor(key, schema.properties?.[key] ?? {}, ctx, r, route.path, 0))}`;
      const body = text === '{}' ? `{${dup},${dup}}` : `{${dup},${text.slice(1, -1)},${dup}}`;
      // a duplicate name may undo the guard: keep stream/terminate aimed at nothing real
      return out(Buffer.from(route.path === '/rest-api/stream/terminate' ? body.replace(/^\{/, '{"name":"fuzz-none",') : body, 'utf8'));
    }
    case 'non-object':
      return out(Buffer.from(r.pick(['[]', '[{}]', '0', '-1', '"x"', 'null', 'true', 'false', '""', '[null]', '1e400', `[${JSON.stringify(valid)}]`]), 'utf8'));
    case 'garbage': {
      const text = JSON.stringify(valid);
      return out(
        r.pick([
          Buffer.from(text.slice(0, Math.max(1, r.int(0, text.length - 1))), 'utf8'),
          Buffer.from(`${text}garbage`, 'utf8'),
          Buffer.from(`${text}${text}`, 'utf8'),
          Buffer.from(Array.from({ length: r.int(1, 512) }, () => r.int(0, 255))),
          Buffer.from("{'a':1}", 'utf8'),
          Buffer.from('{"a":1,}', 'utf8'),
          Buffer.from('{"__proto__":{"polluted":1}}', 'utf8'),
          Buffer.from('{"constructor":{"prototype":{"polluted":1}}}', 'utf8'),
          Buffer.from('\ufeff{}', 'utf8'),
          Buffer.from('/*c*/{}', 'utf8'),
        ]),
      );
    }
    case 'method': {
      const method = r.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND']);
      return { ...base, kind, method, path: route.path, headers: jsonHeaders, body: method === 'GET' || method === 'HEAD' ? null : json(valid) };
    }
    case 'path': {
      const p = r.pick([
        `${route.path}/`,
        route.path.replace('/rest-api/', '/rest-api//'),
        route.path.toUpperCase(),
        route.path.replace(/\/([^/]+)$/, '/%2e%2e/$1'),
        route.path.replace(/\/([^/]+)$/, '%2F$1'),
        `${route.path}?${pct(r.pick(ODD_STRINGS))}=1`,
        `${route.path}?%zz`,
        `${route.path}%00`,
        `${route.path};x=1`,
        `${route.path}#frag`,
        `${route.path}/${'x'.repeat(r.int(1000, 9000))}`,
      ]);
      return { ...base, kind, method: 'POST', path: p, headers: jsonHeaders, body: json(valid) };
    }
    case 'headers': {
      const extra = r.pick<Record<string, string>>([
        { 'content-encoding': 'gzip' },
        { 'content-encoding': 'br' },
        { 'transfer-encoding': 'chunked' },
        { expect: '100-continue' },
        { authorization: r.pick(['Bearer', 'Bearer ' + 'x'.repeat(4000), 'Basic !!!', '']) },
        { accept: 'text/html' },
        { 'x-forwarded-for': '1.2.3.4, ' + 'x'.repeat(2000) },
        { host: r.pick(['', 'evil.example', 'x'.repeat(2000)]) },
        { cookie: 'a=' + 'b'.repeat(3000) },
      ]);
      return out(json(valid), { ...jsonHeaders, ...extra });
    }
  }
  return out(json(valid));
}

// ------------------------------------------------------------------ sending

export interface Answer {
  /** HTTP status, or 'reset' (no answer, connection closed), or 'timeout'. */
  readonly status: number | 'reset' | 'timeout';
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly ms: number;
}

/** Sends a case; keeps at most `keepBytes` of the answer's body. */
export function send(port: number, c: FuzzCase, timeoutMs = 30_000, keepBytes = 4096): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Omit<Answer, 'ms'>): void => {
      if (done) return;
      done = true;
      resolve({ ...a, ms: Date.now() - started });
    };
    const headers: Record<string, string> = { ...c.headers };
    if (c.body !== null && headers['transfer-encoding'] === undefined && headers['content-length'] === undefined) {
      headers['content-length'] = String(c.body.length);
    }
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent: false, setHost: headers.host === undefined }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          if (size < keepBytes) chunks.push(d);
          size += d.length;
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8', 0, keepBytes), headers: res.headers }));
        res.on('error', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8', 0, 2000), headers: res.headers }));
      });
    } catch (err) {
      // node refuses some headers or paths itself (e.g. control characters): not a request at all
      finish({ status: 'reset', body: `client refused: ${(err as Error).message}`, headers: {} });
      return;
    }
    req.setTimeout(timeoutMs, () => {
      finish({ status: 'timeout', body: '', headers: {} });
      req.destroy();
    });
    req.on('error', (err) => finish({ status: 'reset', body: String(err), headers: {} }));
    if (c.body !== null) req.end(c.body);
    else req.end();
  });
}

// ------------------------------------------------------------------ the runner

export interface FuzzOptions {
  readonly requests: number;
  readonly seed: number;
  /** requests in flight at once */
  readonly concurrency?: number;
  /** camera pulls alive at once before the runner terminates them all */
  readonly maxPulls?: number;
  readonly log?: (line: string) => void;
  /** Routes ("POST /whip/{stream}") matching this are left out. */
  readonly exclude?: RegExp;
}

export interface FuzzFailure {
  readonly case: FuzzCase;
  readonly answer: Answer;
  /** the daemon's "Request failed" lines logged around it */
  readonly logged: string[];
}

export interface FuzzReport {
  readonly requests: number;
  readonly seconds: number;
  readonly byStatus: Record<string, number>;
  readonly byKind: Record<string, Record<string, number>>;
  readonly failures: FuzzFailure[];
  readonly resets: number;
  readonly daemonAlive: boolean;
  readonly daemonExit: string;
  readonly orphans: number[];
  readonly maxFfmpegChildren: number;
  readonly pullsTerminated: number;
  readonly healthy: { readonly ok: boolean; readonly sentSeconds: number; readonly recordedSeconds: number; readonly parts: number; readonly note: string };
  readonly serverErrorLines: string[];
}

interface Publish {
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  outTimeUs: number;
  ended: boolean;
  err: string;
}

function startPublish(file: string, url: string): Publish {
  const proc = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostats', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-progress', 'pipe:1', '-f', 'flv', url], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const p: Publish = {
    proc,
    outTimeUs: 0,
    ended: false,
    err: '',
    exited: new Promise((resolve) =>
      proc.on('exit', () => {
        p.ended = true;
        resolve();
      }),
    ),
  };
  proc.stdout?.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/out_time_us=(\d+)/g)) p.outTimeUs = Number(m[1]);
  });
  proc.stderr?.on('data', (d: Buffer) => (p.err = (p.err + d.toString()).slice(-2000)));
  proc.stdin?.on('error', () => {});
  return p;
}

async function stopPublish(p: Publish): Promise<void> {
  if (p.ended) return;
  p.proc.stdin?.write('q');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(t);
}

/** ffmpegs on this machine whose command line names this daemon's home or ports. */
export function ffmpegsNaming(needles: readonly string[]): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const argv0 = cmd.split('\0')[0] ?? '';
    if (!argv0.endsWith('ffmpeg')) continue;
    if (needles.some((n) => cmd.includes(n))) found.push(Number(d));
  }
  return found;
}

function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function postJson(port: number, p: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const a = await send(port, { n: -1, kind: 'harness', route: p, method: 'POST', path: p, headers: { 'content-type': 'application/json' }, body: json(body), resetAllowed: false }, 60_000, 16 * 1024 * 1024);
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(a.body);
  } catch {
    parsed = null;
  }
  return { status: typeof a.status === 'number' ? a.status : 0, json: parsed };
}

function listOf(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

const HEALTHY = 'fuzz-healthy';
const TARGET = 'fuzz-target';

/**
 * Starts a daemon (temp home, free ports), a healthy publish and a target
 * publish, sends `requests` cases and checks the daemon afterwards.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const closedPort = await freePort();
  const daemon: DaemonHandle = await startDaemon({
    // camera pulls to the closed port fail fast and retry slowly: the fuzzer terminates them anyway
    rtsp_timeout: 2,
    rtsp_reconnect_min_delay: 2000,
    rtsp_reconnect_max_delay: 10000,
    // the offline mixer after each multiple recording is a CPU-heavy ffmpeg: not what is fuzzed here
    on_multiple_record_hook_script: '',
    rtmp_publish_grace_ms: 0,
    file_recorder_min_space: '100m',
  });
  const started = Date.now();
  const clip = makeClip({ video: true, audio: true, seconds: 10, gop: 1, bitrate: '300k' });
  const healthy = startPublish(clip, daemon.rtmpUrl(HEALTHY));
  let target = startPublish(clip, daemon.rtmpUrl(TARGET));
  try {
    return await fuzzWith(daemon, options, { healthy, clip, closedPort, started, target: () => target, restartTarget: () => (target = startPublish(clip, daemon.rtmpUrl(TARGET))) });
  } catch (err) {
    // never leave a daemon or a publisher behind
    healthy.proc.kill('SIGKILL');
    target.proc.kill('SIGKILL');
    await daemon.stop('SIGTERM', 10_000);
    throw err;
  }
}

interface Harness {
  readonly healthy: Publish;
  readonly clip: string;
  readonly closedPort: number;
  readonly started: number;
  target(): Publish;
  restartTarget(): Publish;
}

async function fuzzWith(daemon: DaemonHandle, options: FuzzOptions, harness: Harness): Promise<FuzzReport> {
  const { healthy, closedPort, started } = harness;
  const log = options.log ?? (() => {});
  const concurrency = options.concurrency ?? 4;
  const maxPulls = options.maxPulls ?? 2;
  const port = daemon.httpPort;
  let targetStarts = 1;

  const docRes = await fetch(daemon.url('/rest-api/docs'));
  if (docRes.status !== 200) throw new Error(`/rest-api/docs answered ${docRes.status}`);
  const routes = routesOf((await docRes.json()) as OpenApiDocument).filter((r) => !options.exclude?.test(`${r.method} ${r.path}`));
  if (routes.length === 0) throw new Error('every route is excluded');

  let ctx: FuzzContext = { targetSessionId: null, targetName: TARGET, records: [], closedPort, rtmpPort: daemon.rtmpPort, httpPort: port };
  let healthySessionId: string | null = null;
  let pullsTerminated = 0;
  let maxFfmpegChildren = 0;

  /** Refreshes the context and keeps what the fuzzer started bounded. */
  const sweep = async (): Promise<void> => {
    const streams = listOf((await postJson(port, '/rest-api/stream/find_all', {})).json);
    const t = streams.find((s) => s.name === TARGET);
    const h = streams.find((s) => s.name === HEALTHY);
    if (typeof h?.mediaSessionId === 'string') healthySessionId = h.mediaSessionId;
    const records = listOf((await postJson(port, '/rest-api/recorder/find_records', {})).json)
      .map((x) => x.fileName)
      .filter((x): x is string => typeof x === 'string');
    ctx = { ...ctx, targetSessionId: typeof t?.mediaSessionId === 'string' ? t.mediaSessionId : null, records: records.slice(-50) };
    if (harness.target().ended && targetStarts < 50) {
      harness.restartTarget();
      targetStarts++;
    }
    const pulls = listOf((await postJson(port, '/rest-api/rtsp/find_all', {})).json);
    if (pulls.length > maxPulls) {
      for (const pull of pulls) {
        if (typeof pull.uri !== 'string') continue;
        await postJson(port, '/rest-api/rtsp/terminate', { uri: pull.uri });
        pullsTerminated++;
      }
    }
    const multis = listOf((await postJson(port, '/rest-api/multipleRecorder/find_all', {})).json);
    if (multis.length > 3) {
      for (const m of multis) if (typeof m.uri === 'string') await postJson(port, '/rest-api/multipleRecorder/terminate', { uri: m.uri });
    }
    const kids = daemon.children().filter((pid) => commOf(pid) === 'ffmpeg');
    maxFfmpegChildren = Math.max(maxFfmpegChildren, kids.length);
  };

  // let both publishes be listed before the first case
  for (let i = 0; i < 100 && (ctx.targetSessionId === null || healthySessionId === null); i++) {
    await sweep();
    await new Promise((r) => setTimeout(r, 100));
  }

  const byStatus: Record<string, number> = {};
  const byKind: Record<string, Record<string, number>> = {};
  const failures: FuzzFailure[] = [];
  let resets = 0;
  let next = 0;
  let sinceSweep = 0;
  let sweeping: Promise<void> | null = null;
  const protectedNames = [HEALTHY];
  const whipSessions: string[] = [];

  const worker = async (): Promise<void> => {
    while (next < options.requests && daemon.proc.exitCode === null && daemon.proc.signalCode === null) {
      const n = next++;
      if (++sinceSweep >= 25 && sweeping === null) {
        sinceSweep = 0;
        sweeping = sweep().finally(() => (sweeping = null));
      }
      if (sweeping) await sweeping;
      // the healthy stream's id is never handed out: keep it out of the context the generator sees
      const c = makeCase(routes, n, ctx, { seed: options.seed, protectedNames });
      const logBefore = daemon.output.length;
      const a = await send(port, c);
      const status = String(a.status);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      const k = (byKind[c.kind] ??= {});
      k[status] = (k[status] ?? 0) + 1;
      if (c.method === 'POST' && c.path.startsWith('/whip/') && a.status === 201 && typeof a.headers.location === 'string') {
        // each WHIP session holds ports and (on some engines) a feed ffmpeg until its idle timeout: keep at most 2
        whipSessions.push(a.headers.location);
        while (whipSessions.length > 2) {
          const loc = whipSessions.shift();
          if (loc) await send(port, { n: -1, kind: 'harness', route: 'whip', method: 'DELETE', path: loc, headers: {}, body: null, resetAllowed: true });
        }
      }
      const bad = (typeof a.status === 'number' && a.status >= 500) || a.status === 'timeout' || (a.status === 'reset' && !c.resetAllowed && !a.body.startsWith('client refused'));
      if (a.status === 'reset') resets++;
      if (bad) {
        await new Promise((r) => setTimeout(r, 50));
        const logged = daemon.output
          .slice(logBefore)
          .split('\n')
          .filter((l) => l.includes('"msg":"Request failed"') || l.includes('"level":50') || l.includes('"level":60'));
        failures.push({ case: c, answer: a, logged });
        log(`FAIL #${n} ${c.kind} ${c.method} ${c.path.slice(0, 200)} -> ${a.status} ${a.body.slice(0, 300)}`);
      }
      if (n > 0 && n % 1000 === 0) log(`${n} requests, ${failures.length} failures, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));

  // is the daemon still answering?
  const alive = daemon.proc.exitCode === null && daemon.proc.signalCode === null && (await postJson(port, '/rest-api/stream/find_all', {})).status === 200;

  // tidy up what the fuzzer started, then finish the healthy publish and check its record
  for (const loc of whipSessions) await send(port, { n: -1, kind: 'harness', route: 'whip', method: 'DELETE', path: loc, headers: {}, body: null, resetAllowed: true });
  if (alive) {
    for (const pull of listOf((await postJson(port, '/rest-api/rtsp/find_all', {})).json)) {
      if (typeof pull.uri === 'string') {
        await postJson(port, '/rest-api/rtsp/terminate', { uri: pull.uri });
        pullsTerminated++;
      }
    }
    for (const m of listOf((await postJson(port, '/rest-api/multipleRecorder/find_all', {})).json)) {
      if (typeof m.uri === 'string') await postJson(port, '/rest-api/multipleRecorder/terminate', { uri: m.uri });
    }
  }
  await stopPublish(harness.target());
  await stopPublish(healthy);
  const sentSeconds = healthy.outTimeUs / 1e6;
  let healthyNote = healthy.ended && healthy.proc.exitCode !== 0 && healthy.proc.exitCode !== 255 ? `publisher: ${healthy.err.trim()}` : '';
  const partFiles: string[] = [];
  if (alive) {
    for (let i = 0; i < 150; i++) {
      const r = await postJson(port, '/rest-api/recorder/find_all', {});
      if (!listOf(r.json).some((x) => typeof x.mediaSessionId === 'string' && x.mediaSessionId === healthySessionId)) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    const recs = listOf((await postJson(port, '/rest-api/recorder/find_records', { streamName: HEALTHY })).json);
    for (const x of recs) if (typeof x.fileName === 'string') partFiles.push(x.fileName);
  }
  let recordedSeconds = 0;
  for (const f of partFiles) {
    try {
      recordedSeconds += durationOf(path.join(daemon.recordDir, f));
    } catch (err) {
      healthyNote += ` unreadable ${f}: ${(err as Error).message.slice(0, 200)}`;
    }
  }
  if (partFiles.length === 0) healthyNote += ' no record of the healthy stream';
  const healthyOk = healthyNote === '' && Math.abs(recordedSeconds - sentSeconds) <= 1.5;

  const kidsBefore = daemon.children().filter((pid) => commOf(pid) === 'ffmpeg');
  const exit = await daemon.stop('SIGTERM', 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const orphans = [...new Set([...kidsBefore.filter((pid) => commOf(pid) === 'ffmpeg'), ...ffmpegsNaming([daemon.home, `:${daemon.rtmpPort}/`, `:${closedPort}/`])])];
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  const serverErrorLines = daemon.output.split('\n').filter((l) => l.includes('"msg":"Request failed"'));
  const report: FuzzReport = {
    requests: next,
    seconds: (Date.now() - started) / 1000,
    byStatus,
    byKind,
    failures,
    resets,
    daemonAlive: alive,
    daemonExit: String(exit.code ?? exit.signal),
    orphans,
    maxFfmpegChildren,
    pullsTerminated,
    healthy: { ok: healthyOk, sentSeconds, recordedSeconds, parts: partFiles.length, note: healthyNote.trim() },
    serverErrorLines,
  };
  if (failures.length === 0 && healthyOk && orphans.length === 0) fs.rmSync(daemon.home, { recursive: true, force: true });
  return report;
}
