import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PartSource, RecordedPart } from '../../src/catalog/part-source.js';
import { BucketPartSource, type BucketRecords } from '../../src/storage/bucket-records.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bucket-parts-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function part(fileName: string, nodeId: string): RecordedPart {
  return { path: path.join(dir, fileName), fileName, streamName: 's', startMs: 0, endMs: 1000, container: 'mp4', nodeId };
}

/** The catalog's answer, and a bucket whose copies are `inBucket` (local copies under dir/cache). */
function source(parts: RecordedPart[], inBucket: string[], selfId: string | null): { src: BucketPartSource; asked: string[] } {
  const asked: string[] = [];
  const catalog: PartSource = { partsOverlapping: async () => parts };
  const bucket = {
    localCopy: async (name: string) => {
      asked.push(name);
      return inBucket.includes(name) ? path.join(dir, 'cache', name) : null;
    },
  } as unknown as BucketRecords;
  return { src: new BucketPartSource(catalog, bucket, selfId), asked };
}

describe('BucketPartSource', () => {
  // a file of this node on disk, and (same machine in tests) a path of another node that exists here too
  fs.writeFileSync(path.join(dir, 'own.mp4'), 'x');
  fs.writeFileSync(path.join(dir, 'other-on-disk.mp4'), 'x');

  it("reads this node's files from disk; another node's part from the bucket, as this node's part, even when its path exists here", async () => {
    const { src, asked } = source([part('own.mp4', 'b'), part('other-on-disk.mp4', 'a'), part('other-gone.mp4', 'a')], ['other-on-disk.mp4', 'other-gone.mp4'], 'b');
    const out = await src.partsOverlapping('s', 0, 1000);
    expect(out.map((p) => [p.fileName, p.nodeId, p.path])).toEqual([
      ['own.mp4', 'b', path.join(dir, 'own.mp4')],
      ['other-on-disk.mp4', 'b', path.join(dir, 'cache', 'other-on-disk.mp4')],
      ['other-gone.mp4', 'b', path.join(dir, 'cache', 'other-gone.mp4')],
    ]);
    expect(asked).toEqual(['other-on-disk.mp4', 'other-gone.mp4']);
  });

  it("leaves another node's part without a bucket copy as it is (its node serves it), and this node's missing file too", async () => {
    const { src } = source([part('other.mp4', 'a'), part('own-gone.mp4', 'b')], [], 'b');
    expect((await src.partsOverlapping('s', 0, 1000)).map((p) => [p.fileName, p.nodeId, p.path])).toEqual([
      ['other.mp4', 'a', path.join(dir, 'other.mp4')],
      ['own-gone.mp4', 'b', path.join(dir, 'own-gone.mp4')],
    ]);
  });

  it('one node (no shared catalog): a missing file is swapped for its bucket copy, the node id kept', async () => {
    const { src } = source([part('own.mp4', 'x'), part('gone.mp4', 'x')], ['gone.mp4'], null);
    expect((await src.partsOverlapping('s', 0, 1000)).map((p) => [p.fileName, p.nodeId, p.path])).toEqual([
      ['own.mp4', 'x', path.join(dir, 'own.mp4')],
      ['gone.mp4', 'x', path.join(dir, 'cache', 'gone.mp4')],
    ]);
  });
});
