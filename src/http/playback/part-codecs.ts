import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { findChild, parseBoxes, type BoxNode } from '../../recording/mp4/box-tree.js';
import { topLevelBoxes } from '../../recording/mp4-boxes.js';

/**
 * What must be equal for two MP4 parts to be joined by stream copy: per
 * track its kind, codec, picture size and the whole sample description
 * (`stsd`: avcC with SPS/PPS, esds with the AudioSpecificConfig…). Read from
 * the part's moov, in-process, without ffprobe.
 */
export interface TrackSignature {
  /** The handler: 'vide', 'soun', … */
  readonly handler: string;
  /** The sample entry's four-character code: 'avc1', 'mp4a', … */
  readonly codec: string;
  readonly width: number | null;
  readonly height: number | null;
  /** sha256 of the codec configuration (avcC with SPS/PPS, AudioSpecificConfig…): equal bytes, equal parameters. */
  readonly descriptionHash: string;
}

export type PartSignature = readonly TrackSignature[];

export class PartReadError extends Error {}

/** A moov larger than this is not a record part (1 hour of 720p is about 1.3 MB). */
const MAX_MOOV_BYTES = 64 * 1024 * 1024;

/** Reads an MPEG-4 descriptor length (1 to 4 bytes, 7 bits each); returns [length, bytes used]. */
function descriptorLength(buf: Buffer, at: number): [number, number] {
  let len = 0;
  for (let i = 0; i < 4 && at + i < buf.length; i++) {
    const b = buf[at + i]!;
    len = (len << 7) | (b & 0x7f);
    if ((b & 0x80) === 0) return [len, i + 1];
  }
  return [len, 4];
}

/**
 * The codec-defining bytes of an esds: the object type and the
 * DecoderSpecificInfo (AudioSpecificConfig), without the bitrates that
 * differ from file to file.
 */
function esdsConfig(esds: Buffer): Buffer {
  let at = 4; // version and flags
  if (esds[at] !== 0x03) return esds;
  const [, n3] = descriptorLength(esds, at + 1);
  at += 1 + n3;
  const flags = esds[at + 2] ?? 0;
  at += 3;
  if (flags & 0x80) at += 2;
  if (flags & 0x40) at += 1 + (esds[at] ?? 0);
  if (flags & 0x20) at += 2;
  if (esds[at] !== 0x04) return esds;
  const [, n4] = descriptorLength(esds, at + 1);
  at += 1 + n4;
  const objectType = esds.subarray(at, at + 2); // objectTypeIndication, streamType
  at += 13;
  if (esds[at] !== 0x05) return objectType;
  const [len5, n5] = descriptorLength(esds, at + 1);
  return Buffer.concat([objectType, esds.subarray(at + 1 + n5, at + 1 + n5 + len5)]);
}

/** Size of a sample entry's fixed fields after its box header: visual 78, audio 28. */
function entryFieldsSize(handler: string): number | null {
  return handler === 'vide' ? 78 : handler === 'soun' ? 28 : null;
}

/**
 * The bytes that define the codec of a sample entry: its codec configuration
 * boxes (avcC, hvcC, esds' AudioSpecificConfig, dOps…); the btrt bitrate box
 * and the entry's names are left out, they differ between equal streams.
 */
function entryConfig(entry: Buffer, handler: string): Buffer {
  const fields = entryFieldsSize(handler);
  if (fields === null || entry.length < 8 + fields) return entry;
  const parts: Buffer[] = [];
  if (handler === 'soun') parts.push(entry.subarray(8 + 16, 8 + 28)); // channels, sample size, rate
  let at = 8 + fields;
  while (at + 8 <= entry.length) {
    const size = entry.readUInt32BE(at);
    const type = entry.toString('latin1', at + 4, at + 8);
    if (size < 8 || at + size > entry.length) break;
    const body = entry.subarray(at + 8, at + size);
    if (type === 'esds') parts.push(Buffer.from(type), esdsConfig(body));
    else if (type !== 'btrt') parts.push(Buffer.from(type), body);
    at += size;
  }
  return Buffer.concat(parts);
}

function trackSignature(trak: BoxNode): TrackSignature | null {
  const mdia = findChild(trak, 'mdia');
  const hdlr = mdia && findChild(mdia, 'hdlr')?.payload;
  const minf = mdia && findChild(mdia, 'minf');
  const stbl = minf && findChild(minf, 'stbl');
  const desc = stbl && findChild(stbl, 'stsd')?.payload;
  if (!hdlr || hdlr.length < 12 || !desc || desc.length < 16) return null;
  const handler = hdlr.toString('latin1', 8, 12);
  // stsd: version/flags (4), entry count (4), then the first entry: size (4), type (4), fields, child boxes
  const entrySize = desc.readUInt32BE(8);
  const entry = desc.subarray(8, Math.min(desc.length, 8 + entrySize));
  const codec = entry.toString('latin1', 4, 8);
  let width: number | null = null;
  let height: number | null = null;
  // a visual sample entry: 6 reserved + 2 data_reference_index + 16 predefined/reserved, then width and height
  if (handler === 'vide' && entry.length >= 8 + 28) {
    width = entry.readUInt16BE(8 + 24);
    height = entry.readUInt16BE(8 + 26);
  }
  const config = entryConfig(entry, handler);
  return { handler, codec, width, height, descriptionHash: createHash('sha256').update(config).digest('hex') };
}

/** The tracks of an MP4 part as they bear on joining it to another. */
export async function readPartSignature(file: string): Promise<PartSignature> {
  let boxes;
  try {
    boxes = await topLevelBoxes(file);
  } catch (err) {
    throw new PartReadError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const moov = boxes.find((b) => b.type === 'moov');
  if (!moov) throw new PartReadError(`${file} has no moov box`);
  if (moov.size > MAX_MOOV_BYTES) throw new PartReadError(`${file}: moov of ${moov.size} bytes is too large`);
  const handle = await fs.promises.open(file, 'r');
  let buf: Buffer;
  try {
    buf = Buffer.alloc(moov.size);
    await handle.read(buf, 0, moov.size, moov.offset);
  } finally {
    await handle.close();
  }
  let root: BoxNode | undefined;
  try {
    root = parseBoxes(buf)[0];
  } catch (err) {
    throw new PartReadError(`${file}: moov cannot be parsed: ${(err as Error).message}`);
  }
  if (!root) throw new PartReadError(`${file}: empty moov`);
  return signatureOfMoov(root, file);
}

/** The signature of a parsed moov (`file` names it in errors). */
export function signatureOfMoov(moov: BoxNode, file: string): PartSignature {
  const tracks = (moov.children ?? []).filter((c) => c.type === 'trak').map(trackSignature);
  if (tracks.length === 0 || tracks.some((t) => t === null)) throw new PartReadError(`${file}: a track has no sample description`);
  return tracks as TrackSignature[];
}

function describeTrack(t: TrackSignature): string {
  const kind = t.handler === 'vide' ? 'video' : t.handler === 'soun' ? 'audio' : t.handler;
  return t.width !== null && t.height !== null ? `${kind} ${t.codec} ${t.width}x${t.height}` : `${kind} ${t.codec}`;
}

/** Why part `b` cannot follow part `a` by stream copy, or null when it can (pure). */
export function signatureDifference(a: PartSignature, b: PartSignature): string | null {
  if (a.length !== b.length) return `tracks ${a.map(describeTrack).join(' + ')} -> ${b.map(describeTrack).join(' + ')}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.handler !== y.handler || x.codec !== y.codec || x.width !== y.width || x.height !== y.height) {
      return `${describeTrack(x)} -> ${describeTrack(y)}`;
    }
    if (x.descriptionHash !== y.descriptionHash) return `${describeTrack(x)}: codec parameters (SPS/PPS or audio configuration) differ`;
  }
  return null;
}
