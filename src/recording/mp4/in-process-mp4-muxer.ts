import fs from 'node:fs';
import { isFlvFileHeader } from '../../ingest/rtmp/flv-tags.js';
import type { FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import type { LiveMuxer } from '../live-muxer.js';
import { freeBoxHeader } from './box-tree.js';
import { Fmp4InputError, Fmp4Writer, type Fmp4WriterOptions } from './fmp4-writer.js';

/**
 * The live muxer for H.264 + AAC copied into MP4, in the daemon's own
 * process: FLV tags in, the same crash-safe fragmented MP4 as ffmpeg writes
 * out (fragments at keyframes, at most 500 ms, each handed to the kernel as
 * soon as it is complete). Saves a process (about 16 MiB) and a pipe per
 * recording. A tag it cannot use is reported through `onLine` as an
 * `[error]` line (the recorder's error budget) and skipped.
 */
/**
 * Bytes written to the temp file between two fdatasync calls. Keeps the
 * part of the file that is only in the page cache small, so that finishing
 * it with an insert-range (which first writes back every dirty page of the
 * file) costs a few ms, not the writeback of everything recorded in the last
 * 30 s (the kernel's dirty_expire) — which at 40x real time (the finish
 * benchmark) is most of a 1.4 GB hour. Also bounds what a power cut loses.
 * One sync at a time per recording, on the libuv thread pool.
 */
export const WRITEBACK_BYTES = 8 * 1024 * 1024;

export class InProcessMp4Muxer implements LiveMuxer {
  readonly pid = undefined;
  readonly exited: Promise<FfmpegExit>;
  readonly #out: fs.WriteStream;
  readonly #writer: Fmp4Writer;
  readonly #errors: string[] = [];
  #resolve!: (exit: FfmpegExit) => void;
  #done = false;
  #ending = false;
  #unsynced = 0;
  readonly #fd: number | null;
  #syncing: Promise<void> | null = null;

  constructor(
    file: string,
    options: Fmp4WriterOptions,
    /** `[error] …` lines (counted by the recorder's error budget) and `[warning] …` lines */
    private readonly onLine: (line: string) => void,
    reservedBytes = 0,
    /** fdatasync after this many bytes (0: never) */
    private readonly writebackBytes = WRITEBACK_BYTES,
  ) {
    this.#writer = new Fmp4Writer(options);
    this.exited = new Promise((resolve) => (this.#resolve = resolve));
    if (reservedBytes > 0) {
      const reserve = Buffer.alloc(reservedBytes);
      freeBoxHeader(reservedBytes).copy(reserve, 0);
      fs.writeFileSync(file, reserve);
    }
    const flags = reservedBytes > 0 ? 'a' : 'w';
    // our own fd (the stream closes it), for fdatasync; when the open fails the stream reports it as before
    try {
      this.#fd = fs.openSync(file, flags);
    } catch {
      this.#fd = null;
    }
    this.#out = this.#fd === null ? fs.createWriteStream(file, { flags, highWaterMark: 1 << 20 }) : fs.createWriteStream(file, { fd: this.#fd, highWaterMark: 1 << 20 });
    this.#out.on('error', (err) => this.#stop(1, `write failed: ${err.message}`));
    this.#out.on('close', () => this.#stop(this.#ending ? 0 : 1, this.#ending ? '' : 'temp file closed'));
  }

  get pendingInput(): number {
    return this.#out.writableLength;
  }

  #stop(code: number, message: string): void {
    if (this.#done) return;
    this.#done = true;
    if (message) this.#errors.push(message);
    this.#resolve({ code, signal: null, stderrTail: [...this.#errors] });
  }

  write(chunk: Buffer): void {
    if (this.#done || this.#ending) return;
    // the FLV file header (replayed at each part) carries nothing the MP4 needs
    if (isFlvFileHeader(chunk)) return;
    let out: Buffer[];
    try {
      out = this.#writer.push(chunk);
    } catch (err) {
      if (!(err instanceof Fmp4InputError)) throw err;
      const line = `[error] ${err.message}`;
      this.#errors.push(line);
      if (this.#errors.length > 10) this.#errors.shift();
      this.onLine(line);
      return;
    }
    if (out.length === 0) return;
    // one writev per fragment (moof, mdat header, the samples as they are: no copy)
    this.#out.cork();
    for (const b of out) {
      this.#out.write(b);
      this.#unsynced += b.length;
    }
    this.#out.uncork();
    if (this.#unsynced >= this.writebackBytes) this.#writeback();
  }

  /** fdatasync of what the stream has written so far, unless one is running. */
  #writeback(): void {
    const fd = this.#fd;
    if (this.#syncing || fd === null || this.#done || this.writebackBytes <= 0) return;
    this.#unsynced = 0;
    this.#syncing = new Promise<void>((resolve) => {
      fs.fdatasync(fd, () => {
        // an error here (EIO) shows up again on the next write, which reports it
        this.#syncing = null;
        resolve();
      });
    });
  }

  async finish(_timeoutMs: number): Promise<FfmpegExit> {
    if (!this.#done && !this.#ending) {
      this.#ending = true;
      for (const b of this.#writer.end()) this.#out.write(b);
      if (this.#writer.droppedSamples > 0) this.onLine(`[warning] ${this.#writer.droppedSamples} samples dropped: their timestamps went back`);
      // the stream closes its fd at the end: no fdatasync may still be running on it then
      if (this.#syncing) await this.#syncing;
      this.#out.end();
    }
    return this.exited;
  }
}
