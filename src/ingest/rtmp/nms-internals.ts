/**
 * What we still take from node-media-server (pinned to 4.4.3 in
 * package.json): its AMF0 codec and its H.264 SPS reader, called as a
 * library. Its RTMP session layer (chunk parser, session, broadcast) is
 * ours since issue 20 (chunk-reader.ts, rtmp-connection.ts, live-broadcast.ts).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const NMS_VERSION = '4.4.3';

const pkg = require('node-media-server/package.json') as { version: string };
if (pkg.version !== NMS_VERSION) {
  throw new Error(`node-media-server ${NMS_VERSION} is required (found ${pkg.version}); the modules we call are pinned`);
}

/** A decoded AMF0 command (fields as sent: any AMF value). */
export interface AmfCommand {
  cmd?: unknown;
  transId?: unknown;
  cmdObj?: unknown;
  streamName?: unknown;
  [field: string]: unknown;
}

/** A decoded AMF0 data message: `@setDataFrame` puts the metadata in dataObj, as does `onMetaData`. */
export interface AmfData {
  cmd?: unknown;
  dataObj?: unknown;
  [field: string]: unknown;
}

const amf = require('node-media-server/src/protocol/amf.js') as {
  decodeAmf0Cmd(buf: Buffer): AmfCommand;
  encodeAmf0Cmd(opt: Record<string, unknown>): Buffer;
  decodeAmf0Data(buf: Buffer): AmfData;
  encodeAmf0Data(opt: Record<string, unknown>): Buffer;
};

/** Decodes a command message; only after checkAmfCommand accepted it (amf0-check.ts). */
export const decodeAmf0Cmd = amf.decodeAmf0Cmd;
export const encodeAmf0Cmd = amf.encodeAmf0Cmd;
/** Decodes a data message; only after checkAmfData accepted it. */
export const decodeAmf0Data = amf.decodeAmf0Data;
export const encodeAmf0Data = amf.encodeAmf0Data;

const { parseH264Sps } = require('node-media-server/src/protocol/sps_info.js') as {
  parseH264Sps(sps: Buffer): { width: number; height: number } | null;
};

export { parseH264Sps };
