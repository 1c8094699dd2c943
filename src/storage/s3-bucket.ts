import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as ClientS3 from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { loadOptional } from '../util/optional-module.js';

interface Sdk {
  readonly s3: typeof ClientS3;
  readonly storage: typeof LibStorage;
}

/** The SDK, loaded with the first S3Bucket (a daemon without uploads never loads it). */
let sdk: Sdk | null = null;

function loadSdk(): Sdk {
  sdk ??= { s3: loadOptional<typeof ClientS3>('@aws-sdk/client-s3'), storage: loadOptional<typeof LibStorage>('@aws-sdk/lib-storage') };
  return sdk;
}

/** An error of the S3 service (none can exist before the SDK is loaded). */
function serviceError(err: unknown): ClientS3.S3ServiceException | null {
  return sdk !== null && err instanceof sdk.s3.S3ServiceException ? err : null;
}

export interface S3BucketOptions {
  readonly bucket: string;
  /** null: AWS. */
  readonly endpoint: string | null;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly partSize: number;
  /** Parts of one upload sent at once. */
  readonly partConcurrency: number;
}

export interface ObjectHead {
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly lastModified: Date | undefined;
}

export interface ObjectRange {
  readonly body: Readable;
  readonly size: number;
  /** Present for an answer to a Range request: `bytes a-b/total`. */
  readonly contentRange: string | undefined;
  readonly contentLength: number;
  readonly lastModified: Date | undefined;
}

/** The object does not exist (404 / NoSuchKey). */
export class NoSuchObjectError extends Error {}
/** The store refused a Range (416). */
export class RangeNotSatisfiableError extends Error {}

function isStatus(err: unknown, status: number): boolean {
  return serviceError(err)?.$metadata.httpStatusCode === status;
}

/** A short text of an SDK error that never holds credentials (the SDK's messages do not; headers are not included). */
export function s3ErrorText(err: unknown): string {
  const service = serviceError(err);
  if (service) return `${service.name}${service.$metadata.httpStatusCode ? ` (HTTP ${service.$metadata.httpStatusCode})` : ''}: ${service.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * One bucket of an S3-compatible store, through @aws-sdk/client-s3:
 * multipart uploads (@aws-sdk/lib-storage), HEAD, ranged GET, DELETE.
 * Credentials come from the SDK's default chain (AWS_* environment
 * variables, ~/.aws files, instance roles) and never pass through here.
 * The SDK's own retries are off (one try): the upload queue retries with
 * its own persisted backoff. Checksum headers are sent only when an
 * operation requires them: several S3-compatible stores reject or
 * mis-store the aws-chunked trailer checksums newer SDKs add by default.
 */
export class S3Bucket {
  readonly client: ClientS3.S3Client;
  readonly #sdk: Sdk;

  constructor(readonly options: S3BucketOptions) {
    this.#sdk = loadSdk();
    this.client = new this.#sdk.s3.S3Client({
      region: options.region,
      ...(options.endpoint !== null ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get bucket(): string {
    return this.options.bucket;
  }

  /** Uploads a file by multipart upload (a single PUT when smaller than a part). `signal` aborts it. */
  async upload(file: string, key: string, metadata: Record<string, string>, contentType: string, signal: AbortSignal): Promise<void> {
    const upload = new this.#sdk.storage.Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: key, Body: fs.createReadStream(file), Metadata: metadata, ContentType: contentType },
      partSize: this.options.partSize,
      queueSize: this.options.partConcurrency,
      leavePartsOnError: false,
    });
    const abort = (): void => void upload.abort().catch(() => undefined);
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  async head(key: string): Promise<ObjectHead> {
    try {
      const h = await this.client.send(new this.#sdk.s3.HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return { size: h.ContentLength, etag: h.ETag, lastModified: h.LastModified };
    } catch (err) {
      if (isStatus(err, 404)) throw new NoSuchObjectError(`s3://${this.options.bucket}/${key} not found`);
      throw err;
    }
  }

  /** GET of the whole object or of one byte range (`bytes=a-b`, as the client sent it). */
  async get(key: string, range: string | undefined, signal?: AbortSignal): Promise<ObjectRange> {
    try {
      const g = await this.client.send(new this.#sdk.s3.GetObjectCommand({ Bucket: this.options.bucket, Key: key, ...(range ? { Range: range } : {}) }), signal ? { abortSignal: signal } : {});
      const contentRange = g.ContentRange;
      const total = contentRange ? Number(/\/(\d+)$/.exec(contentRange)?.[1]) : g.ContentLength;
      return { body: g.Body as Readable, size: total ?? 0, contentRange, contentLength: g.ContentLength ?? 0, lastModified: g.LastModified };
    } catch (err) {
      if (isStatus(err, 404)) throw new NoSuchObjectError(`s3://${this.options.bucket}/${key} not found`);
      if (isStatus(err, 416)) throw new RangeNotSatisfiableError('range not satisfiable');
      throw err;
    }
  }

  /** Copies the object into `file` (through a temp name beside it, renamed when complete). */
  async download(key: string, file: string, signal?: AbortSignal): Promise<number> {
    const got = await this.get(key, undefined, signal);
    const temp = path.join(path.dirname(file), `.dl-${process.pid}-${Date.now()}-${path.basename(file)}`);
    try {
      await pipeline(got.body, fs.createWriteStream(temp), ...(signal ? [{ signal }] : []));
      const size = (await fs.promises.stat(temp)).size;
      if (size !== got.size) throw new Error(`downloaded ${size} of ${got.size} bytes`);
      await fs.promises.rename(temp, file);
      return size;
    } catch (err) {
      await fs.promises.rm(temp, { force: true });
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new this.#sdk.s3.DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  close(): void {
    this.client.destroy();
  }
}
