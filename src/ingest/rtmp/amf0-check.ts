/**
 * A bounds-checked walk over AMF0 values (the AMF0 specification, 2.x),
 * run on command and data messages before node-media-server's decoder,
 * which reads past the end of a short value, returns null for a marker it
 * does not know and then dereferences it, and recurses without a limit.
 * Only the markers node-media-server decodes as the specification says are
 * accepted; real clients send nothing else in commands and metadata.
 */

/** Nesting of objects and arrays (ffmpeg, OBS: 2). */
export const MAX_AMF_DEPTH = 16;

export const AMF0 = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  null: 0x05,
  undefined: 0x06,
  reference: 0x07,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  date: 0x0b,
  longString: 0x0c,
  typedObject: 0x10,
} as const;

class AmfError extends Error {}

/** A value's marker and where it starts, as the walk met it at the top level. */
export interface AmfTopValue {
  readonly marker: number;
  readonly offset: number;
}

function need(buf: Buffer, offset: number, bytes: number, what: string): void {
  if (offset + bytes > buf.length) throw new AmfError(`${what} at byte ${offset} runs past the end of the message`);
}

/** Properties up to the empty key and object-end marker; returns the offset after them. */
function skipProperties(buf: Buffer, offset: number, depth: number): number {
  let at = offset;
  for (;;) {
    need(buf, at, 2, 'property name');
    const keyLength = buf.readUInt16BE(at);
    need(buf, at + 2, keyLength, 'property name');
    at += 2 + keyLength;
    if (keyLength === 0) {
      need(buf, at, 1, 'object end');
      if (buf[at] !== AMF0.objectEnd) throw new AmfError(`empty property name without object end at byte ${at - 2}`);
      return at + 1;
    }
    at = skipValue(buf, at, depth);
  }
}

function skipValue(buf: Buffer, offset: number, depth: number): number {
  if (depth > MAX_AMF_DEPTH) throw new AmfError(`values nested deeper than ${MAX_AMF_DEPTH}`);
  need(buf, offset, 1, 'value');
  const marker = buf[offset]!;
  const at = offset + 1;
  switch (marker) {
    case AMF0.number:
      need(buf, at, 8, 'number');
      return at + 8;
    case AMF0.boolean:
      need(buf, at, 1, 'boolean');
      return at + 1;
    case AMF0.string: {
      need(buf, at, 2, 'string');
      const n = buf.readUInt16BE(at);
      need(buf, at + 2, n, 'string');
      return at + 2 + n;
    }
    case AMF0.longString: {
      need(buf, at, 4, 'long string');
      const n = buf.readUInt32BE(at);
      need(buf, at + 4, n, 'long string');
      return at + 4 + n;
    }
    case AMF0.null:
    case AMF0.undefined:
      return at;
    case AMF0.reference:
      need(buf, at, 2, 'reference');
      return at + 2;
    case AMF0.date:
      need(buf, at, 10, 'date');
      return at + 10;
    case AMF0.object:
      return skipProperties(buf, at, depth + 1);
    case AMF0.ecmaArray:
      need(buf, at, 4, 'ECMA array');
      return skipProperties(buf, at + 4, depth + 1);
    case AMF0.typedObject: {
      need(buf, at, 2, 'class name');
      const n = buf.readUInt16BE(at);
      need(buf, at + 2, n, 'class name');
      return skipProperties(buf, at + 2 + n, depth + 1);
    }
    case AMF0.strictArray: {
      need(buf, at, 4, 'strict array');
      const count = buf.readUInt32BE(at);
      // every value takes at least one byte
      if (count > buf.length - at - 4) throw new AmfError(`strict array of ${count} values in ${buf.length - at - 4} bytes`);
      let p = at + 4;
      for (let i = 0; i < count; i++) p = skipValue(buf, p, depth + 1);
      return p;
    }
    default:
      throw new AmfError(`AMF0 marker 0x${marker.toString(16).padStart(2, '0')} at byte ${offset} is not accepted`);
  }
}

/**
 * Walks a message of AMF0 values to its end. Returns the top-level values
 * (marker and offset), or the reason the message is malformed.
 */
export function walkAmf0(buf: Buffer): { readonly ok: true; readonly values: AmfTopValue[] } | { readonly ok: false; readonly reason: string } {
  const values: AmfTopValue[] = [];
  let at = 0;
  try {
    while (at < buf.length) {
      values.push({ marker: buf[at]!, offset: at });
      at = skipValue(buf, at, 0);
    }
  } catch (err) {
    if (err instanceof AmfError) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, values };
}

/** The string at a top-level value, or null when it is not an AMF0 string. */
export function amfStringAt(buf: Buffer, value: AmfTopValue | undefined): string | null {
  if (!value || value.marker !== AMF0.string) return null;
  const n = buf.readUInt16BE(value.offset + 1);
  return buf.toString('utf8', value.offset + 3, value.offset + 3 + n);
}

/** A name node-media-server looks up in a plain object of handlers ("constructor" would find Object's). */
function isInheritedName(name: string): boolean {
  return name in Object.prototype;
}

/** An AMF0 command message (connect, publish, ...): well-formed, named by a string. */
export function checkAmfCommand(payload: Buffer): string | null {
  const walk = walkAmf0(payload);
  if (!walk.ok) return `malformed AMF command: ${walk.reason}`;
  const name = amfStringAt(payload, walk.values[0]);
  if (name === null) return 'AMF command without a command name';
  if (isInheritedName(name)) return `AMF command named '${name}' is not a command`;
  return null;
}

/** An AMF0 data message (@setDataFrame onMetaData {...}): well-formed; metadata is an object, an array or null. */
export function checkAmfData(payload: Buffer): string | null {
  const walk = walkAmf0(payload);
  if (!walk.ok) return `malformed AMF data: ${walk.reason}`;
  const name = amfStringAt(payload, walk.values[0]);
  if (name !== null && isInheritedName(name)) return `AMF data named '${name}' is not a data message`;
  // node-media-server reads fields of the metadata object unchecked
  const dataAt = name === '@setDataFrame' ? 2 : name === 'onMetaData' ? 1 : -1;
  if (dataAt >= 0) {
    const marker = walk.values[dataAt]?.marker;
    if (marker !== AMF0.object && marker !== AMF0.ecmaArray && marker !== AMF0.null) {
      return `${name} without a metadata object`;
    }
  }
  return null;
}
