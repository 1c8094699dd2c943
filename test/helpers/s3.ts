import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import S3rver from 's3rver';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './daemon.js';

/** s3rver's fixed credentials: the daemon under test gets them through the standard AWS environment variables. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The daemons a test starts inherit these (credentials only ever come from the AWS environment). */
export function useS3Credentials(): void {
  process.env.AWS_ACCESS_KEY_ID = S3_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
  // no ~/.aws files of the machine are read by the daemons under test
  process.env.AWS_CONFIG_FILE = '/dev/null';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';
}

/** An S3 endpoint on loopback (s3rver, files in a temp folder) with one bucket. */
export class TestS3 {
  readonly client: S3Client;

  private constructor(
    private readonly server: S3rver,
    readonly port: number,
    readonly dir: string,
    readonly bucket: string,
  ) {
    this.client = new S3Client({
      endpoint: this.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: S3_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  static async start(bucket = 'records'): Promise<TestS3> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-'));
    const port = await freePort();
    const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir });
    await server.run();
    const s3 = new TestS3(server, port, dir, bucket);
    await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
    return s3;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async keys(): Promise<string[]> {
    const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket }));
    return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
  }

  async sha256(key: string): Promise<string> {
    const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return crypto.createHash('sha256').update(await got.Body!.transformToByteArray()).digest('hex');
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.server.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
