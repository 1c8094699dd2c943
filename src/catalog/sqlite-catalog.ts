import type { TimelineSpan } from './timeline.js';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  PRESENT_STATES,
  type Catalog,
  type CatalogPause,
  type CatalogRecord,
  type CutEntry,
  type FindQuery,
  type FindResult,
  type FinishedPart,
  type RecordRow,
  type RecordState,
  type RetentionRows,
} from './catalog.js';
import type { RecordedPart } from './part-source.js';
import { CUT_READ_COLUMNS, cutOf, type CutDbRow, RECORD_READ_COLUMNS, RECORD_WRITTEN, recordColumnValues, recordOf, type RecordDbRow } from './record-db-row.js';

const SCHEMA_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY,
  file_name TEXT NOT NULL UNIQUE,
  dir TEXT NOT NULL,
  stream_name TEXT,
  media_session_id TEXT,
  provider TEXT NOT NULL,
  login TEXT NOT NULL DEFAULT '',
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  duration_ms INTEGER,
  size INTEGER NOT NULL DEFAULT 0,
  container TEXT NOT NULL,
  video_codec TEXT NOT NULL DEFAULT '',
  audio_codec TEXT NOT NULL DEFAULT '',
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  part INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL,
  pinned INTEGER NOT NULL DEFAULT 0,
  mtime_ms INTEGER NOT NULL DEFAULT 0,
  deleted_at INTEGER,
  deleted_reason TEXT,
  pauses TEXT
);
CREATE INDEX IF NOT EXISTS records_stream_start ON records (stream_name, start_ms, state);
CREATE INDEX IF NOT EXISTS records_start ON records (start_ms, state);
CREATE INDEX IF NOT EXISTS records_state ON records (state);
CREATE TABLE IF NOT EXISTS cuts (
  file_name TEXT PRIMARY KEY,
  dir TEXT NOT NULL,
  source_file_name TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cuts_source ON cuts (source_file_name);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0);
CREATE TRIGGER IF NOT EXISTS records_count_insert AFTER INSERT ON records BEGIN
  INSERT INTO state_counts (state, n, bytes) VALUES (new.state, 1, new.size)
    ON CONFLICT(state) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS records_count_delete AFTER DELETE ON records BEGIN
  UPDATE state_counts SET n = n - 1, bytes = bytes - old.size WHERE state = old.state;
END;
CREATE TRIGGER IF NOT EXISTS records_count_update AFTER UPDATE OF state, size ON records BEGIN
  UPDATE state_counts SET n = n - 1, bytes = bytes - old.size WHERE state = old.state;
  INSERT INTO state_counts (state, n, bytes) VALUES (new.state, 1, new.size)
    ON CONFLICT(state) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;
END;
`;

const COLUMNS = RECORD_READ_COLUMNS;

/** Far enough in the future to stand for "still recording" in overlap tests. */
const OPEN_END = 8.64e15;

/** Ties broken by rowid: the (start_ms) and (stream_name, start_ms) indexes then give the order without a sort. */
const SORTS: Readonly<Record<NonNullable<FindQuery['sort']>, string>> = {
  start: 'start_ms ASC, id ASC',
  '-start': 'start_ms DESC, id DESC',
  end: 'COALESCE(end_ms, 8640000000000000) ASC, id ASC',
  '-end': 'COALESCE(end_ms, 8640000000000000) DESC, id DESC',
};

/** The catalog file cannot be opened or created (bad catalog_path, not a database, no permission). */
export class CatalogOpenError extends Error {}

export interface SqliteCatalogOptions {
  /** Pages of SQLite's cache, as its cache_size pragma (negative: KiB). Default -8000 (8 MB). */
  readonly cacheSize?: number;
  /** This node's node_id (every row of the embedded catalog is its own). Default 'local'. */
  readonly nodeId?: string;
}

/**
 * The catalog in one SQLite file (better-sqlite3): WAL journal,
 * synchronous=NORMAL (a crash loses at most the last transactions, never
 * the file's consistency), prepared statements, indexes on
 * (stream_name, start_ms), start_ms and state, file names unique.
 * Every call is synchronous underneath; the async interface is for
 * implementations over a network.
 */
export class SqliteCatalog implements Catalog {
  readonly #db: Database.Database;
  readonly #upsert: Database.Statement;
  readonly #finishFromTemp: Database.Statement;
  readonly #deleteByName: Database.Statement;
  readonly #get: Database.Statement;
  readonly #setState: Database.Statement;
  readonly #markGone: Database.Statement;
  readonly #markDeleted: Database.Statement;
  readonly #pin: Database.Statement;
  readonly #upsertCut: Database.Statement;
  readonly #overlapping: Database.Statement;
  readonly #spans: Database.Statement;
  readonly #oldestRecording: Database.Statement;
  /** Longest finished record (ms): bounds the index range of overlap searches. */
  #maxSpanMs = 0;
  readonly nodeId: string;

  private constructor(readonly file: string, options: SqliteCatalogOptions) {
    this.nodeId = options.nodeId ?? 'local';
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma(`cache_size = ${Math.trunc(options.cacheSize ?? -8000)}`);
    this.#db.pragma('foreign_keys = OFF');
    this.#db.exec(SCHEMA);
    // catalogs made before pause/resume (issue 18) have no pauses column
    const columns0 = this.#db.prepare('PRAGMA table_info(records)').all() as { name: string }[];
    if (!columns0.some((c) => c.name === 'pauses')) this.#db.exec('ALTER TABLE records ADD COLUMN pauses TEXT');
    this.#db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
    if (this.#db.prepare("SELECT value FROM meta WHERE key = 'state_counts'").get() === undefined) {
      // counts per state, kept by triggers from now on: the total of an unfiltered find without a scan
      this.#db.transaction(() => {
        this.#db.exec('DELETE FROM state_counts; INSERT INTO state_counts (state, n, bytes) SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM records GROUP BY state');
        this.#db.prepare("INSERT INTO meta (key, value) VALUES ('state_counts', '1')").run();
      })();
    }
    const columns: readonly string[] = RECORD_WRITTEN;
    const values = columns.map((c) => `@${c}`);
    this.#upsert = this.#db.prepare(
      `INSERT INTO records (${columns.join(', ')}) VALUES (${values.join(', ')})
       ON CONFLICT(file_name) DO UPDATE SET ${columns
         .filter((c) => c !== 'file_name')
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}, deleted_at = NULL, deleted_reason = NULL
       WHERE excluded.stream_name IS NOT NULL OR records.stream_name IS NULL OR records.state IN ('gone', 'deleted')`,
    );
    this.#finishFromTemp = this.#db.prepare(
      `UPDATE records SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE file_name = @temp_name`,
    );
    this.#deleteByName = this.#db.prepare('DELETE FROM records WHERE file_name = ?');
    this.#get = this.#db.prepare(`SELECT ${COLUMNS} FROM records WHERE file_name = ?`);
    this.#setState = this.#db.prepare('UPDATE records SET state = ? WHERE file_name = ?');
    // only a file on disk can vanish: a deleted row keeps its state, when and why
    this.#markGone = this.#db.prepare("UPDATE records SET state = 'gone' WHERE file_name = ? AND state IN ('recording', 'finished', 'recovered', 'broken')");
    this.#markDeleted = this.#db.prepare("UPDATE records SET state = 'deleted', deleted_at = ?, deleted_reason = ? WHERE file_name = ?");
    this.#pin = this.#db.prepare('UPDATE records SET pinned = ? WHERE file_name = ?');
    this.#upsertCut = this.#db.prepare(
      `INSERT INTO cuts (file_name, dir, source_file_name, size, created_ms) VALUES (@file_name, @dir, @source_file_name, @size, @created_ms)
       ON CONFLICT(file_name) DO UPDATE SET dir = excluded.dir, source_file_name = excluded.source_file_name, size = excluded.size, created_ms = excluded.created_ms`,
    );
    this.#overlapping = this.#db.prepare(
      `SELECT file_name, dir, stream_name, start_ms, end_ms, container FROM records
       WHERE stream_name = @stream AND start_ms < @to AND start_ms >= @lower AND end_ms > @from AND state IN ('finished', 'recovered', 'remote')
       ORDER BY start_ms`,
    );
    // ORDER BY start_ms alone comes straight from the (stream_name, start_ms, state) index (ties in
    // state then rowid order); adding id made SQLite sort tens of thousands of rows in a temp B-tree
    this.#spans = this.#db.prepare(
      `SELECT file_name, start_ms, end_ms FROM records
       WHERE stream_name = @stream AND start_ms < @to AND start_ms >= @lower AND end_ms > @from AND state IN ('finished', 'recovered', 'remote')
       ORDER BY start_ms`,
    );
    this.#oldestRecording = this.#db.prepare("SELECT MIN(start_ms) AS m FROM records WHERE state = 'recording'");
    const max = this.#db.prepare('SELECT MAX(end_ms - start_ms) AS m FROM records WHERE end_ms IS NOT NULL').get() as { m: number | null };
    this.#maxSpanMs = max.m ?? 0;
  }

  /** Opens (creating when needed) the catalog file. */
  static open(file: string, options: SqliteCatalogOptions = {}): SqliteCatalog {
    try {
      return new SqliteCatalog(file, options);
    } catch (err) {
      throw new CatalogOpenError(`Cannot open the record catalog '${file}' (catalog_path): ${(err as Error).message}`);
    }
  }

  async ready(): Promise<void> {}

  #noteSpan(row: RecordRow): void {
    if (row.endMs !== null && row.endMs - row.startMs > this.#maxSpanMs) this.#maxSpanMs = row.endMs - row.startMs;
  }

  async upsert(row: RecordRow): Promise<void> {
    this.upsertSync(row);
  }

  async upsertMany(rows: readonly RecordRow[]): Promise<void> {
    if (rows.length === 0) return;
    this.#db.transaction(() => {
      for (const row of rows) this.upsertSync(row);
    })();
  }

  /** upsert() without the promise (bulk loads, benchmarks). */
  upsertSync(row: RecordRow): void {
    this.#upsert.run(recordColumnValues(row));
    this.#noteSpan(row);
  }

  /** Runs `fn` in one transaction (bulk reconcile). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  async finishPart(part: FinishedPart): Promise<void> {
    this.#db.transaction(() => {
      // a foreign row of the same name (the file was seen on disk before the recorder reported it) gives way
      if (part.row.fileName !== part.tempName) this.#deleteByName.run(part.row.fileName);
      const changed = this.#finishFromTemp.run({ ...recordColumnValues(part.row), temp_name: part.tempName }).changes;
      if (changed === 0) this.#upsert.run(recordColumnValues(part.row));
    })();
    this.#noteSpan(part.row);
  }

  async markGone(fileNames: readonly string[]): Promise<void> {
    this.#db.transaction(() => {
      for (const name of fileNames) this.#markGone.run(name);
    })();
  }

  async markBroken(fileName: string): Promise<void> {
    this.#setState.run('broken', fileName);
  }

  async markDeleted(fileName: string, reason: string, atMs: number): Promise<void> {
    this.#markDeleted.run(Math.round(atMs), reason, fileName);
  }

  async remove(fileName: string): Promise<void> {
    this.#deleteByName.run(fileName);
  }

  async get(fileName: string): Promise<CatalogRecord | null> {
    const r = this.#get.get(fileName) as RecordDbRow | undefined;
    return r ? recordOf(r, this.nodeId) : null;
  }

  async find(query: FindQuery): Promise<FindResult> {
    return this.findSync(query);
  }

  findSync(query: FindQuery): FindResult {
    // every row of the embedded catalog is this node's
    if (query.nodeId !== undefined && query.nodeId !== this.nodeId) return { total: 0, records: [] };
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (query.streamName !== undefined) {
      where.push('stream_name = @stream');
      params.stream = query.streamName;
    }
    if (query.mediaSessionId !== undefined) {
      where.push('media_session_id = @msid');
      params.msid = query.mediaSessionId;
    }
    if (query.provider !== undefined) {
      where.push('provider = @provider');
      params.provider = query.provider;
    }
    if (query.fileName !== undefined) {
      where.push('file_name = @file');
      params.file = query.fileName;
    }
    if (query.dir !== undefined) {
      where.push('dir = @dir');
      params.dir = query.dir;
    }
    if (query.toMs !== undefined) {
      where.push('start_ms < @to');
      params.to = query.toMs;
    }
    if (query.fromMs !== undefined) {
      // no row lasts longer than the longest finished one or the oldest recording in progress:
      // that lower bound on start_ms keeps the search a short index range
      where.push('start_ms >= @lower AND COALESCE(end_ms, @open) > @from');
      params.from = query.fromMs;
      params.lower = this.#lowerStart(query.fromMs);
      params.open = OPEN_END;
    }
    const states = query.states ?? PRESENT_STATES;
    const stateList = `(${states.map((_, i) => `@s${i}`).join(', ')})`;
    states.forEach((s, i) => (params[`s${i}`] = s));
    // the state index serves the count (and rare states such as 'recording'); the page of the common
    // states is read along the start_ms indexes instead ('+state' keeps the planner off the state index)
    const rare = states.length === 1 && (states[0] === 'recording' || states[0] === 'deleted' || states[0] === 'gone');
    // (the indexes carry state too: counts over a stream or a time range never read the table)
    const countClause = `WHERE ${[...where, `${rare || where.length === 0 ? '' : '+'}state IN ${stateList}`].join(' AND ')}`;
    const pageClause = `WHERE ${[...where, `${rare ? '' : '+'}state IN ${stateList}`].join(' AND ')}`;
    const total =
      where.length === 0
        ? ((this.#statement(`SELECT COALESCE(SUM(n), 0) AS n FROM state_counts WHERE state IN ${stateList}`).get(params) as { n: number }).n)
        : (this.#statement(`SELECT COUNT(*) AS n FROM records ${countClause}`).get(params) as { n: number }).n;
    const rows = this.#statement(`SELECT ${COLUMNS} FROM records ${pageClause} ORDER BY ${SORTS[query.sort ?? 'start']} LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: query.limit ?? 100, offset: query.offset ?? 0 }) as RecordDbRow[];
    return { total, records: rows.map((r) => recordOf(r, this.nodeId)) };
  }

  /** The earliest start a row overlapping [fromMs, ...) can have. */
  #lowerStart(fromMs: number): number {
    const oldest = (this.#oldestRecording.get() as { m: number | null }).m;
    const lower = fromMs - this.#maxSpanMs - 1;
    return oldest === null ? lower : Math.min(lower, oldest);
  }

  /** Prepared statements of find(), kept by their SQL (a handful of filter combinations). */
  readonly #statements = new Map<string, Database.Statement>();

  #statement(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) {
      if (this.#statements.size > 200) this.#statements.clear();
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  async partsOverlapping(streamName: string, fromMs: number, toMs: number): Promise<readonly RecordedPart[]> {
    return this.partsOverlappingSync(streamName, fromMs, toMs);
  }

  partsOverlappingSync(streamName: string, fromMs: number, toMs: number): RecordedPart[] {
    // rows streamed as arrays, one path join per folder: a 30-day timeline is tens of thousands of parts
    const rows = this.#overlapping.raw(true).iterate({ stream: streamName, from: fromMs, to: toMs, lower: this.#lowerStart(fromMs) }) as IterableIterator<
      [string, string, string | null, number, number | null, string]
    >;
    const prefixes = new Map<string, string>();
    const parts: RecordedPart[] = [];
    for (const [fileName, dir, stream, startMs, endMs, container] of rows) {
      let prefix = prefixes.get(dir);
      if (prefix === undefined) prefixes.set(dir, (prefix = path.join(dir, path.sep)));
      parts.push({ path: prefix + fileName, fileName, streamName: stream ?? streamName, startMs, endMs: endMs ?? startMs, container, nodeId: this.nodeId });
    }
    return parts;
  }

  async spansOverlapping(streamName: string, fromMs: number, toMs: number): Promise<TimelineSpan[]> {
    return this.spansOverlappingSync(streamName, fromMs, toMs);
  }

  /** Three columns, no paths: a 30-day timeline is tens of thousands of parts. */
  spansOverlappingSync(streamName: string, fromMs: number, toMs: number): TimelineSpan[] {
    // iterate(), not all(): all() is faster but holds every row twice at the peak (twice the memory)
    const rows = this.#spans.raw(true).iterate({ stream: streamName, from: fromMs, to: toMs, lower: this.#lowerStart(fromMs) }) as IterableIterator<
      [string, number, number | null]
    >;
    const spans: TimelineSpan[] = [];
    for (const [fileName, start, end] of rows) spans.push({ start, end: end ?? start, fileName });
    return spans;
  }

  async presentIn(dir: string): Promise<Map<string, { size: number; mtimeMs: number; state: RecordState }>> {
    const rows = this.#db
      .prepare(`SELECT file_name, size, mtime_ms, state FROM records WHERE dir = ? AND state IN ('finished', 'recovered', 'broken')`)
      .all(dir) as Pick<RecordDbRow, 'file_name' | 'size' | 'mtime_ms' | 'state'>[];
    return new Map(rows.map((r) => [r.file_name, { size: Number(r.size), mtimeMs: Number(r.mtime_ms), state: r.state as RecordState }]));
  }

  async pin(fileName: string, pinned: boolean): Promise<boolean> {
    return this.#pin.run(pinned ? 1 : 0, fileName).changes > 0;
  }

  async upsertCut(cut: CutEntry): Promise<void> {
    this.#upsertCut.run({ file_name: cut.fileName, dir: cut.dir, source_file_name: cut.sourceFileName, size: cut.size, created_ms: Math.round(cut.createdMs) });
  }

  async removeCut(fileName: string): Promise<void> {
    this.#db.prepare('DELETE FROM cuts WHERE file_name = ?').run(fileName);
  }

  async cuts(): Promise<CutEntry[]> {
    const rows = this.#db.prepare(`SELECT ${CUT_READ_COLUMNS} FROM cuts ORDER BY created_ms`).all() as CutDbRow[];
    return rows.map(cutOf);
  }

  async cutsOf(sourceFileName: string): Promise<CutEntry[]> {
    const rows = this.#db
      .prepare(`SELECT ${CUT_READ_COLUMNS} FROM cuts WHERE source_file_name = ? ORDER BY created_ms`)
      .all(sourceFileName) as CutDbRow[];
    return rows.map(cutOf);
  }

  async retentionRows(limit: number): Promise<RetentionRows> {
    const rows = this.#db
      .prepare(`SELECT ${COLUMNS} FROM records WHERE state IN ('recording', 'finished', 'recovered', 'broken') ORDER BY start_ms, id LIMIT ?`)
      .all(limit) as RecordDbRow[];
    const recording = this.#db.prepare(`SELECT ${COLUMNS} FROM records WHERE state = 'recording'`).all() as RecordDbRow[];
    const bytes = this.#db
      .prepare("SELECT COALESCE(SUM(bytes), 0) AS b FROM state_counts WHERE state IN ('recording', 'finished', 'recovered', 'broken')")
      .get() as { b: number };
    const cuts = await this.cuts();
    return {
      records: rows.map((r) => recordOf(r, this.nodeId)),
      recording: recording.map((r) => recordOf(r, this.nodeId)),
      cuts,
      totalBytes: bytes.b + cuts.reduce((sum, c) => sum + c.size, 0),
    };
  }

  async getMeta(key: string): Promise<string | null> {
    const r = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** The database, for the stores that keep their own tables in the same file (uploads, webhook outbox). */
  get database(): Database.Database {
    return this.#db;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
