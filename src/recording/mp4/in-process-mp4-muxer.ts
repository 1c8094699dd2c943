import fs from 'node:fs';
import { isFlvFileHeader } from '../../ingest/rtmp/flv-tags.js';
import type { FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import type { LiveMuxer } from '../live-muxer.js';
import { freeBoxHeader } from './box-tree.js';
import { Fmp4InputError, Fmp4Writer, type Fmp4WriterOptions } from './fmp4-writer.js';
import { releaseView } from '../../util/slab-pool.js';

/**
 * Bytes written to the temp file between two fdatasync calls. Keeps the
 * part of the file that is only in the page cache small, so that finishing
 * it with an insert-range (which first writes back every dirty page of the
 * file) costs a fraction of a second, not the writeback of everything
 * recorded in the last 30 s (the kernel's dirty_expire) — which at 40x real
 * time (the finish benchmark) is most of a 1.4 GB hour. Also bounds what a
 * power cut loses. One sync at a time per recording, on the libuv pool.
 * 32 MiB (issue 20, was 8): a quarter of the syncs (and of their journal
 * commits, counted in the daemon's CPU) for a real-time stream, one every
 * 90 s at 3 Mbit/s; the 1-hour finish at 40x stayed under 1 s (562 ms;
 * 64 MiB: 1033 ms). BENCHMARKS.md, "Issue 20, round 3".
 */
export const WRITEBACK_BYTES = 32 * 1024 * 1024;

/** Buffers per writev (Linux IOV_MAX). */
const MAX_IOV = 1024;

/**
 * The live muxer for H.264 + AAC copied into MP4, in the daemon's own
 * process: FLV tags in, the same crash-safe fragmented MP4 as ffmpeg writes
 * out (fragments at keyframes, at most 500 ms, each handed to the kernel as
 * soon as it is complete). Saves a process (about 16 MiB) and a pipe per
 * recording. A tag it cannot use is reported through `onLine` as an
 * `[error]` line (the recorder's error budget) and skipped.
 *
 * Fragments go to the file with fs.writev on its own fd, one at a time, the
 * samples as they are (views of the FLV tags: no copy); what queues while
 * one is written goes out in the next writev. (A fs.WriteStream did the same
 * with a Writable.write call and a request object per sample: issue 20.)
 * A sample's slab (util/slab-pool.ts) is let go once its bytes are on the
 * file; buffers thrown away on a write error are not let go (their slabs
 * go to the garbage collector), so none is ever let go twice.
 */
export class InProcessMp4Muxer implements LiveMuxer {
  readonly pid = undefined;
  readonly exited: Promise<FfmpegExit>;
  readonly #writer: Fmp4Writer;
  readonly #errors: string[] = [];
  #resolve!: (exit: FfmpegExit) => void;
  #done = false;
  #ending = false;
  #fd: number | null = null;
  /** Buffers waiting for the file, in order, and their bytes. */
  #queue: Buffer[] = [];
  #queued = 0;
  #writing = false;
  #unsynced = 0;
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
    try {
      if (reservedBytes > 0) {
        const reserve = Buffer.alloc(reservedBytes);
        freeBoxHeader(reservedBytes).copy(reserve, 0);
        fs.writeFileSync(file, reserve);
      }
      this.#fd = fs.openSync(file, reservedBytes > 0 ? 'a' : 'w');
    } catch (err) {
      // reported as a muxer that ended at once, as a stream's open error was
      const message = `write failed: ${(err as Error).message}`;
      queueMicrotask(() => this.#stop(1, message));
    }
  }

  get pendingInput(): number {
    return this.#queued;
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
    if (out.length > 0) this.#enqueue(out);
  }

  #enqueue(buffers: readonly Buffer[]): void {
    for (const b of buffers) {
      if (b.length === 0) continue;
      this.#queue.push(b);
      this.#queued += b.length;
    }
    if (!this.#writing) this.#drain();
  }

  /** Writes what is queued, one writev at a time; closes the file once ending and empty. */
  #drain(): void {
    const fd = this.#fd;
    if (fd === null || this.#done) return;
    if (this.#queue.length === 0) {
      this.#writing = false;
      if (this.#ending) void this.#close(fd);
      return;
    }
    this.#writing = true;
    const batch = this.#queue.length <= MAX_IOV ? this.#queue : this.#queue.slice(0, MAX_IOV);
    this.#queue = this.#queue.length <= MAX_IOV ? [] : this.#queue.slice(MAX_IOV);
    let bytes = 0;
    for (const b of batch) bytes += b.length;
    fs.writev(fd, batch, (err, written) => {
      if (err) {
        this.#fail(fd, `write failed: ${err.message}`);
        return;
      }
      this.#queued -= written;
      this.#unsynced += written;
      if (written < bytes) {
        // a short write (a signal, a full disk on the next one): the rest goes first in the next writev
        let skip = written;
        const rest: Buffer[] = [];
        for (const b of batch) {
          if (skip >= b.length) {
            skip -= b.length;
            releaseView(b);
            continue;
          }
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
        this.#queue = [...rest, ...this.#queue];
      } else {
        // on the file: the samples' slabs may go back to their pool (each buffer is let go once, when all of it is written)
        for (const b of batch) releaseView(b);
      }
      if (this.#unsynced >= this.writebackBytes) this.#writeback(fd);
      this.#drain();
    });
  }

  /** fdatasync of what has been written so far, unless one is running. */
  #writeback(fd: number): void {
    if (this.#syncing || this.#done || this.writebackBytes <= 0) return;
    this.#unsynced = 0;
    this.#syncing = new Promise<void>((resolve) => {
      fs.fdatasync(fd, () => {
        // an error here (EIO) shows up again on the next write, which reports it
        this.#syncing = null;
        resolve();
      });
    });
  }

  #fail(fd: number, message: string): void {
    this.#fd = null;
    this.#queue = [];
    this.#queued = 0;
    this.#stop(1, message);
    // no fdatasync may still run on the fd when it is closed (the number could be reused)
    void (this.#syncing ?? Promise.resolve()).then(() => fs.close(fd, () => undefined));
  }

  async #close(fd: number): Promise<void> {
    this.#fd = null;
    if (this.#syncing) await this.#syncing;
    fs.close(fd, (err) => this.#stop(err ? 1 : 0, err ? `close failed: ${err.message}` : ''));
  }

  async finish(_timeoutMs: number): Promise<FfmpegExit> {
    if (!this.#done && !this.#ending) {
      this.#ending = true;
      const tail = this.#writer.end();
      if (this.#writer.droppedSamples > 0) this.onLine(`[warning] ${this.#writer.droppedSamples} samples dropped: their timestamps went back`);
      this.#enqueue(tail);
    }
    return this.exited;
  }
}
