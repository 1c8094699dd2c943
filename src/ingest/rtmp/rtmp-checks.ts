/**
 * Pure checks of what an RTMP client sends, applied by our RTMP session
 * before it uses the input (issue 14; the session layer was
 * node-media-server's until issue 20). Each returns null when the input is acceptable, else
 * the reason in words for the log line; the caller closes the connection.
 */
import querystring from 'node:querystring';
import { checkAmfCommand, checkAmfData } from './amf0-check.js';
import { checkLogin, checkName, checkStreamName, escapeControls, MAX_STREAM_NAME_BYTES } from '../../streams/stream-name.js';

/** Message types (RTMP specification, section 5.4 and 7.1). */
export const RTMP_TYPE = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  amf3Data: 15,
  amf3SharedObject: 16,
  amf3Command: 17,
  amf0Data: 18,
  amf0SharedObject: 19,
  amf0Command: 20,
  aggregate: 22,
} as const;

/** Chunk streams one connection may open (ffmpeg and OBS use fewer than 10). */
export const MAX_CHUNK_STREAMS = 64;
/** Bytes of an AMF command or shared-object message (connect, publish, ... are well under 1 KiB). */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** Bytes of a protocol control or user control message (the largest is 10). */
export const MAX_CONTROL_BYTES = 64;
/** Largest chunk size the specification allows (31 bits). */
export const MAX_CHUNK_SIZE = 0x7fffffff;
/** What node-media-server 4.4.3 accepts in app and stream names (session/rtmp_session.js SAFE_NAME_PATTERN). */
export const NMS_SAFE_NAME = /^[a-zA-Z0-9_-]+$/;
/**
 * Milliseconds a media timestamp may run ahead of the previous one of the same
 * kind on one connection. A publisher that pauses longer is disconnected by
 * rtmp_publisher_idle_timeout anyway; a jump of hours is not media, and past
 * about 13 h it no longer fits a 32-bit sample duration at 90 kHz.
 */
export const MAX_TIMESTAMP_JUMP_MS = 3_600_000;
/** Bytes of the tcUrl of a connect command. */
export const MAX_TC_URL_BYTES = 2048;

const CONTROL_MIN_BYTES: Readonly<Record<number, number>> = {
  [RTMP_TYPE.setChunkSize]: 4,
  [RTMP_TYPE.abort]: 4,
  [RTMP_TYPE.acknowledgement]: 4,
  [RTMP_TYPE.userControl]: 2,
  [RTMP_TYPE.windowAckSize]: 4,
  [RTMP_TYPE.setPeerBandwidth]: 5,
};

const COMMAND_TYPES = new Set<number>([RTMP_TYPE.amf3SharedObject, RTMP_TYPE.amf3Command, RTMP_TYPE.amf0SharedObject, RTMP_TYPE.amf0Command]);

/** The kind of an AMF value, for a reason such as "stream name must be a string (got null)". */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Shows a client-given string in a reason: controls escaped, at most 80 characters. */
export function quote(value: string): string {
  const shown = escapeControls(value);
  return `'${shown.length > 80 ? `${shown.slice(0, 80)}...` : shown}'`;
}

/**
 * A message header (chunk type 0 or 1) as read: its declared length, before
 * any byte of it is buffered.
 */
export function checkMessageHeader(type: number, length: number, maxMessageSize: number): string | null {
  if (length > maxMessageSize) {
    return `message of ${length} bytes (type ${type}) is larger than rtmp_max_message_size (${maxMessageSize})`;
  }
  if (COMMAND_TYPES.has(type) && length > MAX_COMMAND_BYTES) {
    return `command message of ${length} bytes (type ${type}); at most ${MAX_COMMAND_BYTES} are allowed`;
  }
  if (CONTROL_MIN_BYTES[type] !== undefined && length > MAX_CONTROL_BYTES) {
    return `control message of ${length} bytes (type ${type}); at most ${MAX_CONTROL_BYTES} are allowed`;
  }
  return null;
}

/** Video tag header fields the live broadcast (tagKind) and the recorders read. */
function checkVideo(payload: Buffer): string | null {
  if (payload.length === 0) return 'empty video message';
  const isExHeader = (payload[0]! & 0x80) !== 0;
  if (payload.length < 5) return `video message of ${payload.length} bytes; a video tag header needs 5`;
  if (isExHeader) {
    const packetType = payload[0]! & 0x0f;
    const fourCc = payload.toString('latin1', 1, 5);
    // HEVC coded frames carry a 3-byte composition time after the FourCC
    if (fourCc === 'hvc1' && packetType === 1 && payload.length < 8) {
      return `HEVC video message of ${payload.length} bytes; its header needs 8`;
    }
  }
  return null;
}

function checkAudio(payload: Buffer): string | null {
  if (payload.length === 0) return 'empty audio message';
  // AAC: the second byte says sequence header or raw frame
  if (payload[0]! >> 4 === 10 && payload.length < 2) return `AAC audio message of ${payload.length} byte; its header needs 2`;
  return null;
}

/** Messages a publisher sends into its stream (media and metadata): accepted from its publisher only. */
export const STREAM_TYPES = new Set<number>([RTMP_TYPE.audio, RTMP_TYPE.video, RTMP_TYPE.amf0Data, RTMP_TYPE.amf3Data]);

/** A complete message, before the session handles it. `payload` holds exactly the message's bytes. */
export function checkMessage(type: number, payload: Buffer): string | null {
  const minControl = CONTROL_MIN_BYTES[type];
  if (minControl !== undefined && payload.length < minControl) {
    return `control message of ${payload.length} bytes (type ${type}); it needs ${minControl}`;
  }
  switch (type) {
    case RTMP_TYPE.setChunkSize: {
      const size = payload.readUInt32BE(0);
      if (size === 0 || size > MAX_CHUNK_SIZE) return `chunk size ${size} is out of range (1 to ${MAX_CHUNK_SIZE})`;
      return null;
    }
    case RTMP_TYPE.audio:
      return checkAudio(payload);
    case RTMP_TYPE.video:
      return checkVideo(payload);
    case RTMP_TYPE.amf0Data:
      return payload.length === 0 ? 'empty data message' : checkAmfData(payload);
    case RTMP_TYPE.amf3Data:
      return payload.length === 0 ? 'empty data message' : null;
    case RTMP_TYPE.amf0Command:
      return payload.length === 0 ? 'empty command message' : checkAmfCommand(payload);
    case RTMP_TYPE.amf3Command:
      // the session skips the first byte (the AMF3 format marker) and reads AMF0, as node-media-server did
      return payload.length <= 1 ? 'empty command message' : checkAmfCommand(payload.subarray(1));
    default:
      return null;
  }
}

/** A media message's clock against the previous one of its kind (null for the first). */
export function checkTimestampJump(type: number, clock: number, previous: number | null): string | null {
  if (previous === null || clock - previous <= MAX_TIMESTAMP_JUMP_MS) return null;
  return `${type === RTMP_TYPE.audio ? 'audio' : 'video'} timestamp jumps ${clock - previous} ms ahead; at most ${MAX_TIMESTAMP_JUMP_MS} are allowed`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The command object of `connect`: an object with a string app and a parseable tcUrl. */
export function checkConnect(cmdObj: unknown): string | null {
  if (!isRecord(cmdObj)) return `connect without a command object (got ${describeValue(cmdObj)})`;
  const app = cmdObj['app'];
  const appCheck = checkName(app, 'app name', MAX_STREAM_NAME_BYTES);
  if (!appCheck.ok) return `connect refused: ${appCheck.reason}${typeof app === 'string' ? '' : ` (got ${describeValue(app)})`}`;
  if (!NMS_SAFE_NAME.test(appCheck.value)) return `connect refused: app name ${quote(appCheck.value)} may hold only A-Z a-z 0-9 _ -`;
  const tcUrl = cmdObj['tcUrl'];
  if (typeof tcUrl !== 'string') return `connect without a tcUrl (got ${describeValue(tcUrl)})`;
  if (Buffer.byteLength(tcUrl) > MAX_TC_URL_BYTES) return `connect with a tcUrl of ${Buffer.byteLength(tcUrl)} bytes; at most ${MAX_TC_URL_BYTES}`;
  try {
    new URL(tcUrl);
  } catch {
    return `connect with a tcUrl that is not a URL: ${quote(tcUrl)}`;
  }
  return null;
}

export type StreamTarget =
  | { readonly ok: true; readonly name: string; readonly login: string; readonly token: string | null }
  | { readonly ok: false; readonly reason: string };

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The stream-name argument of `publish` or `play` ("NAME" or
 * "NAME?login=..&token=..&record=.."), split at '?' as node-media-server
 * did (so clients made for it keep working), then held to our rule for
 * names and logins.
 */
export function checkStreamTarget(raw: unknown, command: 'publish' | 'play'): StreamTarget {
  if (typeof raw !== 'string') return { ok: false, reason: `${command} refused: stream name must be a string (got ${describeValue(raw)})` };
  const parts = raw.split('?');
  const name = checkStreamName(parts[0]);
  if (!name.ok) return { ok: false, reason: `${command} refused: ${name.reason}` };
  if (!NMS_SAFE_NAME.test(name.value)) {
    return { ok: false, reason: `${command} refused: stream name ${quote(name.value)} may hold only A-Z a-z 0-9 _ -` };
  }
  const query = querystring.parse(parts[1] ?? '');
  const login = checkLogin(firstValue(query['login']) ?? '');
  if (!login.ok) return { ok: false, reason: `${command} of ${quote(name.value)} refused: ${login.reason}` };
  return { ok: true, name: name.value, login: login.value, token: firstValue(query['token']) ?? null };
}
