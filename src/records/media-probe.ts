import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from 'pino';

/** What the record listing and the cutter need to know of a media file. */
export interface MediaFacts {
  readonly durationSeconds: number;
  /** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  readonly formatName: string;
  /** The file's `comment` tag ('' when none): cuts are marked with CUT_COMMENT. */
  readonly comment: string;
}

export class ProbeError extends Error {
  /**
   * True when the file was not read for a reason of this server (ffprobe
   * missing, over its time limit, shutting down), not because of what the
   * file holds.
   */
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/** Demuxers a record may need; anything else (a playlist renamed .mp4...) is refused. */
const FORMAT_WHITELIST = 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts';
const PROBE_TIMEOUT_MS = 20_000;

interface ProbeJson {
  format?: { duration?: string; format_name?: string; tags?: { comment?: string } };
}

/** Parses ffprobe's JSON answer (pure). */
export function parseProbeJson(text: string): MediaFacts {
  let json: ProbeJson;
  try {
    json = JSON.parse(text) as ProbeJson;
  } catch {
    throw new ProbeError('ffprobe answered something that is not JSON');
  }
  const duration = Number(json.format?.duration);
  if (!json.format || !Number.isFinite(duration)) throw new ProbeError('ffprobe found no duration');
  return { durationSeconds: duration, formatName: json.format.format_name ?? '', comment: json.format.tags?.comment ?? '' };
}

/**
 * ffprobe with a cache: each file is probed once per (size, mtime), at most
 * `concurrency` ffprobes at a time; only local files of the record
 * containers are read. Running ffprobes are killed on close().
 */
export class MediaProbe {
  readonly #cache = new Map<string, { key: string; facts: Promise<MediaFacts> }>();
  readonly #running = new Set<ChildProcess>();
  readonly #queue: (() => void)[] = [];
  #active = 0;
  #closed = false;

  constructor(
    private readonly ffprobe: string,
    private readonly log: Logger,
    private readonly concurrency = 2,
  ) {}

  /** Facts of the file at an absolute path; rejects with ProbeError when it is not readable media. */
  async probe(file: string): Promise<MediaFacts> {
    const stat = await fs.promises.stat(file);
    const key = `${stat.size}:${stat.mtimeMs}`;
    const cached = this.#cache.get(file);
    if (cached && cached.key === key) return cached.facts;
    const facts = this.#limited(() => this.#run(file));
    this.#cache.set(file, { key, facts });
    facts.catch(() => {
      if (this.#cache.get(file)?.facts === facts) this.#cache.delete(file);
    });
    return facts;
  }

  /** Forgets a file (it was replaced or removed). */
  forget(file: string): void {
    this.#cache.delete(file);
  }

  close(): void {
    this.#closed = true;
    for (const child of this.#running) child.kill('SIGKILL');
    for (const next of this.#queue.splice(0)) next();
  }

  async #limited<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.concurrency) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#queue.shift()?.();
    }
  }

  #run(file: string): Promise<MediaFacts> {
    if (this.#closed) return Promise.reject(new ProbeError('server is shutting down', true));
    const args = [
      '-v', 'error',
      '-protocol_whitelist', 'file',
      '-format_whitelist', FORMAT_WHITELIST,
      '-show_entries', 'format=duration,format_name:format_tags=comment',
      '-of', 'json',
      `file:${file}`,
    ];
    return new Promise((resolve, reject) => {
      const child = execFile(this.ffprobe, args, { timeout: PROBE_TIMEOUT_MS, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        this.#running.delete(child);
        if (err) {
          this.log.debug({ file, err: err.message, stderr: stderr.trim() }, 'ffprobe failed');
          // ffprobe missing (spawn ENOENT) or stopped at PROBE_TIMEOUT_MS (killed): nothing said about the file
          const transient = (err as NodeJS.ErrnoException).code === 'ENOENT' || err.killed === true || this.#closed;
          reject(new ProbeError(`cannot read ${file} as media: ${stderr.trim().split('\n').pop() || err.message}`, transient));
          return;
        }
        try {
          resolve(parseProbeJson(stdout));
        } catch (e) {
          reject(e as Error);
        }
      });
      this.#running.add(child);
    });
  }
}
