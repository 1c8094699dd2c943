import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { RecordInfo } from '../recording/recorder.js';
import { containerOf } from './containers.js';
import type { MediaProbe } from './media-probe.js';

/** A finished record as /rest-api/recorder/find_records lists it. */
export interface FinishedRecord {
  readonly fileName: string;
  /** null for a file this daemon did not record (copied in, or recorded before the journal existed). */
  readonly mediaSessionId: string | null;
  readonly streamName: string | null;
  readonly size: number;
  /** Server clock, ms. For a file not recorded here: its modification time minus its duration. */
  readonly startTimeMillis: number;
  readonly endTimeMillis: number;
  /** Media duration in ms; null when the file cannot be read as media. */
  readonly duration: number | null;
}

export interface RecordCatalogOptions {
  readonly recordDir: string;
  /** Journal of the records finished by this daemon (JSON lines), kept hidden in record_dir. */
  readonly journalFile: string;
  /** Tells parts (?start=&end= cuts) apart from records; `comment` is the file's comment tag when probed. */
  readonly isCut: (fileName: string, comment: string | null) => boolean;
  /** True for a file a recorder is writing (only possible when record_tmp_dir is record_dir itself). */
  readonly isBeingWritten: (file: string) => boolean;
}

interface JournalEntry {
  readonly fileName: string;
  readonly mediaSessionId: string;
  readonly streamName: string;
  readonly startTimeMillis: number;
  readonly endTimeMillis: number;
  readonly durationMs: number;
}

/** Parses journal lines (pure): the last entry of each file name wins; bad lines are skipped. */
export function parseJournal(text: string): Map<string, JournalEntry> {
  const entries = new Map<string, JournalEntry>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as Partial<JournalEntry>;
      if (
        typeof e.fileName === 'string' &&
        typeof e.mediaSessionId === 'string' &&
        typeof e.streamName === 'string' &&
        typeof e.startTimeMillis === 'number' &&
        typeof e.endTimeMillis === 'number' &&
        typeof e.durationMs === 'number'
      ) {
        entries.set(e.fileName, {
          fileName: e.fileName,
          mediaSessionId: e.mediaSessionId,
          streamName: e.streamName,
          startTimeMillis: e.startTimeMillis,
          endTimeMillis: e.endTimeMillis,
          durationMs: e.durationMs,
        });
      }
    } catch {
      // a line cut short by a crash: skipped
    }
  }
  return entries;
}

/**
 * The finished records in record_dir. The folder itself is the truth (a
 * hook may move records away, an operator may copy some in): each listing
 * reads it again. What this daemon recorded is known from its 'recorded'
 * events, kept in a small journal so that it survives a restart; any other
 * record file is probed with ffprobe once (cached by size and mtime).
 * Hidden files, files being recorded (record_tmp_dir) and parts made by the
 * cutter are never listed.
 */
export class RecordCatalog {
  #known = new Map<string, JournalEntry>();

  constructor(
    private readonly options: RecordCatalogOptions,
    private readonly probe: MediaProbe,
    private readonly log: Logger,
  ) {}

  /** Loads and compacts the journal, then probes the other records in the background. */
  async start(): Promise<void> {
    const text = await fs.promises.readFile(this.options.journalFile, 'utf8').catch(() => '');
    const entries = parseJournal(text);
    for (const [name] of entries) {
      if (!fs.existsSync(path.join(this.options.recordDir, name))) entries.delete(name);
    }
    this.#known = entries;
    if (text !== '') await this.#rewriteJournal();
    void this.list().then(
      (records) => this.log.info({ records: records.length }, 'Records in record_dir indexed'),
      (err: Error) => this.log.warn({ err: err.message }, 'Records in record_dir could not be indexed'),
    );
  }

  /** A record finished by this daemon (RecorderManager 'recorded'). */
  add(record: RecordInfo): void {
    if (path.dirname(record.path) !== path.resolve(this.options.recordDir)) return;
    const entry: JournalEntry = {
      fileName: record.fileName,
      mediaSessionId: record.mediaSessionId,
      streamName: record.streamName,
      startTimeMillis: record.startTimeMillis,
      endTimeMillis: record.endTimeMillis,
      durationMs: record.durationMs,
    };
    this.#known.set(record.fileName, entry);
    this.probe.forget(record.path);
    fs.promises.appendFile(this.options.journalFile, JSON.stringify(entry) + '\n').catch((err: Error) => {
      this.log.warn({ file: this.options.journalFile, err: err.message }, 'Record journal not written; the record stays listed until restart');
    });
  }

  /** Every finished record in record_dir, oldest first. */
  async list(): Promise<FinishedRecord[]> {
    const dir = this.options.recordDir;
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    const found = await Promise.all(
      entries
        .filter((e) => e.isFile() && !e.name.startsWith('.') && containerOf(e.name) !== null)
        .filter((e) => !this.options.isBeingWritten(path.join(dir, e.name)))
        .map((e) => this.#describe(path.join(dir, e.name), e.name)),
    );
    return found
      .filter((r): r is FinishedRecord => r !== null)
      .sort((a, b) => a.endTimeMillis - b.endTimeMillis || a.fileName.localeCompare(b.fileName));
  }

  async #describe(file: string, fileName: string): Promise<FinishedRecord | null> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch {
      return null; // moved away meanwhile
    }
    const known = this.#known.get(fileName);
    if (known) {
      return {
        fileName,
        mediaSessionId: known.mediaSessionId,
        streamName: known.streamName,
        size: stat.size,
        startTimeMillis: known.startTimeMillis,
        endTimeMillis: known.endTimeMillis,
        duration: known.durationMs,
      };
    }
    if (this.options.isCut(fileName, null)) return null;
    const facts = await this.probe.probe(file).catch(() => null);
    if (facts && this.options.isCut(fileName, facts.comment)) return null;
    const end = Math.round(stat.mtimeMs);
    const duration = facts ? Math.round(facts.durationSeconds * 1000) : null;
    return {
      fileName,
      mediaSessionId: null,
      streamName: null,
      size: stat.size,
      startTimeMillis: end - (duration ?? 0),
      endTimeMillis: end,
      duration,
    };
  }

  async #rewriteJournal(): Promise<void> {
    const tmp = `${this.options.journalFile}.tmp`;
    const text = [...this.#known.values()].map((e) => JSON.stringify(e) + '\n').join('');
    try {
      await fs.promises.writeFile(tmp, text);
      await fs.promises.rename(tmp, this.options.journalFile);
    } catch (err) {
      this.log.warn({ file: this.options.journalFile, err: (err as Error).message }, 'Record journal could not be compacted');
    }
  }
}
