import crypto from 'node:crypto';
import fs from 'node:fs';

/** What a file's bytes hash to, computed in one read: what the bucket must agree with. */
export interface FileDigest {
  readonly size: number;
  /** SHA-256 of the whole file, hex (the record's checksum in events and object metadata). */
  readonly sha256: string;
  /** MD5 of the whole file, hex: the ETag of a single PUT, and of a multipart upload on some stores (s3rver). */
  readonly md5: string;
  /** MD5 of the parts' MD5s + '-' + part count: the ETag of a multipart upload on AWS, MinIO, SeaweedFS, R2. */
  readonly multipartEtag: string;
}

/** Hashes a file in one pass, cutting it into `partSize` parts as a multipart upload does. */
export async function digestFile(file: string, partSize: number): Promise<FileDigest> {
  const sha = crypto.createHash('sha256');
  const md5 = crypto.createHash('md5');
  const partMd5s: Buffer[] = [];
  let part = crypto.createHash('md5');
  let inPart = 0;
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    sha.update(chunk);
    md5.update(chunk);
    size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(partSize - inPart, chunk.length - offset);
      part.update(chunk.subarray(offset, offset + take));
      inPart += take;
      offset += take;
      if (inPart === partSize) {
        partMd5s.push(part.digest());
        part = crypto.createHash('md5');
        inPart = 0;
      }
    }
  }
  if (inPart > 0 || partMd5s.length === 0) partMd5s.push(part.digest());
  const multipartEtag = `${crypto.createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
  return { size, sha256: sha.digest('hex'), md5: md5.digest('hex'), multipartEtag };
}

/**
 * Whether a HEAD of the uploaded object proves it holds the file's bytes
 * (pure): the size always; with `etag`, the ETag (quotes dropped) equals the
 * whole-file MD5 or the multipart form. Returns the reason when it does not.
 */
export function verifyObject(digest: FileDigest, head: { size: number | undefined; etag: string | undefined }, mode: 'etag' | 'size'): string | null {
  if (head.size !== digest.size) return `the bucket holds ${head.size ?? 'no'} bytes, the file has ${digest.size}`;
  if (mode === 'size') return null;
  const etag = (head.etag ?? '').replace(/"/g, '').toLowerCase();
  if (etag === digest.md5 || etag === digest.multipartEtag) return null;
  return `the bucket's ETag ${etag || '(none)'} is neither the file's MD5 ${digest.md5} nor its multipart ETag ${digest.multipartEtag}`;
}
