/**
 * The RTMP handshake, server side: the simple one (S1 and S2 echo C1) and the
 * Flash digest one that librtmp and Flash clients send, the same answers as
 * node-media-server 4.4.3 (protocol/rtmp.js generateS0S1S2, which it does
 * not export; the algorithm is the one every RTMP server uses).
 */
import crypto from 'node:crypto';

export const HANDSHAKE_SIZE = 1536;
const SHA256_SIZE = 32;

const RANDOM_CRUD = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
  0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
const GENUINE_FMS = 'Genuine Adobe Flash Media Server 001';
const GENUINE_FMS_CRUD = Buffer.concat([Buffer.from(GENUINE_FMS, 'utf8'), RANDOM_CRUD]);
export const GENUINE_FP = 'Genuine Adobe Flash Player 001';

function hmac(data: Buffer, key: Buffer | string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** Digest offset of scheme 1 (digest in the first half of C1/S1). */
export function clientDigestOffset(sig: Buffer): number {
  return ((sig[8]! + sig[9]! + sig[10]! + sig[11]!) % 728) + 12;
}

/** Digest offset of scheme 2 (digest in the second half). */
export function serverDigestOffset(sig: Buffer): number {
  return ((sig[772]! + sig[773]! + sig[774]! + sig[775]!) % 728) + 776;
}

/** HMAC of the 1536 bytes without the 32 at `offset`. */
export function digestAt(sig: Buffer, offset: number, key: Buffer | string): Buffer {
  return hmac(Buffer.concat([sig.subarray(0, offset), sig.subarray(offset + SHA256_SIZE)], HANDSHAKE_SIZE - SHA256_SIZE), key);
}

/** 0: simple handshake; 1 or 2: the digest scheme C1 uses. */
export function clientScheme(c1: Buffer): 0 | 1 | 2 {
  let at = serverDigestOffset(c1);
  if (digestAt(c1, at, GENUINE_FP).equals(c1.subarray(at, at + SHA256_SIZE))) return 2;
  at = clientDigestOffset(c1);
  if (digestAt(c1, at, GENUINE_FP).equals(c1.subarray(at, at + SHA256_SIZE))) return 1;
  return 0;
}

function makeS1(scheme: 1 | 2): Buffer {
  const s1 = Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 2, 3, 4]), crypto.randomBytes(HANDSHAKE_SIZE - 8)], HANDSHAKE_SIZE);
  const at = scheme === 1 ? clientDigestOffset(s1) : serverDigestOffset(s1);
  digestAt(s1, at, GENUINE_FMS).copy(s1, at);
  return s1;
}

function makeS2(scheme: 1 | 2, c1: Buffer): Buffer {
  const random = crypto.randomBytes(HANDSHAKE_SIZE - SHA256_SIZE);
  const at = scheme === 1 ? clientDigestOffset(c1) : serverDigestOffset(c1);
  const key = hmac(c1.subarray(at, at + SHA256_SIZE), GENUINE_FMS_CRUD);
  return Buffer.concat([random, hmac(random, key)], HANDSHAKE_SIZE);
}

/** S0 + S1 + S2 for a client's C1. */
export function answerC1(c1: Buffer): Buffer {
  const scheme = clientScheme(c1);
  const s0 = Buffer.from([3]);
  if (scheme === 0) return Buffer.concat([s0, c1, c1]);
  return Buffer.concat([s0, makeS1(scheme), makeS2(scheme, c1)]);
}

/**
 * Reads C0 + C1 (answering them) and C2 (ignored), then says where the
 * chunk stream begins in the bytes it was given.
 */
export class HandshakeReader {
  readonly #c1 = Buffer.alloc(HANDSHAKE_SIZE);
  /** Bytes of C0 + C1 + C2 read so far. */
  #read = 0;

  constructor(private readonly send: (answer: Buffer) => void) {}

  get done(): boolean {
    return this.#read === 1 + 2 * HANDSHAKE_SIZE;
  }

  /** Consumes handshake bytes from `data` (up to `end`); returns the offset of the first byte after the handshake (`end` when it goes on). */
  push(data: Buffer, end = data.length): number {
    let off = 0;
    while (off < end && !this.done) {
      if (this.#read === 0) {
        // C0: the version byte (3); node-media-server does not check it either
        this.#read = 1;
        off += 1;
        continue;
      }
      const inC1 = this.#read <= HANDSHAKE_SIZE;
      const left = inC1 ? 1 + HANDSHAKE_SIZE - this.#read : 1 + 2 * HANDSHAKE_SIZE - this.#read;
      const n = Math.min(left, end - off);
      if (inC1) data.copy(this.#c1, this.#read - 1, off, off + n);
      this.#read += n;
      off += n;
      if (inC1 && this.#read === 1 + HANDSHAKE_SIZE) this.send(answerC1(this.#c1));
    }
    return off;
  }
}
