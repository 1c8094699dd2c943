/**
 * ISO BMFF boxes as a small tree, for rewriting a moov: container boxes are
 * parsed into children, every other box is kept as its raw payload.
 */
export interface BoxNode {
  readonly type: string;
  /** Content after the header (leaf boxes). */
  payload?: Buffer;
  /** Child boxes (container boxes). */
  children?: BoxNode[];
}

export class BoxFormatError extends Error {}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'mvex', 'moof', 'traf']);

export interface BoxHeader {
  readonly type: string;
  /** Offset of the box in the buffer (or file). */
  readonly offset: number;
  readonly size: number;
  readonly headerSize: number;
}

/** Reads the header of the box at `offset` of `buf`; null when `buf` ends before the header does. */
export function readBoxHeader(buf: Buffer, offset: number, end = buf.length): BoxHeader | null {
  if (offset + 8 > end) return null;
  let size = buf.readUInt32BE(offset);
  const type = buf.toString('latin1', offset + 4, offset + 8);
  let headerSize = 8;
  if (size === 1) {
    if (offset + 16 > end) return null;
    size = Number(buf.readBigUInt64BE(offset + 8));
    headerSize = 16;
  } else if (size === 0) {
    size = end - offset;
  }
  if (size < headerSize) throw new BoxFormatError(`box ${JSON.stringify(type)} at ${offset} has size ${size}`);
  return { type, offset, size, headerSize };
}

/** The boxes that tile buf[from, to). */
export function childHeaders(buf: Buffer, from: number, to: number): BoxHeader[] {
  const out: BoxHeader[] = [];
  let offset = from;
  while (offset < to) {
    const h = readBoxHeader(buf, offset, to);
    if (!h || offset + h.size > to) throw new BoxFormatError(`box at ${offset} runs past its parent (ends at ${to})`);
    out.push(h);
    offset += h.size;
  }
  return out;
}

/** Parses the boxes of buf[from, to) into nodes, descending into container boxes. */
export function parseBoxes(buf: Buffer, from = 0, to = buf.length): BoxNode[] {
  return childHeaders(buf, from, to).map((h) => {
    const start = h.offset + h.headerSize;
    const end = h.offset + h.size;
    return CONTAINERS.has(h.type) ? { type: h.type, children: parseBoxes(buf, start, end) } : { type: h.type, payload: buf.subarray(start, end) };
  });
}

export function boxSize(node: BoxNode): number {
  const content = node.children ? node.children.reduce((n, c) => n + boxSize(c), 0) : (node.payload?.length ?? 0);
  return content + 8 > 0xffffffff ? content + 16 : content + 8;
}

/** Writes `node` into `out` at `offset`; returns the offset after it. */
function writeBox(node: BoxNode, out: Buffer, offset: number): number {
  const size = boxSize(node);
  let pos = offset;
  if (size > 0xffffffff) {
    out.writeUInt32BE(1, pos);
    out.write(node.type, pos + 4, 'latin1');
    out.writeBigUInt64BE(BigInt(size), pos + 8);
    pos += 16;
  } else {
    out.writeUInt32BE(size, pos);
    out.write(node.type, pos + 4, 'latin1');
    pos += 8;
  }
  if (node.children) for (const c of node.children) pos = writeBox(c, out, pos);
  else if (node.payload) pos += node.payload.copy(out, pos);
  return pos;
}

export function serializeBox(node: BoxNode): Buffer {
  const out = Buffer.alloc(boxSize(node));
  writeBox(node, out, 0);
  return out;
}

export function leaf(type: string, payload: Buffer): BoxNode {
  return { type, payload };
}

export function findChild(node: BoxNode, type: string): BoxNode | undefined {
  return node.children?.find((c) => c.type === type);
}

export function requireChild(node: BoxNode, type: string): BoxNode {
  const c = findChild(node, type);
  if (!c) throw new BoxFormatError(`${node.type} has no ${type}`);
  return c;
}

/** A `free` box header of `size` bytes (size >= 8). */
export function freeBoxHeader(size: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(size, 0);
  h.write('free', 4, 'latin1');
  return h;
}
