/**
 * A seeded, bounded RTMP fuzzer (issue 14). Each case is a valid publish
 * session (handshake, connect, createStream, publish, metadata, real media
 * tags from a clip) with a few mutations at the message level (AMF commands
 * and values, media payloads, timestamps, types, lengths, chunk size,
 * control messages) and at the chunk level (header formats, chunk stream
 * ids, chunk size, bytes flipped, inserted, cut), then split into writes at
 * random points. The same seed gives the same bytes.
 */
import { AmfRaw, amf0, amf0All, basicHeader, command, connectCommand, HANDSHAKE_SIZE, OMIT, playCommand, publishCommand, setChunkSize, type AmfValue, type FlvTag, type RtmpMessage } from './rtmp-wire.js';

/** mulberry32: small, fast, good enough to pick mutations. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export interface FuzzCase {
  readonly index: number;
  readonly seed: number;
  /** Names of the mutations applied, for the report. */
  readonly mutations: readonly string[];
  /** The bytes to send, in order, one write each. */
  readonly writes: readonly Buffer[];
}

/** Media of a valid publish: the first tags of a clip (sequence headers and a keyframe first). */
export interface FuzzCorpus {
  readonly tags: readonly FlvTag[];
}

const ODD_STRINGS = ['', 'play', 'publish', 'connect', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'deleteStream', 'createStream', '\u0000', 'x'.repeat(300), '../../etc/passwd', 'a\nb', 'é😀', '\ud800'];

function randomAmf(rng: Rng, depth = 0): AmfValue {
  switch (rng.int(depth > 3 ? 6 : 10)) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return rng.pick([0, -1, 1e308, Number.NaN, 2 ** 53, 0.5]);
    case 3:
      return rng.chance(0.5);
    case 4:
      return rng.pick(ODD_STRINGS);
    case 5:
      return new AmfRaw(rng.bytes(rng.int(12)));
    case 6:
      return { [rng.pick(ODD_STRINGS)]: randomAmf(rng, depth + 1), app: randomAmf(rng, depth + 1) };
    case 7:
      return [randomAmf(rng, depth + 1), randomAmf(rng, depth + 1)];
    case 8:
      // deep nesting: objects in objects
      return new AmfRaw(Buffer.concat([...Array.from({ length: 2000 }, () => Buffer.from([0x03, 0x00, 0x01, 0x61])), Buffer.from([0x05])]));
    default:
      // an AMF marker with no or a short body
      return new AmfRaw(Buffer.from([rng.int(20), ...rng.bytes(rng.int(4))]));
  }
}

function isCommand(m: RtmpMessage, name?: string): boolean {
  if (m.type !== 20) return false;
  if (name === undefined) return true;
  return m.payload.length > 3 && m.payload.toString('utf8', 3, 3 + m.payload.readUInt16BE(1)) === name;
}

function isMedia(m: RtmpMessage): boolean {
  return m.type === 8 || m.type === 9;
}

type Mutation = (rng: Rng, messages: RtmpMessage[], ctx: { port: number; name: string }) => void;

function pickIndex(rng: Rng, messages: RtmpMessage[], where: (m: RtmpMessage) => boolean): number {
  const idx = messages.map((m, i) => (where(m) ? i : -1)).filter((i) => i >= 0);
  return idx.length === 0 ? -1 : rng.pick(idx);
}

/** Message-level mutations: what a client may say in well-formed chunks. */
const MESSAGE_MUTATIONS: Record<string, Mutation> = {
  connectFields(rng, messages, ctx) {
    const i = pickIndex(rng, messages, (m) => isCommand(m, 'connect'));
    if (i < 0) return;
    const app = rng.chance(0.5) ? randomAmf(rng) : 'live';
    const tcUrl = rng.chance(0.3) ? OMIT : rng.chance(0.5) ? randomAmf(rng) : `rtmp://127.0.0.1:${ctx.port}/live`;
    messages[i] = rng.chance(0.2) ? command('connect', 1, randomAmf(rng)) : connectCommand(app, tcUrl);
  },
  publishName(rng, messages) {
    const i = pickIndex(rng, messages, (m) => isCommand(m, 'publish'));
    if (i < 0) return;
    messages[i] = publishCommand(rng.chance(0.7) ? randomAmf(rng) : `${rng.pick(ODD_STRINGS)}?login=${rng.pick(ODD_STRINGS)}`);
  },
  commandName(rng, messages) {
    const i = pickIndex(rng, messages, (m) => isCommand(m));
    if (i < 0) return;
    messages[i] = { ...messages[i]!, payload: amf0All([rng.pick(ODD_STRINGS), 1, randomAmf(rng), randomAmf(rng)]) };
  },
  amfGarbage(rng, messages) {
    const i = pickIndex(rng, messages, (m) => m.type === 20 || m.type === 18);
    if (i < 0) return;
    const m = messages[i]!;
    const cut = rng.int(m.payload.length + 1);
    const payload = rng.chance(0.5)
      ? Buffer.concat([m.payload.subarray(0, cut), rng.bytes(rng.int(16))])
      : Buffer.concat([m.payload.subarray(0, cut), amf0(randomAmf(rng)), m.payload.subarray(cut)]);
    messages[i] = { ...m, payload };
  },
  mediaTruncate(rng, messages) {
    const i = pickIndex(rng, messages, isMedia);
    if (i < 0) return;
    messages[i] = { ...messages[i]!, payload: messages[i]!.payload.subarray(0, rng.int(8)) };
  },
  mediaFlip(rng, messages) {
    for (let n = 1 + rng.int(4); n > 0; n--) {
      const i = pickIndex(rng, messages, isMedia);
      if (i < 0) return;
      const payload = Buffer.from(messages[i]!.payload);
      if (payload.length === 0) continue;
      // the headers (first bytes, sequence headers) matter most
      const at = rng.chance(0.7) ? rng.int(Math.min(payload.length, 40)) : rng.int(payload.length);
      payload[at] = payload[at]! ^ (1 << rng.int(8));
      messages[i] = { ...messages[i]!, payload };
    }
  },
  mediaRandom(rng, messages) {
    const i = pickIndex(rng, messages, isMedia);
    if (i < 0) return;
    const head = messages[i]!.payload.subarray(0, rng.int(3));
    messages[i] = { ...messages[i]!, payload: Buffer.concat([head, rng.bytes(rng.int(200))]) };
  },
  videoExHeader(rng, messages) {
    const i = pickIndex(rng, messages, (m) => m.type === 9);
    if (i < 0) return;
    const fourCc = Buffer.from(rng.pick(['hvc1', 'av01', 'vp09', 'avc1']));
    const payload = Buffer.concat([Buffer.from([0x80 | (rng.int(8) << 4) | rng.int(16)]), fourCc, messages[i]!.payload.subarray(rng.int(8))]);
    messages[i] = { ...messages[i]!, payload: payload.subarray(0, rng.chance(0.5) ? rng.int(10) : payload.length) };
  },
  timestamps(rng, messages) {
    for (const m of messages) {
      if (!rng.chance(0.3)) continue;
      m.timestamp = rng.pick([0, 0xffffff, 0xfffffe, 0x1000000, 0xffffffff, 0x7fffffff, rng.int(0xffffffff)]);
    }
  },
  messageType(rng, messages) {
    const i = rng.int(messages.length);
    messages[i] = { ...messages[i]!, type: rng.chance(0.5) ? rng.int(256) : rng.pick([1, 2, 3, 4, 5, 6, 15, 16, 17, 19, 22]) };
  },
  streamId(rng, messages) {
    const i = rng.int(messages.length);
    messages[i] = { ...messages[i]!, streamId: rng.pick([0, 2, 0xffffffff, rng.int(0xffffffff)]) };
  },
  declaredLength(rng, messages) {
    const i = rng.int(messages.length);
    const m = messages[i]!;
    messages[i] = { ...m, declaredLength: rng.pick([0, 1, Math.max(0, m.payload.length - 1 - rng.int(10)), m.payload.length + 1 + rng.int(100), 0xffffff, 4 * 1024 * 1024 + 1]) };
  },
  chunkSizeMessage(rng, messages) {
    const size = rng.pick([0, 1, 2, 127, 0x7fffffff, 0x80000000, 0xffffffff, rng.int(0xffffffff)]);
    const m = setChunkSize(size);
    messages.splice(1 + rng.int(messages.length - 1), 0, rng.chance(0.2) ? { ...m, payload: m.payload.subarray(0, rng.int(4)) } : m);
  },
  controlShort(rng, messages) {
    const type = rng.pick([1, 2, 3, 4, 5, 6]);
    messages.splice(rng.int(messages.length + 1), 0, { csid: 2, type, streamId: 0, timestamp: 0, payload: rng.bytes(rng.int(7)) });
  },
  metadata(rng, messages) {
    const i = pickIndex(rng, messages, (m) => m.type === 18);
    if (i < 0) return;
    messages[i] = { ...messages[i]!, payload: amf0All([rng.pick(['@setDataFrame', 'onMetaData', 'onFI', '|RtmpSampleAccess', 'x']), rng.pick(['onMetaData', null]), randomAmf(rng)]) };
  },
  repeatCommand(rng, messages, ctx) {
    const extra = rng.pick([
      connectCommand('live', `rtmp://127.0.0.1:${ctx.port}/live`),
      publishCommand(`${ctx.name}_again`),
      publishCommand(ctx.name),
      playCommand(ctx.name),
      command('deleteStream', 9, null, 1),
      command('createStream', 9, null),
    ]);
    messages.splice(1 + rng.int(messages.length - 1), 0, extra);
  },
  publishTaken(_rng, messages) {
    // the campaign's healthy stream is live: a second publisher of its name
    const i = pickIndex(_rng, messages, (m) => isCommand(m, 'publish'));
    if (i >= 0) messages[i] = publishCommand('healthy');
  },
  publishToPlay(rng, messages, ctx) {
    const i = pickIndex(rng, messages, (m) => isCommand(m, 'publish'));
    if (i >= 0) messages[i] = playCommand(rng.chance(0.5) ? 'healthy' : ctx.name);
  },
  manyChunkStreams(rng, messages) {
    const n = rng.pick([10, 70, 300]);
    for (let k = 0; k < n; k++) {
      messages.splice(1 + rng.int(messages.length - 1), 0, { csid: 3 + rng.int(65597), type: rng.pick([8, 9, 18]), streamId: 1, timestamp: k, payload: rng.bytes(rng.int(20)) });
    }
  },
  bigMessages(rng, messages) {
    for (let k = 1 + rng.int(3); k > 0; k--) {
      messages.splice(1 + rng.int(messages.length - 1), 0, { csid: 20 + k, type: 9, streamId: 1, timestamp: 0, payload: rng.bytes(64), declaredLength: rng.pick([3 * 1024 * 1024, 0xffffff]) });
    }
  },
};

/** Chunks messages, sometimes with compressed (type 1-3) headers and the wrong chunk size. */
function serialize(rng: Rng, messages: readonly RtmpMessage[], mutations: string[]): Buffer {
  const parts: Buffer[] = [];
  let size = 128;
  const wrongFmt = rng.chance(0.1);
  const wrongSize = rng.chance(0.05);
  if (wrongFmt) mutations.push('chunkHeaderFormat');
  if (wrongSize) mutations.push('chunkSizeMismatch');
  const last = new Map<number, RtmpMessage>();
  for (const m of messages) {
    const length = m.declaredLength ?? m.payload.length;
    const prev = last.get(m.csid);
    let fmt = 0;
    // type 1 and 2 headers carry a timestamp delta from the previous message of the chunk stream
    const delta = prev ? m.timestamp - prev.timestamp : -1;
    if (prev && prev.streamId === m.streamId && delta >= 0 && m.timestamp < 0xffffff) {
      fmt = prev.type === m.type && (prev.declaredLength ?? prev.payload.length) === length ? 2 : 1;
    }
    if (wrongFmt && rng.chance(0.3)) fmt = rng.int(4);
    last.set(m.csid, m);
    const stamp = fmt === 0 ? m.timestamp : Math.max(0, delta);
    const extended = stamp >= 0xffffff;
    const header = Buffer.alloc([11, 7, 3, 0][fmt]!);
    if (fmt <= 2) header.writeUIntBE(extended ? 0xffffff : stamp, 0, 3);
    if (fmt <= 1) {
      header.writeUIntBE(length & 0xffffff, 3, 3);
      header[6] = m.type & 0xff;
    }
    if (fmt === 0) header.writeUInt32LE(m.streamId >>> 0, 7);
    const ext = extended ? Buffer.from([stamp >>> 24, (stamp >>> 16) & 0xff, (stamp >>> 8) & 0xff, stamp & 0xff]) : Buffer.alloc(0);
    const step = wrongSize && rng.chance(0.5) ? 1 + rng.int(300) : size;
    parts.push(basicHeader(fmt, m.csid), header, ext);
    for (let off = 0; off < m.payload.length; off += step) {
      if (off > 0) parts.push(basicHeader(3, m.csid), ext);
      parts.push(m.payload.subarray(off, off + step));
    }
    if (m.type === 1 && m.payload.length >= 4) size = Math.max(1, Math.min(m.payload.readUInt32BE(0), 1 << 20));
  }
  return Buffer.concat(parts);
}

/** Byte-level mutations on the chunk stream. */
function mutateBytes(rng: Rng, bytes: Buffer, mutations: string[]): Buffer {
  let out = bytes;
  for (let n = rng.int(3); n > 0; n--) {
    const kind = rng.int(4);
    const at = rng.int(out.length + 1);
    if (kind === 0) {
      mutations.push('byteFlip');
      out = Buffer.from(out);
      for (let k = 1 + rng.int(8); k > 0 && out.length > 0; k--) {
        const i = rng.int(out.length);
        out[i] = out[i]! ^ (1 << rng.int(8));
      }
    } else if (kind === 1) {
      mutations.push('bytesInserted');
      out = Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(32)), out.subarray(at)]);
    } else if (kind === 2) {
      mutations.push('bytesDeleted');
      out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rng.int(32))]);
    } else {
      mutations.push('truncated');
      out = out.subarray(0, at);
    }
  }
  return out;
}

function handshake(rng: Rng, mutations: string[]): Buffer {
  const c0 = Buffer.from([3]);
  const c1 = Buffer.concat([Buffer.alloc(8), rng.bytes(HANDSHAKE_SIZE - 8)]);
  const c2 = rng.bytes(HANDSHAKE_SIZE);
  if (rng.chance(0.05)) {
    mutations.push('handshake');
    switch (rng.int(3)) {
      case 0:
        c0[0] = rng.int(256);
        break;
      case 1:
        return Buffer.concat([c0, c1.subarray(0, rng.int(HANDSHAKE_SIZE))]);
      default:
        // a C1 whose digest offsets point at its ends
        c1.fill(0xff, 8, 12);
        c1.fill(0xff, 772, 776);
    }
  }
  return Buffer.concat([c0, c1, c2]);
}

/** Builds case `index` of the campaign seeded with `seed`. */
export function buildFuzzCase(seed: number, index: number, corpus: FuzzCorpus, port: number): FuzzCase {
  const caseSeed = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  const rng = new Rng(caseSeed);
  const name = `fz_${seed}_${index}`;
  const mutations: string[] = [];
  const chunkSize = rng.pick([128, 4096, 60000]);
  const query = rng.chance(0.25) ? '' : '?record=false';
  const messages: RtmpMessage[] = [
    setChunkSize(chunkSize),
    connectCommand('live', `rtmp://127.0.0.1:${port}/live`),
    command('releaseStream', 2, null, name),
    command('FCPublish', 3, null, name),
    command('createStream', 4, null),
    publishCommand(`${name}${query}`),
    { csid: 6, type: 18, streamId: 1, timestamp: 0, payload: amf0All(['@setDataFrame', 'onMetaData', { width: 640, height: 360, videocodecid: 7, audiocodecid: 10, stereo: true }]) },
  ];
  const count = 2 + rng.int(Math.min(40, corpus.tags.length));
  for (const tag of corpus.tags.slice(0, count)) {
    if (tag.type === 8 || tag.type === 9) messages.push({ csid: tag.type === 8 ? 4 : 6, type: tag.type, streamId: 1, timestamp: tag.timestamp, payload: tag.data });
  }
  const names = Object.keys(MESSAGE_MUTATIONS);
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const which = rng.pick(names);
    mutations.push(which);
    MESSAGE_MUTATIONS[which]!(rng, messages, { port, name });
  }
  const body = mutateBytes(rng, serialize(rng, messages, mutations), mutations);
  const bytes = Buffer.concat([handshake(rng, mutations), body]);
  const writes: Buffer[] = [];
  let off = 0;
  for (let pieces = 1 + rng.int(6); pieces > 1 && off < bytes.length; pieces--) {
    const end = off + 1 + rng.int(bytes.length - off);
    writes.push(bytes.subarray(off, end));
    off = end;
  }
  if (off < bytes.length) writes.push(bytes.subarray(off));
  return { index, seed: caseSeed, mutations, writes };
}
