import { releaseView, retainView } from '../../util/slab-pool.js';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface FfmpegExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines ffmpeg wrote to stderr. */
  readonly stderrTail: string[];
}

const STDERR_TAIL_LINES = 20;

/**
 * One owned ffmpeg child: spawned with an argument array (never a shell),
 * fed on stdin, its exit always observed, and stopped with exact signals:
 * end of stdin first (ffmpeg writes its trailer), one SIGINT if that takes
 * too long (ffmpeg still finishes the file), SIGKILL only as the last resort.
 */
export class FfmpegProcess {
  readonly #child: ChildProcessByStdio<Writable, Readable | null, Readable>;
  readonly #tail: string[] = [];
  readonly exited: Promise<FfmpegExit>;
  #exit: FfmpegExit | null = null;
  #partialLine = '';

  /**
   * `output.fd`: a file descriptor the child gets as fd 3 (`pipe:3`), e.g. a
   * file opened for appending; `output.stdout`: ffmpeg writes its output to
   * stdout (`pipe:1`), read through `stdout`; `output.env`: variables
   * added to the environment.
   */
  constructor(
    binary: string,
    args: readonly string[],
    onStderrLine?: (line: string) => void,
    output: { fd?: number; stdout?: boolean; env?: Readonly<Record<string, string>> } = {},
  ) {
    const stdout = output.stdout ? 'pipe' : 'ignore';
    this.#child = spawn(binary, args, {
      stdio: output.fd === undefined ? ['pipe', stdout, 'pipe'] : ['pipe', stdout, 'pipe', output.fd],
      ...(output.env ? { env: { ...process.env, ...output.env } } : {}),
    }) as ChildProcessByStdio<
      Writable,
      Readable | null,
      Readable
    >;
    this.#child.stdin.on('error', () => {
      // EPIPE when ffmpeg exits early: its exit is reported through `exited`
    });
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (text: string) => {
      const lines = (this.#partialLine + text).split(/\r?\n|\r/);
      this.#partialLine = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        this.#tail.push(line);
        if (this.#tail.length > STDERR_TAIL_LINES) this.#tail.shift();
        onStderrLine?.(line);
      }
    });
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exit) return;
        if (this.#partialLine.trim() !== '') this.#tail.push(this.#partialLine);
        this.#exit = { code, signal, stderrTail: [...this.#tail] };
        resolve(this.#exit);
      };
      this.#child.on('exit', finish);
      this.#child.on('error', (err) => {
        this.#tail.push(`spawn failed: ${err.message}`);
        finish(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** What ffmpeg writes to stdout (`pipe:1`); null unless constructed with `output.stdout`. */
  get stdout(): Readable | null {
    return this.#child.stdout;
  }

  /** Writes `data` (if any) and closes ffmpeg's stdin, without waiting for it to exit. */
  endInput(data?: Buffer | string): void {
    if (this.#child.stdin.destroyed || this.#child.stdin.writableEnded) return;
    this.#child.stdin.end(data);
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** Bytes queued for stdin that ffmpeg has not read yet. */
  get pendingInput(): number {
    return this.#child.stdin.writableLength;
  }

  /**
   * Queues `chunk` for ffmpeg's stdin. A view of a pool slab (RTMP tags,
   * util/slab-pool.ts) is held until the pipe has taken it.
   */
  write(chunk: Buffer): void {
    if (this.#exit || this.#child.stdin.destroyed || this.#child.stdin.writableEnded) return;
    retainView(chunk);
    // the callback runs once, when the pipe took the chunk or with the error that ended the stream
    this.#child.stdin.write(chunk, () => releaseView(chunk));
  }

  /**
   * Ends the input and waits for ffmpeg to finish its file. After
   * `timeoutMs` it gets one SIGINT (it still writes the trailer); if it
   * is still running `killAfterMs` later, SIGKILL.
   */
  async finish(timeoutMs: number, killAfterMs = 5000): Promise<FfmpegExit> {
    if (this.#exit) return this.#exit;
    this.#child.stdin.end();
    const sigint = setTimeout(() => this.signal('SIGINT'), timeoutMs);
    const sigkill = setTimeout(() => this.signal('SIGKILL'), timeoutMs + killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(sigint);
      clearTimeout(sigkill);
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.#exit) return;
    try {
      this.#child.kill(sig);
    } catch {
      // already gone
    }
  }
}

/** Runs a one-shot ffmpeg (no input on stdin) to completion; SIGINT after `timeoutMs`. */
export async function runFfmpeg(binary: string, args: readonly string[], timeoutMs: number): Promise<FfmpegExit> {
  const proc = new FfmpegProcess(binary, args);
  return proc.finish(timeoutMs);
}
