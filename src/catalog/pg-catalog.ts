import path from 'node:path';
import type pg from 'pg';
import { loadOptional } from '../util/optional-module.js';
import type { TimelineSpan } from './timeline.js';
import {
  PRESENT_STATES,
  type Catalog,
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
import { migrate, type Migration } from './pg-migrations.js';
import { CatalogUnavailableError, isConnectionFailure } from './catalog-errors.js';
import { CUT_READ_COLUMNS, cutOf, type CutDbRow, RECORD_READ_COLUMNS, RECORD_WRITTEN, recordColumnValues, recordOf, type RecordDbRow } from './record-db-row.js';

/**
 * The catalog in PostgreSQL (`catalog_url=postgres://...`), shared by every
 * node of a cluster. Same contract as SqliteCatalog (the same tests run
 * against both); every row carries the node_id of the node whose disk
 * holds the file. File names are unique over the whole catalog.
 */

/** Versioned schema: each step runs once, in order, in one transaction, under an advisory lock (nodes starting together). */
export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'records, cuts, meta, nodes',
    sql: `
CREATE TABLE records (
  id BIGSERIAL PRIMARY KEY,
  node_id TEXT NOT NULL,
  file_name TEXT NOT NULL UNIQUE,
  dir TEXT NOT NULL,
  stream_name TEXT,
  media_session_id TEXT,
  provider TEXT NOT NULL,
  login TEXT NOT NULL DEFAULT '',
  start_ms BIGINT NOT NULL,
  end_ms BIGINT,
  duration_ms BIGINT,
  size BIGINT NOT NULL DEFAULT 0,
  container TEXT NOT NULL,
  video_codec TEXT NOT NULL DEFAULT '',
  audio_codec TEXT NOT NULL DEFAULT '',
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  part INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL,
  pinned BOOLEAN NOT NULL DEFAULT FALSE,
  mtime_ms BIGINT NOT NULL DEFAULT 0,
  deleted_at BIGINT,
  deleted_reason TEXT
);
CREATE INDEX records_stream_start ON records (stream_name, start_ms, state);
CREATE INDEX records_start ON records (start_ms, state);
CREATE INDEX records_state ON records (state);
CREATE INDEX records_node_dir ON records (node_id, dir, state);
CREATE TABLE cuts (
  file_name TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  dir TEXT NOT NULL,
  source_file_name TEXT NOT NULL,
  size BIGINT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX cuts_source ON cuts (source_file_name);
CREATE TABLE meta (node_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (node_id, key));
CREATE TABLE nodes (
  node_id TEXT PRIMARY KEY,
  public_url TEXT NOT NULL,
  started_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  streams JSONB NOT NULL DEFAULT '[]'::jsonb,
  stopped_ms BIGINT
);
`,
  },
  {
    version: 2,
    name: 'upload queue and webhook outbox (issue 19 parts 1 and 2)',
    sql: `
CREATE TABLE uploads (
  file_name TEXT PRIMARY KEY,
  dir TEXT NOT NULL,
  node TEXT NOT NULL,
  bucket TEXT NOT NULL,
  object_key TEXT NOT NULL,
  size BIGINT NOT NULL,
  record_start_ms BIGINT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL,
  last_error TEXT,
  sha256 TEXT,
  etag TEXT,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  uploaded_ms BIGINT,
  local_deleted BOOLEAN NOT NULL DEFAULT FALSE,
  remote_deleted_at BIGINT
);
CREATE INDEX uploads_due ON uploads (state, node, next_attempt_ms);
CREATE INDEX uploads_bucket_age ON uploads (state, record_start_ms);
CREATE TABLE webhook_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE webhook_deliveries (
  event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  delivered_ms BIGINT,
  claimed_by TEXT,
  PRIMARY KEY (event_id, url)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ms);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_ms);
`,
  },
  {
    version: 3,
    name: 'longest record, kept by a trigger: a lower bound on start_ms for overlap searches',
    sql: `
CREATE TABLE span_stats (id INTEGER PRIMARY KEY CHECK (id = 1), max_span_ms BIGINT NOT NULL);
INSERT INTO span_stats (id, max_span_ms) VALUES (1, COALESCE((SELECT MAX(end_ms - start_ms) FROM records WHERE end_ms IS NOT NULL), 0));
CREATE FUNCTION wcs_note_span() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- the row is written only when a record is longer than any before (rare): no contention on it
  IF NEW.end_ms IS NOT NULL AND NEW.end_ms - NEW.start_ms > (SELECT max_span_ms FROM span_stats WHERE id = 1) THEN
    UPDATE span_stats SET max_span_ms = NEW.end_ms - NEW.start_ms WHERE id = 1 AND max_span_ms < NEW.end_ms - NEW.start_ms;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER records_note_span AFTER INSERT OR UPDATE OF start_ms, end_ms ON records FOR EACH ROW EXECUTE FUNCTION wcs_note_span();
`,
  },
  {
    version: 4,
    name: 'counts per state as appended deltas: the total of an unfiltered find without a scan',
    sql: `
CREATE TABLE state_deltas (id BIGSERIAL PRIMARY KEY, state TEXT NOT NULL, dn BIGINT NOT NULL, dbytes BIGINT NOT NULL);
INSERT INTO state_deltas (state, dn, dbytes) SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM records GROUP BY state;
CREATE FUNCTION wcs_count_states() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- rows appended, never a shared counter updated: writers of several nodes never wait on each other
  IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.size = NEW.size THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO state_deltas (state, dn, dbytes) VALUES (OLD.state, -1, -OLD.size);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO state_deltas (state, dn, dbytes) VALUES (NEW.state, 1, NEW.size);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER records_count_states AFTER INSERT OR DELETE OR UPDATE OF state, size ON records FOR EACH ROW EXECUTE FUNCTION wcs_count_states();
`,
  },
  {
    version: 5,
    name: 'the pauses of a paused-and-resumed record (issue 18), as the embedded catalog keeps them',
    sql: `ALTER TABLE records ADD COLUMN pauses TEXT;`,
  },
];

/** How often a node folds the appended count deltas into one row per state. */
const COMPACT_COUNTS_MS = 30_000;

/**
 * Folds the count deltas into one row per state: the rows this snapshot sees
 * are deleted and their sums inserted in one statement, so nodes doing it
 * at the same time stay correct (each folds the rows it deleted).
 */
const COMPACT_COUNTS = `WITH gone AS (DELETE FROM state_deltas RETURNING state, dn, dbytes)
  INSERT INTO state_deltas (state, dn, dbytes) SELECT state, SUM(dn), SUM(dbytes) FROM gone GROUP BY state HAVING SUM(dn) <> 0 OR SUM(dbytes) <> 0`;

/**
 * No record lasts longer than the longest finished one, and none in progress
 * started before the oldest recording: the earliest start a row overlapping
 * [from, ...) can have. It turns an overlap search into a short index range
 * (as SqliteCatalog does with the span it keeps in memory).
 */
const LOWER_START = (from: string): string =>
  `start_ms >= LEAST(${from}::bigint - (SELECT max_span_ms FROM span_stats WHERE id = 1) - 1, COALESCE((SELECT MIN(start_ms) FROM records WHERE state = 'recording'), ${from}::bigint))`;
/** The same for finished parts only (no recording can overlap). */
const LOWER_START_FINISHED = (from: string): string => `start_ms >= ${from}::bigint - (SELECT max_span_ms FROM span_stats WHERE id = 1) - 1`;

const COLUMNS = `node_id, ${RECORD_READ_COLUMNS}`;

/*
 * 'remote' (a record whose local file was deleted after a verified upload, from the upload branch) is
 * named in the SQL of parts and spans already, so that such records play once that state exists.
 */

/** The columns a RecordRow writes, in the order of rowValues(). */
const WRITTEN = ['node_id', ...RECORD_WRITTEN] as const;

const OPEN_END = 8.64e15;

/** pg, loaded with the first PgCatalog (a daemon on the embedded catalog never loads it). */
const pgModule = (): typeof pg => loadOptional<typeof pg>('pg');

/** BIGINT (int8) and NUMERIC (SUM) as JS numbers: ms since 1970 and byte counts stay far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pgModule().types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

const toRecord = (r: RecordDbRow): CatalogRecord => recordOf(r, r.node_id ?? '');

function rowValues(nodeId: string, row: RecordRow): (string | number | null)[] {
  const values = recordColumnValues(row);
  return [nodeId, ...RECORD_WRITTEN.map((c) => values[c])];
}

const PLACEHOLDERS = WRITTEN.map((_, i) => `$${i + 1}`).join(', ');

/**
 * Insert or replace by file name, keeping the pin. A row of another node is
 * never taken over unless it is gone or deleted (file names are unique over
 * the cluster); a row without a stream (a file found on disk) never replaces
 * this node's present record.
 */
const UPSERT = `INSERT INTO records (${WRITTEN.join(', ')}) VALUES (${PLACEHOLDERS})
  ON CONFLICT (file_name) DO UPDATE SET ${WRITTEN.filter((c) => c !== 'file_name')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}, deleted_at = NULL, deleted_reason = NULL
  WHERE records.state IN ('gone', 'deleted')
     OR (records.node_id = excluded.node_id AND (excluded.stream_name IS NOT NULL OR records.stream_name IS NULL))`;

/** Rows per statement of upsertMany (20 parameters each, well under PostgreSQL's 65,535). */
const UPSERT_BATCH = 500;

/** UPSERT with `n` rows of values. */
function upsertBatchSql(n: number): string {
  const tuples = Array.from({ length: n }, (_, r) => `(${WRITTEN.map((_, c) => `$${r * WRITTEN.length + c + 1}`).join(', ')})`);
  return UPSERT.replace(`VALUES (${PLACEHOLDERS})`, `VALUES ${tuples.join(', ')}`);
}

const SORTS: Readonly<Record<NonNullable<FindQuery['sort']>, string>> = {
  start: 'start_ms ASC, id ASC',
  '-start': 'start_ms DESC, id DESC',
  end: 'COALESCE(end_ms, 8640000000000000) ASC, id ASC',
  '-end': 'COALESCE(end_ms, 8640000000000000) DESC, id DESC',
};

/** The database cannot be reached or its schema is newer than this daemon. */
export class PgCatalogError extends Error {}

export interface PgCatalogOptions {
  readonly nodeId: string;
  /** Connections in the pool. Default 10. */
  readonly maxConnections?: number;
  /** Per statement, ms (a hung database fails calls instead of holding them). Default 30000. */
  readonly statementTimeoutMs?: number;
}

/** The catalog_url without its password (for logs and errors). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export class PgCatalog implements Catalog {
  readonly nodeId: string;
  readonly pool: pg.Pool;
  readonly #ready: Promise<void>;
  #closed = false;

  constructor(
    readonly url: string,
    options: PgCatalogOptions,
  ) {
    this.nodeId = options.nodeId;
    this.pool = new (pgModule().Pool)({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      application_name: `wcs-recorder ${options.nodeId}`.slice(0, 63),
      types: TYPES,
    });
    // an idle connection the server drops must not crash the daemon: the pool replaces it
    this.pool.on('error', () => undefined);
    this.#ready = migrate(this.pool, PG_MIGRATIONS).then(
      () => undefined,
      (err: Error) => {
        throw new PgCatalogError(`Cannot open the record catalog ${redactUrl(url)} (catalog_url): ${err.message}`);
      },
    );
    // callers that never await ready() must not see an unhandled rejection
    this.#ready.catch(() => undefined);
    this.#compactTimer = setInterval(() => void this.compactCounts().catch(() => undefined), COMPACT_COUNTS_MS);
    this.#compactTimer.unref();
  }

  #compactTimer: NodeJS.Timeout;

  /** Folds the appended count deltas (every 30 s on its own; a failure waits for the next time). */
  async compactCounts(): Promise<void> {
    await this.#query(COMPACT_COUNTS);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.#ready;
    try {
      return await this.pool.query<R>(sql, values);
    } catch (err) {
      throw this.#unavailable(err);
    }
  }

  /** A connection failure becomes CatalogUnavailableError (REST: 503); other errors stay as they are. */
  #unavailable(err: unknown): unknown {
    if (!isConnectionFailure(err)) return err;
    // what went wrong, never where the database is (the answer may go to anyone who can call the API)
    const code = (err as { code?: unknown }).code;
    return new CatalogUnavailableError(`The record catalog's database (catalog_url) cannot be reached: ${typeof code === 'string' ? code : 'connection failed'}`);
  }

  /** Runs `fn` in one transaction on one connection. */
  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.#ready;
    const client = await this.pool.connect().catch((err: unknown) => {
      throw this.#unavailable(err);
    });
    // a connection that breaks between two statements emits 'error': the statement after it fails instead
    let broken = false;
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw this.#unavailable(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async upsert(row: RecordRow): Promise<void> {
    await this.#query(UPSERT, rowValues(this.nodeId, row));
  }

  async upsertMany(rows: readonly RecordRow[]): Promise<void> {
    if (rows.length === 0) return;
    // one statement per batch (a round trip per row made a reconcile of 100,000 files take tens of seconds);
    // a name given twice keeps its last row (one statement cannot update a row twice)
    const last = new Map<string, RecordRow>();
    for (const row of rows) {
      last.delete(row.fileName);
      last.set(row.fileName, row);
    }
    const unique = [...last.values()];
    await this.#transaction(async (client) => {
      for (let i = 0; i < unique.length; i += UPSERT_BATCH) {
        const batch = unique.slice(i, i + UPSERT_BATCH);
        const values = batch.flatMap((row) => rowValues(this.nodeId, row));
        await client.query(upsertBatchSql(batch.length), values);
      }
    });
  }

  async finishPart(part: FinishedPart): Promise<void> {
    await this.#transaction(async (client) => {
      // a foreign row of the same name (the file was seen on disk before the recorder reported it) gives way
      if (part.row.fileName !== part.tempName) await client.query('DELETE FROM records WHERE file_name = $1 AND node_id = $2', [part.row.fileName, this.nodeId]);
      const sets = WRITTEN.map((c, i) => `${c} = $${i + 1}`).join(', ');
      const changed = await client.query(`UPDATE records SET ${sets} WHERE file_name = $${WRITTEN.length + 1} AND node_id = $1`, [
        ...rowValues(this.nodeId, part.row),
        part.tempName,
      ]);
      if ((changed.rowCount ?? 0) === 0) await client.query(UPSERT, rowValues(this.nodeId, part.row));
    });
  }

  async markGone(fileNames: readonly string[]): Promise<void> {
    if (fileNames.length === 0) return;
    await this.#query(
      "UPDATE records SET state = 'gone' WHERE file_name = ANY($1) AND node_id = $2 AND state IN ('recording', 'finished', 'recovered', 'broken')",
      [fileNames, this.nodeId],
    );
  }

  async markBroken(fileName: string): Promise<void> {
    await this.#query("UPDATE records SET state = 'broken' WHERE file_name = $1 AND node_id = $2", [fileName, this.nodeId]);
  }

  async markDeleted(fileName: string, reason: string, atMs: number): Promise<void> {
    await this.#query("UPDATE records SET state = 'deleted', deleted_at = $1, deleted_reason = $2 WHERE file_name = $3 AND node_id = $4", [
      Math.round(atMs),
      reason,
      fileName,
      this.nodeId,
    ]);
  }

  async remove(fileName: string): Promise<void> {
    await this.#query('DELETE FROM records WHERE file_name = $1 AND node_id = $2', [fileName, this.nodeId]);
  }

  async get(fileName: string): Promise<CatalogRecord | null> {
    const r = await this.#query<RecordDbRow>(`SELECT ${COLUMNS} FROM records WHERE file_name = $1`, [fileName]);
    return r.rows[0] ? toRecord(r.rows[0]) : null;
  }

  async find(query: FindQuery): Promise<FindResult> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: (n: string) => string, value: unknown): void => {
      values.push(value);
      where.push(clause(`$${values.length}`));
    };
    if (query.streamName !== undefined) add((p) => `stream_name = ${p}`, query.streamName);
    if (query.mediaSessionId !== undefined) add((p) => `media_session_id = ${p}`, query.mediaSessionId);
    if (query.provider !== undefined) add((p) => `provider = ${p}`, query.provider);
    if (query.fileName !== undefined) add((p) => `file_name = ${p}`, query.fileName);
    if (query.dir !== undefined) add((p) => `dir = ${p}`, query.dir);
    if (query.nodeId !== undefined) add((p) => `node_id = ${p}`, query.nodeId);
    if (query.toMs !== undefined) add((p) => `start_ms < ${p}`, Math.round(query.toMs));
    if (query.fromMs !== undefined) add((p) => `COALESCE(end_ms, ${OPEN_END}) > ${p} AND ${LOWER_START(p)}`, Math.round(query.fromMs));
    const unfiltered = where.length === 0;
    add((p) => `state = ANY(${p})`, [...(query.states ?? PRESENT_STATES)]);
    const clause = `WHERE ${where.join(' AND ')}`;
    // no filter but the states: the counts kept by the trigger, not a scan of every row
    const count = unfiltered
      ? await this.#query<{ n: number }>('SELECT COALESCE(SUM(dn), 0)::bigint AS n FROM state_deltas WHERE state = ANY($1)', values)
      : await this.#query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM records ${clause}`, values);
    const page = await this.#query<RecordDbRow>(
      `SELECT ${COLUMNS} FROM records ${clause} ORDER BY ${SORTS[query.sort ?? 'start']} LIMIT $${values.length + 1} OFFSET $${values.length + 2}`,
      [...values, query.limit ?? 100, query.offset ?? 0],
    );
    return { total: count.rows[0]?.n ?? 0, records: page.rows.map(toRecord) };
  }

  async partsOverlapping(streamName: string, fromMs: number, toMs: number): Promise<readonly RecordedPart[]> {
    const r = await this.#query<Pick<RecordDbRow, 'node_id' | 'file_name' | 'dir' | 'stream_name' | 'start_ms' | 'end_ms' | 'container'>>(
      `SELECT node_id, file_name, dir, stream_name, start_ms, end_ms, container FROM records
       WHERE stream_name = $1 AND start_ms < $3 AND end_ms > $2 AND ${LOWER_START_FINISHED('$2')} AND state IN ('finished', 'recovered', 'remote') ORDER BY start_ms, id`,
      [streamName, Math.round(fromMs), Math.round(toMs)],
    );
    return r.rows.map((p) => ({
      path: path.join(p.dir, p.file_name),
      fileName: p.file_name,
      streamName: p.stream_name ?? streamName,
      startMs: Number(p.start_ms),
      endMs: Number(p.end_ms ?? p.start_ms),
      container: p.container,
      nodeId: p.node_id ?? '',
    }));
  }

  async spansOverlapping(streamName: string, fromMs: number, toMs: number): Promise<TimelineSpan[]> {
    const r = await this.#query<{ file_name: string; start_ms: number; end_ms: number | null }>(
      `SELECT file_name, start_ms, end_ms FROM records
       WHERE stream_name = $1 AND start_ms < $3 AND end_ms > $2 AND ${LOWER_START_FINISHED('$2')} AND state IN ('finished', 'recovered', 'remote') ORDER BY start_ms, id`,
      [streamName, Math.round(fromMs), Math.round(Math.min(toMs, OPEN_END))],
    );
    return r.rows.map((s) => ({ start: s.start_ms, end: s.end_ms ?? s.start_ms, fileName: s.file_name }));
  }

  async presentIn(dir: string): Promise<Map<string, { size: number; mtimeMs: number; state: RecordState }>> {
    const r = await this.#query<Pick<RecordDbRow, 'file_name' | 'size' | 'mtime_ms' | 'state'>>(
      `SELECT file_name, size, mtime_ms, state FROM records WHERE node_id = $1 AND dir = $2 AND state IN ('finished', 'recovered', 'broken')`,
      [this.nodeId, dir],
    );
    return new Map(r.rows.map((x) => [x.file_name, { size: Number(x.size), mtimeMs: Number(x.mtime_ms), state: x.state as RecordState }]));
  }

  async pin(fileName: string, pinned: boolean): Promise<boolean> {
    const r = await this.#query('UPDATE records SET pinned = $1 WHERE file_name = $2', [pinned, fileName]);
    return (r.rowCount ?? 0) > 0;
  }

  async upsertCut(cut: CutEntry): Promise<void> {
    await this.#query(
      `INSERT INTO cuts (file_name, node_id, dir, source_file_name, size, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (file_name) DO UPDATE SET node_id = excluded.node_id, dir = excluded.dir, source_file_name = excluded.source_file_name,
         size = excluded.size, created_ms = excluded.created_ms`,
      [cut.fileName, this.nodeId, cut.dir, cut.sourceFileName, cut.size, Math.round(cut.createdMs)],
    );
  }

  async removeCut(fileName: string): Promise<void> {
    await this.#query('DELETE FROM cuts WHERE file_name = $1 AND node_id = $2', [fileName, this.nodeId]);
  }

  async cuts(): Promise<CutEntry[]> {
    const r = await this.#query<CutDbRow>(`SELECT ${CUT_READ_COLUMNS} FROM cuts WHERE node_id = $1 ORDER BY created_ms`, [
      this.nodeId,
    ]);
    return r.rows.map(cutOf);
  }

  async cutsOf(sourceFileName: string): Promise<CutEntry[]> {
    const r = await this.#query<CutDbRow>(
      `SELECT ${CUT_READ_COLUMNS} FROM cuts WHERE node_id = $1 AND source_file_name = $2 ORDER BY created_ms`,
      [this.nodeId, sourceFileName],
    );
    return r.rows.map(cutOf);
  }

  async retentionRows(limit: number): Promise<RetentionRows> {
    const present = "state IN ('recording', 'finished', 'recovered', 'broken')";
    const rows = await this.#query<RecordDbRow>(`SELECT ${COLUMNS} FROM records WHERE node_id = $1 AND ${present} ORDER BY start_ms, id LIMIT $2`, [
      this.nodeId,
      limit,
    ]);
    const recording = await this.#query<RecordDbRow>(`SELECT ${COLUMNS} FROM records WHERE node_id = $1 AND state = 'recording'`, [this.nodeId]);
    const bytes = await this.#query<{ b: number }>(`SELECT COALESCE(SUM(size), 0) AS b FROM records WHERE node_id = $1 AND ${present}`, [this.nodeId]);
    const cuts = await this.cuts();
    return {
      records: rows.rows.map(toRecord),
      recording: recording.rows.map(toRecord),
      cuts,
      totalBytes: (bytes.rows[0]?.b ?? 0) + cuts.reduce((sum, c) => sum + c.size, 0),
    };
  }

  async getMeta(key: string): Promise<string | null> {
    const r = await this.#query<{ value: string }>('SELECT value FROM meta WHERE node_id = $1 AND key = $2', [this.nodeId, key]);
    return r.rows[0]?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#query('INSERT INTO meta (node_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (node_id, key) DO UPDATE SET value = excluded.value', [
      this.nodeId,
      key,
      value,
    ]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#compactTimer);
    await this.#ready.catch(() => undefined);
    await this.pool.end();
  }
}
